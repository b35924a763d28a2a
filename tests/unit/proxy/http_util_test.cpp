// Unit tests for the HTTP helpers: key percent-decoding (binary safe), query parameters,
// ttl_ms numbers, the X-Max-Staleness header and JSON error bodies.
#include "proxy/http_util.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

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

TEST(PercentDecode, EscapeAtTheVeryEndIsDecoded) {
  EXPECT_EQ(percentDecode("key%21"), "key!");
}

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
// jsonError

TEST(JsonError, BuildsTheContractShape) {
  EXPECT_EQ(jsonError("not_found", "no value is stored under this key"),
            R"({"error":"not_found","message":"no value is stored under this key"})");
}

TEST(JsonError, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(jsonError("redis_error", "ERR \"x\" at C:\\tmp\nline2\t\x01"s),
            R"({"error":"redis_error","message":"ERR \"x\" at C:\\tmp\nline2\t\u0001"})");
  EXPECT_EQ(jsonError("bad_request", "nul \0 inside"s),
            R"({"error":"bad_request","message":"nul \u0000 inside"})");
}

TEST(JsonError, KeepsUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(jsonError("bad_request", "caf\xC3\xA9"), "{\"error\":\"bad_request\",\"message\":\"caf\xC3\xA9\"}");
  EXPECT_EQ(jsonError("bad_request", "key \xFF!"),
            "{\"error\":\"bad_request\",\"message\":\"key \xEF\xBF\xBD!\"}");
}

TEST(JsonError, ExtraFieldsAreAppendedInsideTheObject) {
  EXPECT_EQ(jsonError("quorum_not_reached", "1 of 2", ",\"acked\":1"),
            R"({"error":"quorum_not_reached","message":"1 of 2","acked":1})");
}

}  // namespace
}  // namespace cx::proxy
