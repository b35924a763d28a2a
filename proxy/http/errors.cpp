// The error catalogue's table and the one writer of JSON error bodies (see errors.h).
#include "proxy/http/errors.h"

#include <array>

#include "proxy/app/log.h"
#include "proxy/http/json.h"

namespace cx::proxy {

namespace {

using boost::beast::http::status;

// In ErrorCode's order (checked below).
constexpr std::array kCatalogue = {
    ErrorSpec{"bad_request", status::bad_request, false, "the request is malformed"},
    ErrorSpec{"invalid_consistency", status::bad_request, false,
              "X-Consistency or X-Max-Staleness has a value that is not understood"},
    ErrorSpec{"invalid_session_token", status::bad_request, false, "the session token was refused"},
    ErrorSpec{"redis_error", status::bad_request, false, "Redis refused the command"},
    ErrorSpec{"command_not_allowed", status::forbidden, false, "this command is not allowed through cxproxy"},
    ErrorSpec{"not_found", status::not_found, false, "not found"},
    ErrorSpec{"method_not_allowed", status::method_not_allowed, false, "this method is not allowed here"},
    ErrorSpec{"session_history_lost", status::conflict, false,
              "the session token belongs to a replication history that was lost"},
    ErrorSpec{"body_too_large", status::payload_too_large, false, "the body is too large"},
    ErrorSpec{"header_too_large", status::request_header_fields_too_large, false, "the request header is too large"},
    ErrorSpec{"internal_error", status::internal_server_error, false, "the request failed unexpectedly"},
    ErrorSpec{"backend_error", status::bad_gateway, false, "the connection to Redis failed"},
    ErrorSpec{"primary_unavailable", status::service_unavailable, true, "the Redis primary is not reachable"},
    ErrorSpec{"no_fresh_replica", status::service_unavailable, true, "no replica can serve this read right now"},
    ErrorSpec{"too_many_connections", status::service_unavailable, true,
              "the connection limit (limits.max_connections) is reached; retry later"},
    ErrorSpec{"not_ready", status::service_unavailable, false, "cxproxy is not ready yet"},
    ErrorSpec{"draining", status::service_unavailable, false, "cxproxy is shutting down"},
    ErrorSpec{"backend_timeout", status::gateway_timeout, false, "Redis did not answer in time"},
    ErrorSpec{"quorum_not_reached", status::gateway_timeout, false, "too few replicas acknowledged the write in time"},
    ErrorSpec{"unauthorized", status::unauthorized, false, "a valid bearer token is required"},
    ErrorSpec{"read_only_token", status::forbidden, false, "this token is read-only and the request writes"},
    ErrorSpec{"transaction_aborted", status::conflict, false, "the transaction was aborted; nothing was applied"},
};
static_assert(kCatalogue.size() == static_cast<std::size_t>(ErrorCode::TransactionAborted) + 1,
              "one catalogue entry per ErrorCode");

}  // namespace

const ErrorSpec& errorSpec(ErrorCode code) { return kCatalogue[static_cast<std::size_t>(code)]; }

std::string errorBody(ErrorCode code, std::string_view message, std::string_view extra) {
  const ErrorSpec& spec = errorSpec(code);
  std::string out = "{\"error\":";
  appendJsonString(out, spec.code);
  out.append(",\"message\":");
  appendJsonString(out, message.empty() ? spec.message : message);
  out.append(extra);
  out.push_back('}');
  return out;
}

void setError(Response& res, ErrorCode code, std::string_view message, std::string_view extra) {
  const ErrorSpec& spec = errorSpec(code);
  res.result(spec.status);
  res.set(boost::beast::http::field::content_type, "application/json");
  if (spec.retryAfter) res.set(boost::beast::http::field::retry_after, "1");
  res.body() = errorBody(code, message, extra);
}

void setError(Response& res, const ApiError& error) {
  if (!error.allow.empty()) res.set(boost::beast::http::field::allow, error.allow);
  setError(res, error.code, error.message, error.extra);
}

void setUpstashError(Response& res, const ApiError& error) {
  const ErrorSpec& spec = errorSpec(error.code);
  res.result(spec.status);
  res.set(boost::beast::http::field::content_type, "application/json");
  if (spec.retryAfter) res.set(boost::beast::http::field::retry_after, "1");
  if (!error.allow.empty()) res.set(boost::beast::http::field::allow, error.allow);
  const std::string_view message = error.message.empty() ? spec.message : std::string_view(error.message);
  std::string text;
  if (error.code != ErrorCode::RedisError) {
    text.append(spec.code);
    text.append(": ");
  }
  text.append(message);
  std::string body = "{\"error\":";
  appendJsonString(body, text);
  body.push_back('}');
  res.body() = std::move(body);
}

void answerException(std::string_view listener, std::exception_ptr error, Response* res) {
  std::string what = "not a std::exception";
  try {
    if (error) std::rethrow_exception(error);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  log(LogLevel::Error, "handler_exception", {{"listener", listener}, {"error", what}});
  if (!res) return;
  res->clear();
  setError(*res, ErrorCode::InternalError);
}

}  // namespace cx::proxy
