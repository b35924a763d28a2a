// HTTP helper functions (see http_util.h).
#include "proxy/http_util.h"

#include <algorithm>
#include <charconv>

#include "proxy/config.h"
#include "proxy/reply_json.h"

namespace cx::proxy {

std::optional<std::string> percentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  // Runs without an escape are copied whole (most keys have none).
  for (std::size_t i = 0; i < in.size();) {
    const std::size_t escape = std::min(in.find('%', i), in.size());
    out.append(in.substr(i, escape - i));
    i = escape;
    if (i == in.size()) break;
    if (i + 2 >= in.size()) return std::nullopt;
    int hi = hex(in[i + 1]);
    int lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 3;
  }
  return out;
}

std::optional<std::string_view> queryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto eq = pair.find('=');
    std::string_view k = pair.substr(0, eq);
    if (k == name) return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parseDecimal(std::string_view text) {
  if (text.empty()) return std::nullopt;  // from_chars reports overflow itself
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<std::chrono::milliseconds> parseStalenessHeader(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  return parseDuration(text);
}

std::string jsonError(std::string_view code, std::string_view message, std::string_view extra) {
  std::string out = "{\"error\":";
  appendJsonString(out, code);
  out.append(",\"message\":");
  appendJsonString(out, message);
  out.append(extra);
  out.append("}");
  return out;
}

}  // namespace cx::proxy
