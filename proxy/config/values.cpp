// Parsers and printers of configuration values (see values.h).
#include "proxy/config/values.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "backends/text.h"

namespace cx::proxy {

namespace {
constexpr std::size_t kMaxNameBytes = 64;
}  // namespace

std::optional<milliseconds> parseDuration(std::string_view text) {
  // <digits>[.<digits>][unit], unit one of us, ms, s, m, h; none means ms. Computed in
  // nanoseconds and rounded up to whole milliseconds, so "500us" is 1ms, never 0.
  std::size_t i = 0;
  auto isDigit = [&](std::size_t at) { return at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])); };
  if (!isDigit(0)) return std::nullopt;
  constexpr std::uint64_t kLimit = std::numeric_limits<std::int64_t>::max();
  std::uint64_t whole = 0;
  for (; isDigit(i); ++i) {
    const std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
    if (whole > (kLimit - digit) / 10) return std::nullopt;
    whole = whole * 10 + digit;
  }
  std::uint64_t fractionNs = 0;  // the fraction in units of 1e-9
  bool fractionRemainder = false;
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!isDigit(i)) return std::nullopt;
    std::uint64_t scale = 100'000'000;
    for (; isDigit(i); ++i) {
      const std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
      if (scale > 0) {
        fractionNs += digit * scale;
        scale /= 10;
      } else if (digit != 0) {
        fractionRemainder = true;
      }
    }
  }
  const std::string unit = text::lowerCopy(text.substr(i));
  std::uint64_t nsPerUnit = 0;
  if (unit.empty() || unit == "ms") {
    nsPerUnit = 1'000'000;
  } else if (unit == "us") {
    nsPerUnit = 1'000;
  } else if (unit == "s") {
    nsPerUnit = 1'000'000'000;
  } else if (unit == "m") {
    nsPerUnit = 60'000'000'000;
  } else if (unit == "h") {
    nsPerUnit = 3'600'000'000'000;
  } else {
    return std::nullopt;
  }
  if (whole > kLimit / nsPerUnit) return std::nullopt;
  std::uint64_t totalNs = whole * nsPerUnit;
  // fractionNs < 1e9 and every unit is a whole number of microseconds ≤ 3.6e9, so the
  // product below stays under 2^64.
  const std::uint64_t exact = fractionNs * (nsPerUnit / 1'000);
  std::uint64_t extraNs = exact / 1'000'000;
  if (exact % 1'000'000 != 0 || fractionRemainder) extraNs += 1;
  if (extraNs > kLimit - totalNs) return std::nullopt;
  totalNs += extraNs;
  const std::uint64_t ms = totalNs / 1'000'000 + (totalNs % 1'000'000 != 0 ? 1 : 0);
  return milliseconds{static_cast<milliseconds::rep>(ms)};
}

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f) {
      out += "\\x";
      text::appendHex(out, &byte, 1);
    } else {
      out += c;
    }
  }
  return out;
}

std::string inQuotes(std::string_view text) {
  constexpr std::size_t kMaxShown = 60;
  if (text.size() > kMaxShown) return "\"" + printable(text.substr(0, kMaxShown)) + "...\"";
  return "\"" + printable(text) + "\"";
}

bool isEnvVarName(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool isSafeName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

bool isCommandWord(std::string_view word, bool upperOnly) {
  if (word.empty() || !std::isalpha(static_cast<unsigned char>(word[0]))) return false;
  return std::all_of(word.begin(), word.end(), [upperOnly](char c) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalpha(byte)) return !upperOnly || std::isupper(byte);
    return std::isdigit(byte) || c == '_' || c == '-' || c == '|';
  });
}

std::string formatMs(milliseconds value) {
  const auto ms = value.count();
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string formatBytes(std::size_t bytes) {
  constexpr std::size_t kKiB = 1024;
  if (bytes != 0 && bytes % (kKiB * kKiB * kKiB) == 0) return std::to_string(bytes >> 30) + "GiB";
  if (bytes != 0 && bytes % (kKiB * kKiB) == 0) return std::to_string(bytes >> 20) + "MiB";
  if (bytes != 0 && bytes % kKiB == 0) return std::to_string(bytes >> 10) + "KiB";
  return std::to_string(bytes) + "B";
}

std::string formatEndpoint(const Endpoint& endpoint) {
  if (endpoint.host.find(':') != std::string::npos) {
    return "[" + endpoint.host + "]:" + std::to_string(endpoint.port);
  }
  return endpoint.toString();
}

std::variant<Endpoint, std::string> parseEndpoint(std::string_view text) {
  const std::string_view example = " (expected host:port, e.g. 127.0.0.1:6379 or [::1]:6379)";
  std::string_view host;
  std::string_view port;
  if (text.find("://") != std::string_view::npos) {
    return "write host:port without a scheme such as redis://";
  }
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return "missing ']' after an IPv6 address" + std::string(example);
    }
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return "missing :port after " + std::string(text.substr(0, close + 1)) + std::string(example);
    }
    port = text.substr(close + 2);
    const bool validV6 = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.' || c == '%' ||
             std::isalnum(static_cast<unsigned char>(c));
    }) && host.find(':') != std::string_view::npos;
    if (!validV6) return "invalid IPv6 address " + inQuotes(host) + std::string(example);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return "missing :port" + std::string(example);
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return "an IPv6 address needs brackets, e.g. [::1]:6379";
    }
    if (host.empty()) return "missing host" + std::string(example);
    const bool validHost = std::all_of(host.begin(), host.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    });
    if (!validHost) return "invalid host " + inQuotes(host) + std::string(example);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size()) {
    return "invalid port " + inQuotes(port) + std::string(example);
  }
  if (value < 1 || value > 65535) return "port " + std::string(port) + " is out of range 1-65535";
  return Endpoint{std::string(host), static_cast<std::uint16_t>(value)};
}

std::optional<std::size_t> parseByteSize(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (end == text.data() || ec != std::errc{}) return std::nullopt;
  const std::string unit = text::lowerCopy(text.substr(static_cast<std::size_t>(end - text.data())));
  std::uint64_t scale = 1;
  if (unit == "kib") {
    scale = 1ull << 10;
  } else if (unit == "mib") {
    scale = 1ull << 20;
  } else if (unit == "gib") {
    scale = 1ull << 30;
  } else if (!unit.empty() && unit != "b") {
    return std::nullopt;
  }
  if (value > std::numeric_limits<std::size_t>::max() / scale) return std::nullopt;
  return static_cast<std::size_t>(value * scale);
}

}  // namespace cx::proxy
