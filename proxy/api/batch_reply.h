// The JSON answer of a batch (README "Batches and transactions") from Redis's replies:
// native /v1/pipeline and /v1/multi, and Upstash's /pipeline and /multi-exec, every
// command's outcome in its place. Pure: the handler turns a refusal into its error.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "backends/resp.h"
#include "proxy/api/batch.h"

namespace cx::proxy {

// How replies are spelled: native JSON (README "HTTP API": text, or {"base64": ...} for
// bytes that are not UTF-8), or Upstash's, plain or base64 (upstash.h).
enum class ReplyStyle : std::uint8_t { Native, UpstashPlain, UpstashBase64 };

struct BatchAnswer {
  enum class Kind : std::uint8_t {
    Ok,                  // body: [{"result": ...}, {"error": "..."}, ...]
    TransactionAborted,  // EXEC ran nothing (EXECABORT, or nil): message says why
    RedisError,          // MULTI or EXEC itself failed: message is Redis's error
  } kind = Kind::Ok;
  std::string body;
  std::string message;
};

// `replies`: for Pipeline one per command; for Multi MULTI's, one per queued command,
// then EXEC's (commands + 2).
BatchAnswer renderBatch(std::span<const backends::RespValue> replies, BatchKind kind, ReplyStyle style);

}  // namespace cx::proxy
