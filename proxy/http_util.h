// Small HTTP helpers for the data and admin endpoints: JSON error bodies, percent
// decoding of keys, query parameters, and the X-Max-Staleness format.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cx::proxy {

// Percent-decodes `in` (no '+' → space: keys are path segments). nullopt on a bad escape.
std::optional<std::string> percentDecode(std::string_view in);

// The raw value of `name` in a query string "a=1&b=2"; nullopt when absent.
std::optional<std::string_view> queryParam(std::string_view query, std::string_view name);

// Positive decimal integer, no sign, no spaces; nullopt when malformed or overflowing.
std::optional<std::uint64_t> parseDecimal(std::string_view text);

// "250ms", "2s", "1m", or a bare number of milliseconds.
std::optional<std::chrono::milliseconds> parseStalenessHeader(std::string_view text);

// {"error":"<code>","message":"<message>"} with JSON escaping; `extra` is appended
// verbatim inside the object (e.g. ",\"acked\":0").
std::string jsonError(std::string_view code, std::string_view message, std::string_view extra = {});

}  // namespace cx::proxy
