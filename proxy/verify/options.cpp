// Command-line parsing for cxproxy-verify.
#include "proxy/verify/options.h"

#include <charconv>
#include <cmath>

namespace cx::verify {

std::string usage() {
  return "usage: cxproxy-verify --url http://127.0.0.1:8080 [--seconds 30] [--sessions 16]\n"
         "                      [--levels session,bounded,prefix] [--max-staleness 200ms]\n"
         "                      [--token BEARER] [--prefix cxverify:] [--timeout 10s]\n"
         "Writes and reads keys under the prefix through cxproxy from concurrent sessions and\n"
         "checks the recorded history against each level's guarantee.\n"
         "Levels: strong, bounded, session, prefix, eventual.\n"
         "Exit status: 0 no violation, 1 violations found, 2 could not run.\n";
}

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  double scale = 1;
  if (text.ends_with("ms")) {
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    text.remove_suffix(1);
    scale = 1000;
  }
  if (text.empty()) return std::nullopt;
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || !(value >= 0) || value > 1e9) return std::nullopt;
  return std::chrono::milliseconds{static_cast<long long>(std::llround(value * scale))};
}

namespace {

std::optional<int> parsePositive(std::string_view text, int max) {
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || value < 1 || value > max) return std::nullopt;
  return value;
}

// http://host[:port][/] only: the data API lives at the root.
bool splitUrl(const std::string& url, Options& out) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) return false;
  std::string rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.find('/') != std::string::npos) return false;
  std::string host = rest;
  std::string port = "80";
  if (rest.front() == '[') {  // [::1]:8080
    auto close = rest.find(']');
    if (close == std::string::npos) return false;
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return false;
      port = rest.substr(close + 2);
    }
  } else if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty() || !parsePositive(port, 65535)) return false;
  out.host = host;
  out.port = port;
  return true;
}

}  // namespace

std::variant<Options, OptionsError> parseOptions(const std::vector<std::string>& args) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      o.help = true;
      continue;
    }
    std::string name = arg;
    std::string value;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else {
      if (i + 1 >= args.size()) return OptionsError{arg + " needs a value (or unknown option)"};
      value = args[++i];
    }
    if (name == "--url") {
      o.url = value;
      if (!splitUrl(value, o)) return OptionsError{"--url: expected http://host:port, got \"" + value + "\""};
    } else if (name == "--seconds") {
      auto n = parsePositive(value, 86400);
      if (!n) return OptionsError{"--seconds: expected 1..86400, got \"" + value + "\""};
      o.duration = std::chrono::seconds{*n};
    } else if (name == "--sessions") {
      auto n = parsePositive(value, 1024);
      if (!n) return OptionsError{"--sessions: expected 1..1024, got \"" + value + "\""};
      o.sessions = *n;
    } else if (name == "--levels") {
      o.levels.clear();
      std::string_view rest = value;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        auto level = routing::parseLevel(item);
        if (!level) return OptionsError{"--levels: unknown level \"" + std::string(item) + "\""};
        bool dup = false;
        for (auto l : o.levels) dup = dup || l == *level;
        if (!dup) o.levels.push_back(*level);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
      if (o.levels.empty()) return OptionsError{"--levels: name at least one level"};
    } else if (name == "--max-staleness") {
      auto d = parseDuration(value);
      if (!d || d->count() == 0) return OptionsError{"--max-staleness: expected e.g. 200ms, got \"" + value + "\""};
      o.maxStaleness = *d;
    } else if (name == "--timeout") {
      auto d = parseDuration(value);
      if (!d || d->count() == 0) return OptionsError{"--timeout: expected e.g. 10s, got \"" + value + "\""};
      o.requestTimeout = *d;
    } else if (name == "--token") {
      o.bearerToken = value;
    } else if (name == "--prefix") {
      if (value.empty()) return OptionsError{"--prefix: must not be empty"};
      o.prefix = value;
    } else {
      return OptionsError{"unknown option " + name};
    }
  }
  return o;
}

}  // namespace cx::verify
