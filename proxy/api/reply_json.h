// JSON for POST /v1/cmd (README "HTTP API"): the request body ["CMD", "arg", ...] in, the Redis
// reply out as the value of {"result": ...}. Both directions are binary safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/resp.h"
#include "proxy/http/json.h"  // appendJsonString, isValidUtf8

namespace cx::proxy {

// Appends value as JSON:
//   Bulk, Status  -> "text" when the bytes are valid UTF-8, else {"base64":"..."}
//                    (standard alphabet, padded)
//   Integer       -> number
//   Nil           -> null
//   Array         -> [...] (nested)
//   Error         -> {"error":"ERR message"} (invalid UTF-8 replaced by U+FFFD); the
//                    handler decides what a top-level error means, this only renders it
// Never fails; writes nothing but JSON to out.
void appendReplyJson(std::string& out, const cx::backends::RespValue& value);

// Standard base64 with '=' padding.
void appendBase64(std::string& out, std::string_view bytes);
// Decodes standard base64; padding optional, no whitespace. nullopt when malformed.
std::optional<std::string> decodeBase64(std::string_view text);

struct CommandArgs {
  std::vector<std::string> argv;
};

// Parses a POST /v1/cmd body into argv (replacing its contents). The body must be a
// non-empty JSON array whose elements are strings (used as UTF-8 bytes), integers
// (converted to decimal text) or {"base64":"..."} objects for binary arguments.
// Returns nullopt on success, else a message for a 400 bad_request body. Never throws
// except std::bad_alloc.
std::optional<std::string> parseCommandBody(std::string_view body, std::vector<std::string>& argv);
inline std::optional<std::string> parseCommandBody(std::string_view body, CommandArgs& args) {
  return parseCommandBody(body, args.argv);
}

}  // namespace cx::proxy
