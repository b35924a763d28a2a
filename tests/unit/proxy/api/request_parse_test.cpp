// Unit tests for data request parsing: key percent-decoding (binary safe), query
// parameters, ttl_ms numbers, the X-Max-Staleness header, and parseDataRequest on whole
// requests (paths, methods, keys, headers, bodies and the errors for bad ones).
#include "proxy/api/request_parse.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "proxy/http/request.h"

namespace cx::proxy {
namespace {

using namespace std::string_literals;
using std::chrono::milliseconds;

// ---------------------------------------------------------------------------------------
// percentDecode

TEST(PercentDecode, PlainKeyIsUnchanged) {
  EXPECT_EQ(percentDecode("user:1"), "user:1");
  EXPECT_EQ(percentDecode(""), "");
}

TEST(PercentDecode, EscapesDecodeInEitherCase) {
  EXPECT_EQ(percentDecode("a%2Fb"), "a/b");
  EXPECT_EQ(percentDecode("a%2fb"), "a/b");
  EXPECT_EQ(percentDecode("%41%42%43"), "ABC");
  EXPECT_EQ(percentDecode("100%25"), "100%");
  EXPECT_EQ(percentDecode("%20lead"), " lead");
}

TEST(PercentDecode, PlusStaysAPlus) {
  // Keys are path segments, not form data.
  EXPECT_EQ(percentDecode("a+b"), "a+b");
}

TEST(PercentDecode, NulAndHighBytesAreKept) {
  auto decoded = percentDecode("a%00b%FF%80");
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, "a\0b\xFF\x80"s);
  EXPECT_EQ(decoded->size(), 5u);
  EXPECT_EQ(percentDecode("%00"), "\0"s);
}

TEST(PercentDecode, BadEscapesAreRejected) {
  EXPECT_EQ(percentDecode("%"), std::nullopt);
  EXPECT_EQ(percentDecode("abc%"), std::nullopt);
  EXPECT_EQ(percentDecode("abc%4"), std::nullopt);
  EXPECT_EQ(percentDecode("%4g"), std::nullopt);
  EXPECT_EQ(percentDecode("%g4"), std::nullopt);
  EXPECT_EQ(percentDecode("%%41"), std::nullopt);
  EXPECT_EQ(percentDecode("% 1"), std::nullopt);
  EXPECT_EQ(percentDecode("%-1"), std::nullopt);
}

TEST(PercentDecode, EscapeAtTheVeryEndIsDecoded) { EXPECT_EQ(percentDecode("key%21"), "key!"); }

// ---------------------------------------------------------------------------------------
// queryParam

TEST(QueryParam, FindsANamedParameter) {
  EXPECT_EQ(queryParam("a=1&ttl_ms=250&b=2", "ttl_ms"), "250");
  EXPECT_EQ(queryParam("ttl_ms=250", "ttl_ms"), "250");
  EXPECT_EQ(queryParam("a=1&b=2", "b"), "2");
}

TEST(QueryParam, AbsentParameterIsNullopt) {
  EXPECT_EQ(queryParam("", "ttl_ms"), std::nullopt);
  EXPECT_EQ(queryParam("a=1&b=2", "ttl_ms"), std::nullopt);
  // Names match exactly, not by prefix or suffix.
  EXPECT_EQ(queryParam("ttl_ms_x=5&xttl_ms=6", "ttl_ms"), std::nullopt);
  EXPECT_EQ(queryParam("ttl=5", "ttl_ms"), std::nullopt);
}

TEST(QueryParam, PresentWithoutAValueIsEmpty) {
  EXPECT_EQ(queryParam("ttl_ms", "ttl_ms"), "");
  EXPECT_EQ(queryParam("ttl_ms=", "ttl_ms"), "");
  EXPECT_EQ(queryParam("a=1&ttl_ms&b=2", "ttl_ms"), "");
}

TEST(QueryParam, FirstOccurrenceWinsAndEmptyPairsAreSkipped) {
  EXPECT_EQ(queryParam("ttl_ms=1&ttl_ms=2", "ttl_ms"), "1");
  EXPECT_EQ(queryParam("&&ttl_ms=3&", "ttl_ms"), "3");
}

TEST(QueryParam, ValueIsReturnedRaw) {
  EXPECT_EQ(queryParam("ttl_ms=1%302", "ttl_ms"), "1%302");
  EXPECT_EQ(queryParam("x=a=b", "x"), "a=b");
}

// ---------------------------------------------------------------------------------------
// parseDecimal

TEST(ParseDecimal, AcceptsPlainDigits) {
  EXPECT_EQ(parseDecimal("1"), 1u);
  EXPECT_EQ(parseDecimal("250"), 250u);
  EXPECT_EQ(parseDecimal("007"), 7u);
}

TEST(ParseDecimal, RejectsSignsSpacesAndOtherText) {
  EXPECT_EQ(parseDecimal(""), std::nullopt);
  EXPECT_EQ(parseDecimal("-1"), std::nullopt);
  EXPECT_EQ(parseDecimal("+1"), std::nullopt);
  EXPECT_EQ(parseDecimal(" 1"), std::nullopt);
  EXPECT_EQ(parseDecimal("1 "), std::nullopt);
  EXPECT_EQ(parseDecimal("1.5"), std::nullopt);
  EXPECT_EQ(parseDecimal("1e3"), std::nullopt);
  EXPECT_EQ(parseDecimal("0x10"), std::nullopt);
  EXPECT_EQ(parseDecimal("12ms"), std::nullopt);
}

TEST(ParseDecimal, LargestUint64IsAccepted) {
  EXPECT_EQ(parseDecimal("9999999999999999999"), 9999999999999999999u);
  EXPECT_EQ(parseDecimal("18446744073709551615"), 18446744073709551615u);
}

TEST(ParseDecimal, OverflowIsRejected) {
  EXPECT_EQ(parseDecimal("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parseDecimal("99999999999999999999"), std::nullopt);
  EXPECT_EQ(parseDecimal(std::string(400, '9')), std::nullopt);
}

// ---------------------------------------------------------------------------------------
// parseStalenessHeader

TEST(ParseStalenessHeader, AcceptsUnitsAndBareMilliseconds) {
  EXPECT_EQ(parseStalenessHeader("250ms"), milliseconds{250});
  EXPECT_EQ(parseStalenessHeader("2s"), milliseconds{2000});
  EXPECT_EQ(parseStalenessHeader("1m"), milliseconds{60'000});
  EXPECT_EQ(parseStalenessHeader("250"), milliseconds{250});
  EXPECT_EQ(parseStalenessHeader("1.5s"), milliseconds{1500});
}

TEST(ParseStalenessHeader, SubMillisecondRoundsUpNeverToZero) {
  EXPECT_EQ(parseStalenessHeader("500us"), milliseconds{1});
  EXPECT_EQ(parseStalenessHeader("0.1ms"), milliseconds{1});
}

TEST(ParseStalenessHeader, SurroundingWhitespaceIsIgnored) {
  EXPECT_EQ(parseStalenessHeader("  250ms\t"), milliseconds{250});
  EXPECT_EQ(parseStalenessHeader("\t100 "), milliseconds{100});
}

TEST(ParseStalenessHeader, MalformedValuesAreRejected) {
  EXPECT_EQ(parseStalenessHeader(""), std::nullopt);
  EXPECT_EQ(parseStalenessHeader("   "), std::nullopt);
  EXPECT_EQ(parseStalenessHeader("-5"), std::nullopt);
  EXPECT_EQ(parseStalenessHeader("ms"), std::nullopt);
  EXPECT_EQ(parseStalenessHeader("250 ms"), std::nullopt);
  EXPECT_EQ(parseStalenessHeader("250days"), std::nullopt);
  EXPECT_EQ(parseStalenessHeader("1.s"), std::nullopt);
  EXPECT_EQ(parseStalenessHeader("99999999999999999999"), std::nullopt);
}

// ---------------------------------------------------------------------------------------
// parseDataRequest: whole requests, as the HTTP parser hands them over

// A Request parsed from raw HTTP/1.1 text (CRLF line endings added).
class RawRequest {
 public:
  explicit RawRequest(std::string_view head, std::string_view body = {}) {
    std::string text;
    for (char c : head) {
      if (c == '\n') text += '\r';
      text += c;
    }
    if (text.find("\r\nHost:") == std::string::npos) text += "Host: localhost\r\n";  // HTTP/1.1 requires it
    if (!body.empty()) text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    text += "\r\n";
    text += body;
    RequestParser parser(request_, 16 * 1024, 1024 * 1024);
    auto header = parser.parseHeader(text);
    EXPECT_EQ(header.status, ParseStatus::Ok);
    if (!parser.done()) {
      EXPECT_EQ(parser.parseBody(std::string_view(text).substr(header.used)).status, ParseStatus::Ok);
    }
  }
  const Request& get() const { return request_; }

 private:
  Request request_;
};

const RequestLimits kLimits{.maxKeyBytes = 16};

DataRequestSpec parsedOk(const RawRequest& raw, const RequestLimits& limits = kLimits) {
  auto parsed = parseDataRequest(raw.get(), limits);
  if (auto* error = std::get_if<ApiError>(&parsed)) {
    ADD_FAILURE() << "refused: " << toString(error->code) << ": " << error->message;
    return {};
  }
  return std::get<DataRequestSpec>(std::move(parsed));
}

ApiError refused(const RawRequest& raw, const RequestLimits& limits = kLimits) {
  auto parsed = parseDataRequest(raw.get(), limits);
  if (auto* error = std::get_if<ApiError>(&parsed)) return *error;
  ADD_FAILURE() << "accepted";
  return {};
}

TEST(ParseDataRequest, GetOfAPercentEncodedKey) {
  const RawRequest specRaw("GET /v1/kv/user%3A1%2Fa HTTP/1.1\nHost: x\n");
  const auto spec = parsedOk(specRaw);
  EXPECT_EQ(spec.op, Op::Get);
  EXPECT_FALSE(spec.isWrite);
  EXPECT_EQ(spec.key, "user:1/a");
  EXPECT_EQ(spec.ttlMs, "");
  EXPECT_EQ(spec.requested, std::nullopt);
  EXPECT_EQ(spec.maxStaleness, std::nullopt);
  EXPECT_EQ(spec.sessionToken, std::nullopt);
}

TEST(ParseDataRequest, PutAndDeleteAreWrites) {
  const RawRequest putRaw("PUT /v1/kv/k?ttl_ms=1500 HTTP/1.1\n", "value");
  const auto put = parsedOk(putRaw);
  EXPECT_EQ(put.op, Op::Put);
  EXPECT_TRUE(put.isWrite);
  EXPECT_EQ(put.ttlMs, "1500");
  const RawRequest delRaw("DELETE /v1/kv/k HTTP/1.1\n");
  const auto del = parsedOk(delRaw);
  EXPECT_EQ(del.op, Op::Delete);
  EXPECT_TRUE(del.isWrite);
}

TEST(ParseDataRequest, ReadsTheThreeHeadersCaseInsensitivelyFirstValueWins) {
  const RawRequest specRaw(
      "GET /v1/kv/k HTTP/1.1\nx-consistency: Bounded\nX-MAX-STALENESS: 250ms\nX-Session-Token: tok1\n"
      "X-Session-Token: tok2\nX-Consistency: strong\n");
  const auto spec = parsedOk(specRaw);
  EXPECT_EQ(spec.requested, routing::Level::Bounded);
  EXPECT_EQ(spec.maxStaleness, std::chrono::milliseconds{250});
  ASSERT_TRUE(spec.sessionToken.has_value());
  EXPECT_EQ(*spec.sessionToken, "tok1");
}

TEST(ParseDataRequest, AnEmptyTokenHeaderIsPresent) {
  const RawRequest specRaw("GET /v1/kv/k HTTP/1.1\nX-Session-Token:\n");
  const auto spec = parsedOk(specRaw);
  ASSERT_TRUE(spec.sessionToken.has_value());
  EXPECT_EQ(*spec.sessionToken, "");
}

TEST(ParseDataRequest, CmdTakesAJsonArrayBody) {
  const RawRequest specRaw("POST /v1/cmd HTTP/1.1\n", R"(["GET", "k", 7])");
  const auto spec = parsedOk(specRaw);
  EXPECT_EQ(spec.op, Op::Cmd);
  EXPECT_EQ(spec.argv, (std::vector<std::string>{"GET", "k", "7"}));
}

TEST(ParseDataRequest, UnknownPathsAndMethodsAreRefused) {
  EXPECT_EQ(refused(RawRequest("GET /v1/other HTTP/1.1\n")).code, ErrorCode::NotFound);
  const auto kvPost = refused(RawRequest("POST /v1/kv/k HTTP/1.1\n"));
  EXPECT_EQ(kvPost.code, ErrorCode::MethodNotAllowed);
  EXPECT_EQ(kvPost.allow, "GET, PUT, DELETE");
  const auto cmdGet = refused(RawRequest("GET /v1/cmd HTTP/1.1\n"));
  EXPECT_EQ(cmdGet.code, ErrorCode::MethodNotAllowed);
  EXPECT_EQ(cmdGet.allow, "POST");
}

TEST(ParseDataRequest, BadKeysAreRefused) {
  EXPECT_EQ(refused(RawRequest("GET /v1/kv/ HTTP/1.1\n")).code, ErrorCode::BadRequest);
  EXPECT_EQ(refused(RawRequest("GET /v1/kv/a%2 HTTP/1.1\n")).code, ErrorCode::BadRequest);
  EXPECT_EQ(refused(RawRequest("GET /v1/kv/a%zz HTTP/1.1\n")).code, ErrorCode::BadRequest);
  const auto tooLong = refused(RawRequest("GET /v1/kv/12345678901234567 HTTP/1.1\n"));
  EXPECT_EQ(tooLong.code, ErrorCode::BadRequest);
  EXPECT_NE(tooLong.message.find("limits.max_key_bytes"), std::string::npos);
  // The limit counts decoded bytes: 16 of them fit.
  EXPECT_EQ(parsedOk(RawRequest("GET /v1/kv/%41234567890123456 HTTP/1.1\n")).key.size(), 16u);
}

TEST(ParseDataRequest, TtlIsAPositiveNumberOnPutOnly) {
  EXPECT_EQ(refused(RawRequest("GET /v1/kv/k?ttl_ms=5 HTTP/1.1\n")).code, ErrorCode::BadRequest);
  EXPECT_EQ(refused(RawRequest("PUT /v1/kv/k?ttl_ms=0 HTTP/1.1\n", "v")).code, ErrorCode::BadRequest);
  EXPECT_EQ(refused(RawRequest("PUT /v1/kv/k?ttl_ms=-1 HTTP/1.1\n", "v")).code, ErrorCode::BadRequest);
  EXPECT_EQ(refused(RawRequest("PUT /v1/kv/k?ttl_ms=1s HTTP/1.1\n", "v")).code, ErrorCode::BadRequest);
  const RawRequest ttlRaw("PUT /v1/kv/k?a=1&ttl_ms=10 HTTP/1.1\n", "v");
  EXPECT_EQ(parsedOk(ttlRaw).ttlMs, "10");
}

TEST(ParseDataRequest, BadConsistencyHeadersAreRefused) {
  EXPECT_EQ(refused(RawRequest("GET /v1/kv/k HTTP/1.1\nX-Consistency: sometimes\n")).code,
            ErrorCode::InvalidConsistency);
  EXPECT_EQ(refused(RawRequest("GET /v1/kv/k HTTP/1.1\nX-Max-Staleness: soon\n")).code, ErrorCode::InvalidConsistency);
  EXPECT_EQ(refused(RawRequest("GET /v1/kv/k HTTP/1.1\nX-Max-Staleness:  \n")).code, ErrorCode::InvalidConsistency);
}

TEST(ParseDataRequest, BadCmdBodiesAreRefused) {
  EXPECT_EQ(refused(RawRequest("POST /v1/cmd HTTP/1.1\n", "GET k")).code, ErrorCode::BadRequest);
  EXPECT_EQ(refused(RawRequest("POST /v1/cmd HTTP/1.1\n", "[]")).code, ErrorCode::BadRequest);
  EXPECT_EQ(refused(RawRequest("POST /v1/cmd HTTP/1.1\n")).code, ErrorCode::BadRequest);
}

TEST(ParseDataRequest, PipelineAndMultiTakeABatch) {
  const auto pipeline = parsedOk(RawRequest("POST /v1/pipeline HTTP/1.1\n", R"([["SET","a",1],["GET","a"]])"));
  EXPECT_EQ(pipeline.op, Op::Pipeline);
  EXPECT_FALSE(pipeline.upstash);
  EXPECT_EQ(pipeline.batch, (std::vector<Argv>{{"SET", "a", "1"}, {"GET", "a"}}));
  EXPECT_EQ(parsedOk(RawRequest("POST /v1/multi HTTP/1.1\n", R"([["GET","a"]])")).op, Op::Multi);
  EXPECT_EQ(refused(RawRequest("GET /v1/pipeline HTTP/1.1\n")).code, ErrorCode::MethodNotAllowed);
  EXPECT_EQ(refused(RawRequest("POST /v1/multi HTTP/1.1\n", R"(["GET","a"])")).code, ErrorCode::BadRequest);
  const RequestLimits two{.maxKeyBytes = 16, .maxBatchCommands = 2};
  const auto tooMany =
      refused(RawRequest("POST /v1/pipeline HTTP/1.1\n", R"([["GET","a"],["GET","b"],["GET","c"]])"), two);
  EXPECT_EQ(tooMany.code, ErrorCode::BodyTooLarge);
  EXPECT_NE(tooMany.message.find("limits.max_batch_commands"), std::string::npos);
}

TEST(ParseDataRequest, OtherPathsAreUpstashsProtocol) {
  EXPECT_TRUE(isUpstashTarget("/"));
  EXPECT_TRUE(isUpstashTarget("/get/k"));
  EXPECT_TRUE(isUpstashTarget("/v1x/get"));
  EXPECT_FALSE(isUpstashTarget("/v1/cmd"));
  EXPECT_FALSE(isUpstashTarget("/v1"));

  const auto command = parsedOk(RawRequest("POST / HTTP/1.1\nUpstash-Encoding: base64\n", R"(["GET","k",true])"));
  EXPECT_EQ(command.op, Op::Upstash);
  EXPECT_TRUE(command.upstash);
  EXPECT_TRUE(command.base64);
  EXPECT_EQ(command.argv, (Argv{"GET", "k", "true"}));
  const auto path = parsedOk(RawRequest("POST /set/k HTTP/1.1\n", "the value"));
  EXPECT_EQ(path.op, Op::Upstash);
  EXPECT_FALSE(path.base64);
  EXPECT_EQ(path.argv, (Argv{"set", "k", "the value"}));
  EXPECT_EQ(parsedOk(RawRequest("POST /pipeline HTTP/1.1\n", R"([["GET","a"]])")).op, Op::UpstashPipeline);
  EXPECT_EQ(parsedOk(RawRequest("POST /multi-exec HTTP/1.1\n", R"([["GET","a"]])")).op, Op::UpstashMulti);
  EXPECT_EQ(refused(RawRequest("POST / HTTP/1.1\n", R"({"a":1})")).code, ErrorCode::BadRequest);
  const ApiError getPipeline = refused(RawRequest("GET /pipeline HTTP/1.1\n"));
  EXPECT_EQ(getPipeline.code, ErrorCode::MethodNotAllowed);
  EXPECT_EQ(getPipeline.allow, "POST");
  EXPECT_EQ(refused(RawRequest("PUT /set/k HTTP/1.1\n", "v")).allow, "GET, POST");
}

TEST(ParseDataRequest, UpstashHeaders) {
  // Named: the spec's views point into the request.
  const RawRequest raw(
      "POST / HTTP/1.1\nupstash-sync-token: tok\nAuthorization: bearer  s3cret \nupstash-encoding: BASE64\n",
      R"(["GET","k"])");
  const auto spec = parsedOk(raw);
  EXPECT_EQ(spec.syncToken, std::optional<std::string_view>("tok"));
  EXPECT_EQ(spec.sessionToken, std::nullopt);  // the sync token is checked leniently (data_request.cpp)
  EXPECT_EQ(spec.bearerToken, std::optional<std::string_view>("s3cret"));
  EXPECT_TRUE(spec.base64);
  const RawRequest emptyRaw("POST / HTTP/1.1\nupstash-sync-token:\n", R"(["GET","k"])");
  const auto empty = parsedOk(emptyRaw);
  EXPECT_EQ(empty.syncToken, std::optional<std::string_view>(""));
}

}  // namespace
}  // namespace cx::proxy
