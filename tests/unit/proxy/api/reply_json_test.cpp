// Unit tests for POST /v1/cmd JSON: reply rendering (UTF-8 vs base64, escaping, nesting),
// UTF-8 validation, base64, and request-body parsing.
#include "proxy/api/reply_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <climits>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/support/resp_values.h"

namespace cx::proxy {
namespace {

using cx::backends::RespValue;
using testing::array;
using testing::bulk;
using testing::integer;
using testing::status;
using namespace std::string_literals;

std::string render(const RespValue& value) {
  std::string out;
  appendReplyJson(out, value);
  return out;
}

// Parses JSON strictly, so every rendering is also checked to be valid JSON.
boost::json::value parseJson(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  EXPECT_FALSE(ec) << ec.message() << " in " << text;
  return v;
}

// ---- Rendering --------------------------------------------------------------------------

TEST(ReplyJson, ScalarsRenderAsJsonScalars) {
  EXPECT_EQ(render(bulk("hello")), R"("hello")");
  EXPECT_EQ(render(status("OK")), R"("OK")");
  EXPECT_EQ(render(bulk("")), R"("")");
  EXPECT_EQ(render(integer(42)), "42");
  EXPECT_EQ(render(integer(-7)), "-7");
  EXPECT_EQ(render(integer(LLONG_MIN)), "-9223372036854775808");
  EXPECT_EQ(render(integer(LLONG_MAX)), "9223372036854775807");
  EXPECT_EQ(render(RespValue{}), "null");
}

TEST(ReplyJson, ArraysNest) {
  RespValue reply = array({bulk("a"), integer(1), RespValue{}, array({bulk("b"), array({})})});
  EXPECT_EQ(render(reply), R"(["a",1,null,["b",[]]])");
  EXPECT_EQ(render(array({})), "[]");
  parseJson(render(reply));
}

TEST(ReplyJson, UnicodeTextStaysText) {
  const std::string text = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xE2\x80\xA8";
  EXPECT_EQ(render(bulk(text)), "\"" + text + "\"");
  EXPECT_EQ(parseJson(render(bulk(text))).as_string(), text);
}

TEST(ReplyJson, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(render(bulk("a\"b\\c")), R"("a\"b\\c")");
  EXPECT_EQ(render(bulk("l1\nl2\r\t\b\f")), R"("l1\nl2\r\t\b\f")");
  EXPECT_EQ(render(bulk("\x01\x1f"s)), R"("\u0001\u001f")");
  EXPECT_EQ(render(bulk("nul\0byte"s)), R"("nul\u0000byte")");
  EXPECT_EQ(render(bulk("del\x7f")), "\"del\x7f\"");
  EXPECT_EQ(render(bulk("/")), R"("/")");
  std::string all;
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(parseJson(render(bulk(all))).as_string(), all);
}

TEST(ReplyJson, BinaryBecomesBase64Object) {
  EXPECT_EQ(render(bulk("\xff\xfe\x00\x01"s)), R"({"base64":"//4AAQ=="})");
  EXPECT_EQ(render(status("bad\xC0\x80")), R"({"base64":"YmFkwIA="})");
  // Invalid UTF-8 after an escaped prefix does not leave the prefix behind.
  EXPECT_EQ(render(array({bulk("ok"), bulk("\"\n\xff")})), R"(["ok",{"base64":"Igr/"}])");
  const RespValue dump = bulk("\x00\x09hello\xc3\x28world"s);
  const boost::json::value parsed = parseJson(render(dump));
  const std::optional<std::string> decoded = decodeBase64(std::string(parsed.at("base64").as_string()));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, dump.str);
}

TEST(ReplyJson, ErrorsRenderAsErrorObjects) {
  EXPECT_EQ(render(RespValue::makeError("WRONGTYPE Operation against a key")),
            R"({"error":"WRONGTYPE Operation against a key"})");
  EXPECT_EQ(render(array({integer(1), RespValue::makeError("ERR \"x\"\xff")})),
            "[1,{\"error\":\"ERR \\\"x\\\"\xEF\xBF\xBD\"}]");
}

TEST(ReplyJson, AppendsToExistingOutput) {
  std::string out = R"({"result":)";
  appendReplyJson(out, array({bulk("v"), bulk("\xff")}));
  out += "}";
  EXPECT_EQ(out, R"({"result":["v",{"base64":"/w=="}]})");
  parseJson(out);
}

TEST(ReplyJson, AppendJsonStringReplacesInvalidUtf8) {
  std::string out;
  appendJsonString(out,
                   "a\xff"
                   "b\xED\xA0\x80"
                   "c\n");
  EXPECT_EQ(out,
            "\"a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
            "c\\n\"");
  parseJson(out);
}

TEST(ReplyJson, RandomBytesAlwaysGiveValidJsonThatRoundTrips) {
  std::mt19937 random(12345);
  for (int round = 0; round < 500; ++round) {
    std::string bytes(random() % 40, '\0');
    for (char& c : bytes) {
      // Bias towards ASCII and UTF-8 lead/continuation bytes.
      const unsigned pick = random() % 4;
      c = static_cast<char>(pick == 0   ? random() % 0x80
                            : pick == 1 ? 0x80 + random() % 0x40
                            : pick == 2 ? 0xC0 + random() % 0x40
                                        : 0x20 + random() % 0x5F);
    }
    const boost::json::value parsed = parseJson(render(bulk(bytes)));
    if (isValidUtf8(bytes)) {
      ASSERT_TRUE(parsed.is_string());
      EXPECT_EQ(parsed.as_string(), bytes);
    } else {
      ASSERT_TRUE(parsed.is_object());
      EXPECT_EQ(decodeBase64(std::string(parsed.at("base64").as_string())), bytes);
    }
  }
}

// ---- UTF-8 ----------------------------------------------------------------------------

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(isValidUtf8(""));
  EXPECT_TRUE(isValidUtf8("plain ascii that is longer than eight bytes"));
  EXPECT_TRUE(isValidUtf8("nul\0inside"s));
  EXPECT_TRUE(isValidUtf8("\xC2\x80"));          // U+0080
  EXPECT_TRUE(isValidUtf8("\xDF\xBF"));          // U+07FF
  EXPECT_TRUE(isValidUtf8("\xE0\xA0\x80"));      // U+0800
  EXPECT_TRUE(isValidUtf8("\xED\x9F\xBF"));      // U+D7FF
  EXPECT_TRUE(isValidUtf8("\xEE\x80\x80"));      // U+E000
  EXPECT_TRUE(isValidUtf8("\xEF\xBF\xBF"));      // U+FFFF
  EXPECT_TRUE(isValidUtf8("\xF0\x90\x80\x80"));  // U+10000
  EXPECT_TRUE(isValidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_TRUE(
      isValidUtf8("12345678\xE2\x82\xAC"
                  "12345678"));
}

TEST(Utf8, RejectsOverlongForms) {
  EXPECT_FALSE(isValidUtf8("\xC0\x80"));
  EXPECT_FALSE(isValidUtf8("\xC1\xBF"));
  EXPECT_FALSE(isValidUtf8("\xE0\x80\x80"));
  EXPECT_FALSE(isValidUtf8("\xE0\x9F\xBF"));
  EXPECT_FALSE(isValidUtf8("\xF0\x80\x80\x80"));
  EXPECT_FALSE(isValidUtf8("\xF0\x8F\xBF\xBF"));
}

TEST(Utf8, RejectsSurrogatesAndCodePointsAboveTheMaximum) {
  EXPECT_FALSE(isValidUtf8("\xED\xA0\x80"));      // U+D800
  EXPECT_FALSE(isValidUtf8("\xED\xBF\xBF"));      // U+DFFF
  EXPECT_FALSE(isValidUtf8("\xF4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(isValidUtf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(isValidUtf8("\xFF"));
  EXPECT_FALSE(isValidUtf8("\xFE"));
}

TEST(Utf8, RejectsTruncatedAndStrayBytes) {
  EXPECT_FALSE(isValidUtf8("\x80"));
  EXPECT_FALSE(isValidUtf8("a\xBF"));
  EXPECT_FALSE(isValidUtf8("\xC3"));
  EXPECT_FALSE(isValidUtf8("\xE2\x82"));
  EXPECT_FALSE(isValidUtf8("\xF0\x9F\x98"));
  EXPECT_FALSE(isValidUtf8("\xE2\x28\xA1"));
  EXPECT_FALSE(isValidUtf8("abcdefgh\xC3"));
  EXPECT_FALSE(
      isValidUtf8("abcdefghijklmno\x80"
                  "abcdefgh"));
}

// ---- Base64 ---------------------------------------------------------------------------

TEST(Base64, EncodesRfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    std::string out;
    appendBase64(out, plain);
    EXPECT_EQ(out, encoded);
    EXPECT_EQ(decodeBase64(encoded), plain);
  }
}

TEST(Base64, DecodesWithOrWithoutPaddingAndRejectsGarbage) {
  EXPECT_EQ(decodeBase64("Zg"), "f");
  EXPECT_EQ(decodeBase64("Zm8"), "fo");
  EXPECT_EQ(decodeBase64("//4AAQ=="), "\xff\xfe\x00\x01"s);
  EXPECT_EQ(decodeBase64("+/+/"), "\xfb\xff\xbf");
  EXPECT_FALSE(decodeBase64("Z"));
  EXPECT_FALSE(decodeBase64("Zg="));
  EXPECT_FALSE(decodeBase64("Zg==="));
  EXPECT_FALSE(decodeBase64("Z==="));
  EXPECT_FALSE(decodeBase64("Zm 9v"));
  EXPECT_FALSE(decodeBase64("Zm9v\n"));
  EXPECT_FALSE(decodeBase64("_-8A"));
  EXPECT_FALSE(decodeBase64("Zg==Zg=="));
}

// ---- Request bodies ---------------------------------------------------------------------

TEST(CommandBody, ParsesStringsIntegersAndBase64) {
  std::vector<std::string> argv;
  EXPECT_EQ(parseCommandBody(R"(["SET", "user:1", "v", "PX", 1500])", argv), std::nullopt);
  EXPECT_EQ(argv, (std::vector<std::string>{"SET", "user:1", "v", "PX", "1500"}));

  EXPECT_EQ(parseCommandBody(R"(["INCRBY", "n", -5, 18446744073709551615])", argv), std::nullopt);
  EXPECT_EQ(argv, (std::vector<std::string>{"INCRBY", "n", "-5", "18446744073709551615"}));

  EXPECT_EQ(parseCommandBody(R"(["SET", {"base64": "AP8K"}, {"base64": ""}])", argv), std::nullopt);
  EXPECT_EQ(argv, (std::vector<std::string>{"SET", "\x00\xff\n"s, ""}));
}

TEST(CommandBody, JsonEscapesBecomeBytes) {
  std::vector<std::string> argv;
  EXPECT_EQ(parseCommandBody(R"([" HGET", "a\u0000b", "caf\u00e9", "\ud83d\ude00"])", argv), std::nullopt);
  EXPECT_EQ(argv, (std::vector<std::string>{" HGET", "a\0b"s, "caf\xC3\xA9", "\xF0\x9F\x98\x80"}));
}

TEST(CommandBody, CommandArgsOverload) {
  CommandArgs args;
  EXPECT_EQ(parseCommandBody(R"(["PING"])", args), std::nullopt);
  EXPECT_EQ(args.argv, (std::vector<std::string>{"PING"}));
}

TEST(CommandBody, RejectsBodiesThatAreNotANonEmptyArray) {
  std::vector<std::string> argv{"stale"};
  for (const char* body : {"", "   ", "[", "GET", "{\"cmd\": \"GET\"}", "\"GET\"", "[]", "42", "null", "[\"GET\",]",
                           "[\"GET\"] x", "[\"GET\" \"k\"]"}) {
    const std::optional<std::string> error = parseCommandBody(body, argv);
    ASSERT_TRUE(error) << body;
    EXPECT_FALSE(error->empty());
    EXPECT_TRUE(argv.empty()) << body;
  }
}

TEST(CommandBody, RejectsUnsupportedElementsNamingTheElement) {
  std::vector<std::string> argv;
  struct Case {
    const char* body;
    const char* mentions;
  };
  for (const Case& c : {Case{R"(["GET", 1.5])", "element 1"}, Case{R"(["GET", 1e3])", "element 1"},
                        Case{R"(["GET", true])", "element 1"}, Case{R"(["GET", null])", "element 1"},
                        Case{R"([["GET"]])", "element 0"}, Case{R"(["SET", "k", {"hex": "00"}])", "element 2"},
                        Case{R"(["SET", "k", {"base64": "AA==", "x": 1}])", "element 2"},
                        Case{R"(["SET", "k", {"base64": 5}])", "element 2"},
                        Case{R"(["SET", "k", {"base64": "not base64!"}])", "element 2"}}) {
    const std::optional<std::string> error = parseCommandBody(c.body, argv);
    ASSERT_TRUE(error) << c.body;
    EXPECT_NE(error->find(c.mentions), std::string::npos) << *error;
    EXPECT_TRUE(argv.empty());
  }
}

TEST(CommandBody, RejectsInvalidUtf8InJsonStrings) {
  std::vector<std::string> argv;
  EXPECT_TRUE(parseCommandBody("[\"GET\", \"\xff\"]", argv));
}

}  // namespace
}  // namespace cx::proxy
