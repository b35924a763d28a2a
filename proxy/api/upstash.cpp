// Upstash endpoints and replies (see upstash.h).
#include "proxy/api/upstash.h"

#include <charconv>

#include "proxy/api/reply_json.h"
#include "proxy/api/request_parse.h"

namespace cx::proxy {

namespace {

using backends::RespType;
using backends::RespValue;

BodyError bad(std::string message) { return BodyError{false, std::move(message)}; }

void appendInteger(std::string& out, long long value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

}  // namespace

std::variant<UpstashTarget, BodyError> parseUpstashTarget(std::string_view method, std::string_view target,
                                                          std::string_view body) {
  std::string_view path = target;
  std::string_view query;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
  const bool post = method == "POST";
  UpstashTarget out;
  if (path == "/" || path == "/pipeline" || path == "/multi-exec") {
    if (!post) return BodyError{false, "Upstash's " + std::string(path) + " takes POST with a JSON body", "POST"};
    out.endpoint = path == "/"           ? UpstashEndpoint::Command
                   : path == "/pipeline" ? UpstashEndpoint::Pipeline
                                         : UpstashEndpoint::MultiExec;
    return out;
  }
  if (!post && method != "GET") {
    return BodyError{false, "Upstash's path-style commands take GET or POST", "GET, POST"};
  }
  // Path-style: /cmd/arg1/arg2 (a trailing slash adds nothing).
  std::string_view rest = path.substr(1);
  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    auto decoded = percentDecode(rest.substr(0, slash));
    if (!decoded) return bad("the path is not valid percent-encoding");
    out.pathCommand.push_back(std::move(*decoded));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  if (out.pathCommand.empty() || out.pathCommand[0].empty()) {
    return bad("the path names no command; send /get/key, or POST / with [\"GET\", \"key\"]");
  }
  if (post && !body.empty()) out.pathCommand.emplace_back(body);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    auto name = percentDecode(pair.substr(0, eq));
    auto value = percentDecode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!name || !value) return bad("the query string is not valid percent-encoding");
    if (*name == "_token") continue;  // Upstash's way to send the bearer token
    out.pathCommand.push_back(std::move(*name));
    if (eq != std::string_view::npos) out.pathCommand.push_back(std::move(*value));
  }
  return out;
}

void appendUpstashValue(std::string& out, const RespValue& reply, bool base64) {
  switch (reply.type) {
    case RespType::Bulk:
    case RespType::Status:
      if (base64) {
        out.push_back('"');
        appendBase64(out, reply.str);
        out.push_back('"');
      } else {
        appendJsonString(out, reply.str);
      }
      return;
    case RespType::Integer: appendInteger(out, reply.integer); return;
    case RespType::Nil: out += "null"; return;
    case RespType::Error:
      out += "{\"error\":";
      appendJsonString(out, reply.str);
      out.push_back('}');
      return;
    case RespType::Array:
      out.push_back('[');
      for (std::size_t i = 0; i < reply.elements.size(); ++i) {
        if (i != 0) out.push_back(',');
        appendUpstashValue(out, reply.elements[i], base64);
      }
      out.push_back(']');
      return;
  }
  out += "null";
}

void appendUpstashItem(std::string& out, const RespValue& reply, bool base64) {
  if (reply.isError()) {
    out += "{\"error\":";
    appendJsonString(out, reply.str);
    out.push_back('}');
    return;
  }
  out += "{\"result\":";
  appendUpstashValue(out, reply, base64);
  out.push_back('}');
}

}  // namespace cx::proxy
