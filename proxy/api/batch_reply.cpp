// Batch answers (see batch_reply.h).
#include "proxy/api/batch_reply.h"

#include "proxy/api/reply_json.h"
#include "proxy/api/upstash.h"

namespace cx::proxy {

namespace {

using backends::RespType;
using backends::RespValue;

void appendItem(std::string& out, const RespValue& reply, ReplyStyle style) {
  if (style != ReplyStyle::Native) return appendUpstashItem(out, reply, style == ReplyStyle::UpstashBase64);
  if (reply.isError()) {
    out += "{\"error\":";
    appendJsonString(out, reply.str);
    out.push_back('}');
    return;
  }
  out += "{\"result\":";
  appendReplyJson(out, reply);
  out.push_back('}');
}

std::string items(std::span<const RespValue> replies, ReplyStyle style) {
  std::string out = "[";
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (i != 0) out.push_back(',');
    appendItem(out, replies[i], style);
  }
  out.push_back(']');
  return out;
}

}  // namespace

BatchAnswer renderBatch(std::span<const RespValue> replies, BatchKind kind, ReplyStyle style) {
  BatchAnswer answer;
  if (kind == BatchKind::Pipeline) {
    answer.body = items(replies, style);
    return answer;
  }
  if (replies.size() < 2) {
    answer.kind = BatchAnswer::Kind::RedisError;
    answer.message = "ERR the transaction's replies are missing";
    return answer;
  }
  const RespValue& multi = replies.front();
  const RespValue& exec = replies.back();
  const auto queued = replies.subspan(1, replies.size() - 2);
  if (multi.isError()) {
    answer.kind = BatchAnswer::Kind::RedisError;
    answer.message = multi.str;
    return answer;
  }
  if (exec.type == RespType::Array) {
    answer.body = items(exec.elements, style);
    return answer;
  }
  if (exec.isNil()) {
    answer.kind = BatchAnswer::Kind::TransactionAborted;
    answer.message = "the transaction was aborted (EXEC answered nil); nothing was applied";
    return answer;
  }
  if (exec.isError() && exec.str.rfind("EXECABORT", 0) == 0) {
    answer.kind = BatchAnswer::Kind::TransactionAborted;
    answer.message = exec.str;
    // Which command Redis refused while queueing, and why.
    for (std::size_t i = 0; i < queued.size(); ++i) {
      if (!queued[i].isError()) continue;
      answer.message += " Command " + std::to_string(i + 1) + " was refused: " + queued[i].str;
      break;
    }
    answer.message += " Nothing was applied.";
    return answer;
  }
  answer.kind = BatchAnswer::Kind::RedisError;
  answer.message = exec.isError() ? exec.str : "ERR EXEC answered neither results nor an error";
  return answer;
}

}  // namespace cx::proxy
