// The access log (log.access): one line per data request. Never the key itself, only a
// salted hash of it, so lines can be correlated within one process's life without
// exposing keys.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace cx::proxy {

struct AccessLogLine {
  std::string_view method;
  std::string_view op;
  std::string_view key;  // hashed before it is written; empty: "-"
  std::string_view requested;
  std::string_view served;
  std::string_view backend;
  std::string_view role;
  std::string_view token;  // the bearer token's name (never its secret); "-" without one
  unsigned status = 0;
  std::chrono::microseconds duration{};
};

void logAccess(const AccessLogLine& line);

// First 16 hex digits of SHA-256(salt || key), the salt random per process.
std::string accessKeyHash(std::string_view key);

}  // namespace cx::proxy
