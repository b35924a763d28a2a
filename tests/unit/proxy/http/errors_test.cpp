// Unit tests for the error catalogue: each code's status, Retry-After and default
// message, the one JSON error body writer, setError on a Response, and the catch-all.
#include "proxy/http/errors.h"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>

namespace cx::proxy {
namespace {

using namespace std::string_literals;
using boost::beast::http::status;

constexpr ErrorCode kLast = ErrorCode::ReadOnlyToken;

TEST(ErrorCatalogue, EachCodeHasItsStatus) {
  EXPECT_EQ(errorSpec(ErrorCode::BadRequest).status, status::bad_request);
  EXPECT_EQ(errorSpec(ErrorCode::InvalidConsistency).status, status::bad_request);
  EXPECT_EQ(errorSpec(ErrorCode::InvalidSessionToken).status, status::bad_request);
  EXPECT_EQ(errorSpec(ErrorCode::RedisError).status, status::bad_request);
  EXPECT_EQ(errorSpec(ErrorCode::CommandNotAllowed).status, status::forbidden);
  EXPECT_EQ(errorSpec(ErrorCode::NotFound).status, status::not_found);
  EXPECT_EQ(errorSpec(ErrorCode::MethodNotAllowed).status, status::method_not_allowed);
  EXPECT_EQ(errorSpec(ErrorCode::SessionHistoryLost).status, status::conflict);
  EXPECT_EQ(errorSpec(ErrorCode::BodyTooLarge).status, status::payload_too_large);
  EXPECT_EQ(errorSpec(ErrorCode::HeaderTooLarge).status, status::request_header_fields_too_large);
  EXPECT_EQ(errorSpec(ErrorCode::InternalError).status, status::internal_server_error);
  EXPECT_EQ(errorSpec(ErrorCode::BackendError).status, status::bad_gateway);
  EXPECT_EQ(errorSpec(ErrorCode::PrimaryUnavailable).status, status::service_unavailable);
  EXPECT_EQ(errorSpec(ErrorCode::NoFreshReplica).status, status::service_unavailable);
  EXPECT_EQ(errorSpec(ErrorCode::TooManyConnections).status, status::service_unavailable);
  EXPECT_EQ(errorSpec(ErrorCode::NotReady).status, status::service_unavailable);
  EXPECT_EQ(errorSpec(ErrorCode::Draining).status, status::service_unavailable);
  EXPECT_EQ(errorSpec(ErrorCode::BackendTimeout).status, status::gateway_timeout);
  EXPECT_EQ(errorSpec(ErrorCode::QuorumNotReached).status, status::gateway_timeout);
  EXPECT_EQ(errorSpec(ErrorCode::Unauthorized).status, status::unauthorized);
  EXPECT_EQ(errorSpec(ErrorCode::ReadOnlyToken).status, status::forbidden);
}

TEST(ErrorCatalogue, CodesAreUniqueSnakeCaseWithADefaultMessage) {
  std::set<std::string_view> seen;
  for (int i = 0; i <= static_cast<int>(kLast); ++i) {
    const ErrorSpec& spec = errorSpec(static_cast<ErrorCode>(i));
    EXPECT_TRUE(seen.insert(spec.code).second) << spec.code;
    EXPECT_FALSE(spec.message.empty()) << spec.code;
    for (char c : spec.code) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << spec.code;
  }
  EXPECT_EQ(toString(ErrorCode::NoFreshReplica), "no_fresh_replica");
  EXPECT_EQ(toString(ErrorCode::SessionHistoryLost), "session_history_lost");
}

TEST(ErrorCatalogue, RetryAfterOnTheRetryableUnavailableErrors) {
  for (int i = 0; i <= static_cast<int>(kLast); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    const bool expected = code == ErrorCode::PrimaryUnavailable || code == ErrorCode::NoFreshReplica ||
                          code == ErrorCode::TooManyConnections;
    EXPECT_EQ(errorSpec(code).retryAfter, expected) << toString(code);
  }
}

TEST(ErrorBody, BuildsTheContractShape) {
  EXPECT_EQ(errorBody(ErrorCode::NotFound, "no value is stored under this key"),
            R"({"error":"not_found","message":"no value is stored under this key"})");
}

TEST(ErrorBody, WithoutAMessageTheCataloguesDefault) {
  EXPECT_EQ(errorBody(ErrorCode::InternalError),
            R"({"error":"internal_error","message":"the request failed unexpectedly"})");
}

TEST(ErrorBody, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(errorBody(ErrorCode::RedisError, "ERR \"x\" at C:\\tmp\nline2\t\x01"s),
            R"({"error":"redis_error","message":"ERR \"x\" at C:\\tmp\nline2\t\u0001"})");
  EXPECT_EQ(errorBody(ErrorCode::BadRequest, "nul \0 inside"s),
            R"({"error":"bad_request","message":"nul \u0000 inside"})");
}

TEST(ErrorBody, KeepsUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(errorBody(ErrorCode::BadRequest, "caf\xC3\xA9"), "{\"error\":\"bad_request\",\"message\":\"caf\xC3\xA9\"}");
  EXPECT_EQ(errorBody(ErrorCode::BadRequest, "key \xFF!"),
            "{\"error\":\"bad_request\",\"message\":\"key \xEF\xBF\xBD!\"}");
}

TEST(ErrorBody, ExtraFieldsAreAppendedInsideTheObject) {
  EXPECT_EQ(errorBody(ErrorCode::QuorumNotReached, "1 of 2", ",\"acked\":1"),
            R"({"error":"quorum_not_reached","message":"1 of 2","acked":1})");
}

TEST(SetError, SetsStatusContentTypeRetryAfterAndBodyKeepingEarlierFields) {
  Response res;
  res.set("X-Consistency-Rule", "default");
  setError(res, ErrorCode::NoFreshReplica, "retry later");
  EXPECT_EQ(res.result(), status::service_unavailable);
  EXPECT_EQ(res["Content-Type"], "application/json");
  EXPECT_EQ(res["Retry-After"], "1");
  EXPECT_EQ(res["X-Consistency-Rule"], "default");
  EXPECT_EQ(res.body(), R"({"error":"no_fresh_replica","message":"retry later"})");

  Response notFound;
  setError(notFound, ErrorCode::NotFound);
  EXPECT_EQ(notFound.result_int(), 404u);
  EXPECT_FALSE(notFound.has("Retry-After"));
}

TEST(SetError, MethodNotAllowedCarriesAllow) {
  Response res;
  setError(res, ApiError{ErrorCode::MethodNotAllowed, "/v1/cmd takes POST", {}, "POST"});
  EXPECT_EQ(res.result(), status::method_not_allowed);
  EXPECT_EQ(res["Allow"], "POST");
}

TEST(AnswerException, ReplacesTheResponseWithA500) {
  Response res;
  res.result(status::ok);
  res.set("X-Served-By", "primary");
  res.body() = "half a value";
  answerException("data", std::make_exception_ptr(std::runtime_error("boom")), &res);
  EXPECT_EQ(res.result(), status::internal_server_error);
  EXPECT_FALSE(res.has("X-Served-By"));
  EXPECT_EQ(res.body(), R"({"error":"internal_error","message":"the request failed unexpectedly"})");
  // Without a response (the request was handed on already) it only logs.
  answerException("data", std::make_exception_ptr(42), nullptr);
}

}  // namespace
}  // namespace cx::proxy
