// Upstash's REST protocol (README "Using existing clients"), as @upstash/redis speaks it:
// which endpoint a request is for, the commands of path-style requests, and replies in
// Upstash's JSON, plain or with `Upstash-Encoding: base64`. Pure functions: the request
// state machine (data_request.h) does the serving.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "backends/resp.h"
#include "proxy/api/batch.h"

namespace cx::proxy {

enum class UpstashEndpoint : std::uint8_t {
  Command,    // POST / with ["GET", "key"], or a path-style command
  Pipeline,   // POST /pipeline with [[...], [...]]
  MultiExec,  // POST /multi-exec with [[...], [...]]
};

struct UpstashTarget {
  UpstashEndpoint endpoint = UpstashEndpoint::Command;
  // A path-style command (/set/foo/bar, /get/foo): its argv, already complete. Empty for
  // the endpoints whose command is in the JSON body.
  Argv pathCommand;
};

// The endpoint of `target` (path and query) for `method` ("GET", "POST", ...), or what
// is wrong with it. Path-style: each segment percent-decoded is one argument; with POST
// a non-empty body is one more, the last (so a value can be any bytes); query
// parameters other than `_token` are appended as NAME VALUE (`/set/k/v?EX=10`).
std::variant<UpstashTarget, BodyError> parseUpstashTarget(std::string_view method, std::string_view target,
                                                          std::string_view body);

// Appends a reply in Upstash's shape: with `base64`, every string (bulk or status) is the
// base64 of its bytes; without, the text (invalid UTF-8 replaced by U+FFFD). Integers are
// numbers, nil is null, arrays nest; an error nested in an array is {"error": "..."}.
void appendUpstashValue(std::string& out, const backends::RespValue& reply, bool base64);

// One command's outcome: {"result": ...}, or {"error": "ERR ..."} for an error reply.
void appendUpstashItem(std::string& out, const backends::RespValue& reply, bool base64);

}  // namespace cx::proxy
