// Small ASCII text helpers (case folding, trimming, hex) shared by every layer above
// metrics: backends, routing and proxy all link cx_backends. Locale-independent: only
// the bytes A-Z and a-z fold, so they are safe on protocol text and on binary keys.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cx::text {

constexpr char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

inline std::string lowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

inline std::string upperCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = upper(c);
  return out;
}

// ASCII case-insensitive equality.
constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
constexpr std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

inline constexpr std::string_view kHexDigits = "0123456789abcdef";

// The value of one hex digit (either case), or -1.
constexpr int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Appends two lower-case hex digits per byte.
inline void appendHex(std::string& out, const unsigned char* bytes, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(kHexDigits[bytes[i] >> 4]);
    out.push_back(kHexDigits[bytes[i] & 0xf]);
  }
}

}  // namespace cx::text
