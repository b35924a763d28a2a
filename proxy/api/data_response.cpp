// What a data request answers with once Redis has spoken (see data_response.h).
#include "proxy/api/data_response.h"

#include "proxy/api/batch_reply.h"
#include "proxy/api/reply_json.h"
#include "proxy/api/upstash.h"

namespace cx::proxy {

using backends::BackendError;
using backends::RespType;
using backends::RespValue;

namespace {

void setJson(Response& res, std::string body) {
  res.result(http::status::ok);
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
}

}  // namespace

void setReply(Response& res, const DataRequestSpec& spec, const RespValue& reply) {
  if (reply.isError()) {
    if (spec.upstash) return setUpstashError(res, ApiError{ErrorCode::RedisError, reply.str, {}, {}});
    setError(res, ErrorCode::RedisError, reply.str);
    return;
  }
  switch (spec.op) {
    case Op::Get:
      if (reply.isNil()) {
        setError(res, ErrorCode::NotFound, "no value is stored under this key");
        return;
      }
      res.result(http::status::ok);
      res.set(http::field::content_type, "application/octet-stream");
      res.body() = reply.str;
      return;
    case Op::Put: res.result(http::status::no_content); return;
    case Op::Delete:
      if (reply.type == RespType::Integer && reply.integer == 0) {
        setError(res, ErrorCode::NotFound, "no value was stored under this key");
        return;
      }
      res.result(http::status::no_content);
      return;
    case Op::Cmd: {
      std::string body = "{\"result\":";
      appendReplyJson(body, reply);
      body.push_back('}');
      return setJson(res, std::move(body));
    }
    case Op::Upstash: {
      std::string body = "{\"result\":";
      appendUpstashValue(body, reply, spec.base64);
      body.push_back('}');
      return setJson(res, std::move(body));
    }
    case Op::Pipeline:
    case Op::Multi:
    case Op::UpstashPipeline:
    case Op::UpstashMulti: return setBatchReply(res, spec, std::span<const RespValue>(&reply, 1));
  }
}

void setBatchReply(Response& res, const DataRequestSpec& spec, std::span<const RespValue> replies) {
  const ReplyStyle style = !spec.upstash ? ReplyStyle::Native
                           : spec.base64 ? ReplyStyle::UpstashBase64
                                         : ReplyStyle::UpstashPlain;
  BatchAnswer answer = renderBatch(replies, isMulti(spec.op) ? BatchKind::Multi : BatchKind::Pipeline, style);
  if (answer.kind == BatchAnswer::Kind::Ok) return setJson(res, std::move(answer.body));
  const ApiError error{
      answer.kind == BatchAnswer::Kind::TransactionAborted ? ErrorCode::TransactionAborted : ErrorCode::RedisError,
      std::move(answer.message),
      {},
      {}};
  if (spec.upstash) return setUpstashError(res, error);
  setError(res, error);
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
                    "'" + name +
                        "' did not answer in time; the write's outcome is unknown (it may or may "
                        "not have been applied): read it back before retrying");
      }
      return make(ErrorCode::BackendTimeout, "'" + name + "' did not answer in time; the read can be retried");
    case BackendError::ConnectionLost:
    case BackendError::Protocol:
    case BackendError::None: break;
  }
  if (isWrite) {
    return make(ErrorCode::BackendError, "the connection to '" + name +
                                             "' failed after the write was sent; its outcome is unknown: "
                                             "read it back before retrying");
  }
  return make(ErrorCode::BackendError, "the connection to '" + name + "' failed; the read can be retried");
}

}  // namespace cx::proxy
