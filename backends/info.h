// Reading Redis `INFO` replies: "key:value" lines, "# Section" headers, CRLF endings.
#pragma once

#include <optional>
#include <string_view>

namespace cx::backends {

// Calls fn(key, value) for each "key:value" line of an INFO reply.
template <typename Fn>
void forEachInfoField(std::string_view info, Fn&& fn) {
  while (!info.empty()) {
    const auto eol = info.find('\n');
    std::string_view line = info.substr(0, eol);
    info = eol == std::string_view::npos ? std::string_view{} : info.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    fn(line.substr(0, colon), line.substr(colon + 1));
  }
}

// The value of one field; nullopt when absent. Views into `info`.
inline std::optional<std::string_view> infoField(std::string_view info, std::string_view key) {
  std::optional<std::string_view> found;
  forEachInfoField(info, [&](std::string_view k, std::string_view v) {
    if (!found && k == key) found = v;
  });
  return found;
}

}  // namespace cx::backends
