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
#include "proxy/http/errors.h"
#include "proxy/http/request.h"
#include "routing/level.h"

namespace cx::proxy {

enum class Op : std::uint8_t { Get, Put, Delete, Cmd };
std::string_view toString(Op op);  // "get", "put", "delete", "cmd": metric labels

struct RequestLimits {
  std::size_t maxKeyBytes = 1024;  // limits.max_key_bytes
};

// A data request as a value. Views point into the Request, which outlives it.
struct DataRequestSpec {
  Op op = Op::Get;
  bool isWrite = false;  // PUT and DELETE; for /v1/cmd decided by checkCommand()
  std::string key;       // decoded; for /v1/cmd the command's first key, if any
  std::string_view ttlMs;  // PUT ?ttl_ms=, validated; empty without one
  std::vector<std::string> argv;  // /v1/cmd: the command and its arguments
  std::string commandName;        // /v1/cmd: argv[0] in upper case (checkCommand())
  std::optional<routing::Level> requested;  // X-Consistency
  std::optional<std::chrono::milliseconds> maxStaleness;  // X-Max-Staleness
  std::optional<std::string_view> sessionToken;  // X-Session-Token, as sent
};

using ParsedRequest = std::variant<DataRequestSpec, ApiError>;

// Path and method (/v1/kv/{key} with GET, PUT or DELETE; /v1/cmd with POST), the key
// (percent-decoded, 1..maxKeyBytes bytes), ?ttl_ms= (PUT only), the /v1/cmd body, and
// the X-Consistency, X-Max-Staleness and X-Session-Token headers (first value of each;
// the token is only found here, its checks are session_check.h's).
ParsedRequest parseDataRequest(const Request& request, const RequestLimits& limits);

// Checks a /v1/cmd request against the command policy; on success fills in isWrite,
// commandName and key. nullopt when allowed.
std::optional<ApiError> checkCommand(DataRequestSpec& spec, const backends::CommandPolicy& policy);

// Percent-decodes `in` (no '+' → space: keys are path segments). nullopt on a bad escape.
std::optional<std::string> percentDecode(std::string_view in);

// The raw value of `name` in a query string "a=1&b=2"; nullopt when absent.
std::optional<std::string_view> queryParam(std::string_view query, std::string_view name);

// Positive decimal integer, no sign, no spaces; nullopt when malformed or overflowing.
std::optional<std::uint64_t> parseDecimal(std::string_view text);

// "250ms", "2s", "1m", or a bare number of milliseconds, surrounding blanks ignored.
std::optional<std::chrono::milliseconds> parseStalenessHeader(std::string_view text);

}  // namespace cx::proxy
