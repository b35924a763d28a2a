// The error catalogue: every error either listener answers with, its HTTP status,
// whether it carries Retry-After, and its default message, in one table (errors.cpp).
// Handlers say which error; only this file says how it is spelled on the wire:
// {"error":"<code>","message":"..."} as application/json.
#pragma once

#include <boost/beast/http/status.hpp>

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "proxy/http/response.h"

namespace cx::proxy {

enum class ErrorCode : std::uint8_t {
  BadRequest,
  InvalidConsistency,
  InvalidSessionToken,
  RedisError,
  CommandNotAllowed,
  NotFound,
  MethodNotAllowed,
  SessionHistoryLost,
  BodyTooLarge,
  HeaderTooLarge,
  InternalError,
  BackendError,
  PrimaryUnavailable,
  NoFreshReplica,
  TooManyConnections,
  NotReady,
  Draining,
  BackendTimeout,
  QuorumNotReached,
  Unauthorized,   // 401: no valid bearer token (README "Security")
  ReadOnlyToken,  // 403: a read-only token's write
  TransactionAborted,
};

struct ErrorSpec {
  std::string_view code;  // the body's "error" member
  boost::beast::http::status status;
  bool retryAfter;           // answered with "Retry-After: 1"
  std::string_view message;  // when the handler gives none
};

const ErrorSpec& errorSpec(ErrorCode code);
inline std::string_view toString(ErrorCode code) { return errorSpec(code).code; }

// An error as a value: what parsing and the data path return instead of throwing.
struct ApiError {
  ErrorCode code = ErrorCode::InternalError;
  std::string message;     // empty: the catalogue's default
  std::string extra;       // JSON members appended inside the body, e.g. ",\"acked\":0"
  std::string_view allow;  // for method_not_allowed: the Allow header's value
};

// The JSON body of an error: {"error":"<code>","message":"<message>"<extra>}, the message
// JSON-escaped (the catalogue's default when empty), `extra` appended verbatim.
std::string errorBody(ErrorCode code, std::string_view message = {}, std::string_view extra = {});

// Makes `res` the answer for an error: status, Content-Type, Retry-After and Allow as the
// catalogue says, and the body. Header fields set earlier (X-Consistency-Rule, ...) stay.
void setError(Response& res, const ApiError& error);
void setError(Response& res, ErrorCode code, std::string_view message = {}, std::string_view extra = {});

// The same error in the shape of Upstash's REST protocol (README "Using existing
// clients"): the catalogue's status and headers, the body {"error":"<code>: <message>"},
// or for redis_error Redis's own message as Upstash sends it ({"error":"ERR ..."}).
void setUpstashError(Response& res, const ApiError& error);

// The one catch-all: an exception that escaped a handler is a bug (errors are values),
// so it is logged (event handler_exception) and, when `res` is given, the response is
// replaced by a 500 internal_error, so the client does not wait forever.
void answerException(std::string_view listener, std::exception_ptr error, Response* res);

}  // namespace cx::proxy
