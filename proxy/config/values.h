// Configuration values and their text forms: durations, byte sizes, endpoints and names,
// parsed for the YAML loader and for request headers (X-Max-Staleness), printed for
// messages and describe(). Pure functions, no exceptions.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace cx::proxy {

using std::chrono::milliseconds;

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string toString() const { return host + ":" + std::to_string(port); }
};

// Parses "250ms", "2s", "1m", "1500us" (rounded up to ms) or a bare number of ms.
// nullopt when malformed or negative.
std::optional<milliseconds> parseDuration(std::string_view text);

// "16384", "16KiB", "1MiB", "1GiB" (also "B"); nullopt when malformed or overflowing.
std::optional<std::size_t> parseByteSize(std::string_view text);

// "host:port" or "[v6addr]:port". Returns the problem on failure.
std::variant<Endpoint, std::string> parseEndpoint(std::string_view text);

// Environment variable names: letters, digits and '_', not starting with a digit.
bool isEnvVarName(std::string_view name);
// Backend and rule names travel in X-Served-By headers, metric labels and log lines:
// 1-64 letters, digits, '-', '_' or '.'.
bool isSafeName(std::string_view name);
// Redis command names: letters first, then letters, digits, '_', '-' or '|' (subcommands).
bool isCommandWord(std::string_view word, bool upperOnly);

// "2m", "3s" or "250ms", the largest whole unit.
std::string formatMs(milliseconds value);
// "1GiB", "16KiB" or "100B", the largest whole unit.
std::string formatBytes(std::size_t bytes);
// "host:port", with brackets around an IPv6 host.
std::string formatEndpoint(const Endpoint& endpoint);
// Printable form of a user value for messages and describe(): control and high bytes
// become \xNN so a key pattern can never garble a terminal.
std::string printable(std::string_view text);
// printable(text) in double quotes, cut after 60 bytes.
std::string inQuotes(std::string_view text);

}  // namespace cx::proxy
