// What a data request answers with once Redis has spoken (see data_response.h).
#include "proxy/api/data_response.h"

#include "proxy/api/reply_json.h"

namespace cx::proxy {

using backends::BackendError;
using backends::RespType;
using backends::RespValue;

void setReply(Response& res, Op op, const RespValue& reply) {
  if (reply.isError()) {
    setError(res, ErrorCode::RedisError, reply.str);
    return;
  }
  switch (op) {
    case Op::Get:
      if (reply.isNil()) {
        setError(res, ErrorCode::NotFound, "no value is stored under this key");
        return;
      }
      res.result(http::status::ok);
      res.set(http::field::content_type, "application/octet-stream");
      res.body() = reply.str;
      return;
    case Op::Put:
      res.result(http::status::no_content);
      return;
    case Op::Delete:
      if (reply.type == RespType::Integer && reply.integer == 0) {
        setError(res, ErrorCode::NotFound, "no value was stored under this key");
        return;
      }
      res.result(http::status::no_content);
      return;
    case Op::Cmd: {
      res.result(http::status::ok);
      res.set(http::field::content_type, "application/json");
      std::string body = "{\"result\":";
      appendReplyJson(body, reply);
      body.push_back('}');
      res.body() = std::move(body);
      return;
    }
  }
}

ApiError backendCallError(BackendError error, const std::string& name, bool primary, bool isWrite,
                          std::string_view primaryError) {
  auto make = [](ErrorCode code, std::string message) { return ApiError{code, std::move(message), {}, {}}; };
  switch (error) {
    case BackendError::Unavailable:
      if (primary) {
        return make(ErrorCode::PrimaryUnavailable, "the Redis primary '" + name + "' is not reachable (" +
                                                       std::string(primaryError) +
                                                       "); nothing was executed, retry later");
      }
      return make(ErrorCode::NoFreshReplica, "replica '" + name + "' is not reachable; retry later");
    case BackendError::Timeout:
      if (isWrite) {
        return make(ErrorCode::BackendTimeout,
                    "'" + name + "' did not answer in time; the write's outcome is unknown (it may or may "
                    "not have been applied): read it back before retrying");
      }
      return make(ErrorCode::BackendTimeout, "'" + name + "' did not answer in time; the read can be retried");
    case BackendError::ConnectionLost:
    case BackendError::Protocol:
    case BackendError::None:
      break;
  }
  if (isWrite) {
    return make(ErrorCode::BackendError,
                "the connection to '" + name + "' failed after the write was sent; its outcome is unknown: "
                "read it back before retrying");
  }
  return make(ErrorCode::BackendError, "the connection to '" + name + "' failed; the read can be retried");
}

}  // namespace cx::proxy
