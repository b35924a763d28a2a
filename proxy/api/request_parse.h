// Parsing a data request (README "HTTP API") into a value: the operation, the key, the
// ttl, the client's consistency headers and session token, or the ApiError to answer
// with. Pure functions of the request and the limits: no worker, socket or Redis.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "backends/command_table.h"
#include "proxy/api/batch.h"
#include "proxy/http/errors.h"
#include "proxy/http/request.h"
#include "routing/level.h"

namespace cx::proxy {

// Cmd is POST /v1/cmd; Pipeline and Multi are /v1/pipeline and /v1/multi; the Upstash
// ops are Upstash's protocol: one command (POST / or path-style), /pipeline, /multi-exec.
enum class Op : std::uint8_t { Get, Put, Delete, Cmd, Pipeline, Multi, Upstash, UpstashPipeline, UpstashMulti };
// Metric labels: "get", "put", "delete", "cmd", "pipeline", "multi", "upstash",
// "upstash_pipeline", "upstash_multi".
std::string_view toString(Op op);
constexpr bool isBatch(Op op) {
  return op == Op::Pipeline || op == Op::Multi || op == Op::UpstashPipeline || op == Op::UpstashMulti;
}
constexpr bool isMulti(Op op) { return op == Op::Multi || op == Op::UpstashMulti; }
// One command given as an argument array (its own JSON or Upstash's path).
constexpr bool isCommand(Op op) { return op == Op::Cmd || op == Op::Upstash; }

struct RequestLimits {
  std::size_t maxKeyBytes = 1024;       // limits.max_key_bytes
  std::size_t maxBatchCommands = 1000;  // limits.max_batch_commands
};

// A data request as a value. Views point into the Request, which outlives it.
struct DataRequestSpec {
  Op op = Op::Get;
  bool isWrite = false;           // PUT and DELETE; for commands and batches decided by checkCommand()
  std::string key;                // decoded; for commands the first key, if any (batches: of the first command)
  std::string_view ttlMs;         // PUT ?ttl_ms=, validated; empty without one
  std::vector<std::string> argv;  // isCommand(): the command and its arguments
  std::string commandName;        // isCommand(): argv[0] in upper case (checkCommand())
  std::vector<Argv> batch;        // isBatch(): the commands, in order
  // A cursor (SCAN, HSCAN, SSCAN, ZSCAN) is valid only on the node that issued it: a read
  // with one is served by the primary (checkCommand()).
  bool needsPrimary = false;
  bool upstash = false;  // Upstash's protocol: its error shape, sync token and replies
  bool base64 = false;   // Upstash-Encoding: base64
  // upstash-sync-token as sent: a session token, but one that does not verify is ignored
  // (Upstash clients let users set any string), and an empty one is none.
  std::optional<std::string_view> syncToken;
  // Authorization: Bearer <secret>, as sent. Not checked yet: the auth feature (README
  // "Security") checks it right after parsing, on both protocols.
  std::optional<std::string_view> bearerToken;
  std::optional<routing::Level> requested;                // X-Consistency
  std::optional<std::chrono::milliseconds> maxStaleness;  // X-Max-Staleness
  std::optional<std::string_view> sessionToken;           // X-Session-Token, as sent
};

using ParsedRequest = std::variant<DataRequestSpec, ApiError>;

// Path and method (/v1/kv/{key} with GET, PUT or DELETE; /v1/cmd, /v1/pipeline and
// /v1/multi with POST; any other path is Upstash's protocol, see upstash.h), the key
// (percent-decoded, 1..maxKeyBytes bytes), ?ttl_ms= (PUT only), the JSON body (a batch:
// 1..maxBatchCommands commands, 413 beyond), and the X-Consistency, X-Max-Staleness,
// X-Session-Token, upstash-sync-token, Upstash-Encoding and Authorization headers (first
// value of each; tokens are only found here, their checks are session_check.h's).
ParsedRequest parseDataRequest(const Request& request, const RequestLimits& limits);

// True when `target` is for Upstash's protocol (not under /v1/), so that errors, even
// parse errors, take Upstash's shape.
bool isUpstashTarget(std::string_view target);

// Checks a command (isCommand()) against the command policy; on success fills in
// isWrite, commandName, key and needsPrimary. nullopt when allowed.
std::optional<ApiError> checkCommand(DataRequestSpec& spec, const backends::CommandPolicy& policy);

// Checks a batch (isBatch()) the same way, every command (one refused refuses the whole
// batch: nothing is sent); on success fills in isWrite (a write, or any transaction:
// MULTI runs on the primary), key and needsPrimary, and returns the plan, whose views
// point into spec.batch.
std::variant<BatchPlan, ApiError> checkBatch(DataRequestSpec& spec, const backends::CommandPolicy& policy);

// Percent-decodes `in` (no '+' → space: keys are path segments). nullopt on a bad escape.
std::optional<std::string> percentDecode(std::string_view in);

// The raw value of `name` in a query string "a=1&b=2"; nullopt when absent.
std::optional<std::string_view> queryParam(std::string_view query, std::string_view name);

// Positive decimal integer, no sign, no spaces; nullopt when malformed or overflowing.
std::optional<std::uint64_t> parseDecimal(std::string_view text);

// "250ms", "2s", "1m", or a bare number of milliseconds, surrounding blanks ignored.
std::optional<std::chrono::milliseconds> parseStalenessHeader(std::string_view text);

}  // namespace cx::proxy
