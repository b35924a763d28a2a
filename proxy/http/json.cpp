// JSON string literals (see json.h): a table-driven escape loop that copies runs of
// plain bytes whole and checks UTF-8 as it goes.
#include "proxy/http/json.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace cx::proxy {
namespace {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD
constexpr char kHexDigits[] = "0123456789abcdef";

// Bytes that go into a JSON string as they are: printable ASCII except '"' and '\\'.
constexpr std::array<bool, 256> kPlainAscii = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x80; ++c) table[static_cast<std::size_t>(c)] = true;
  table['"'] = false;
  table['\\'] = false;
  return table;
}();

// Length of the well-formed UTF-8 sequence at p (Unicode Table 3-7), 0 if ill-formed.
// p[0] >= 0x80 is assumed.
std::size_t multibyteLength(const unsigned char* p, std::size_t available) {
  const unsigned char lead = p[0];
  auto continuation = [&](std::size_t i, unsigned char low = 0x80, unsigned char high = 0xBF) {
    return i < available && p[i] >= low && p[i] <= high;
  };
  if (lead < 0xC2) return 0;  // continuation byte or overlong 2-byte lead
  if (lead <= 0xDF) return continuation(1) ? 2 : 0;
  if (lead <= 0xEF) {
    const unsigned char low = lead == 0xE0 ? 0xA0 : 0x80;   // overlong
    const unsigned char high = lead == 0xED ? 0x9F : 0xBF;  // surrogates
    return continuation(1, low, high) && continuation(2) ? 3 : 0;
  }
  if (lead <= 0xF4) {
    const unsigned char low = lead == 0xF0 ? 0x90 : 0x80;   // overlong
    const unsigned char high = lead == 0xF4 ? 0x8F : 0xBF;  // above U+10FFFF
    return continuation(1, low, high) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

void appendEscape(std::string& out, unsigned char c) {
  switch (c) {
    case '"': out += "\\\""; return;
    case '\\': out += "\\\\"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    case '\b': out += "\\b"; return;
    case '\f': out += "\\f"; return;
    default: {
      const char escape[6] = {'\\', 'u', '0', '0', kHexDigits[c >> 4], kHexDigits[c & 0xF]};
      out.append(escape, sizeof escape);
    }
  }
}

}  // namespace

bool appendJsonStringBody(std::string& out, std::string_view s, bool lossy) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t runStart = 0;
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (kPlainAscii[c]) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (const std::size_t length = multibyteLength(p + i, n - i); length != 0) {
        i += length;
        continue;
      }
      if (!lossy) return false;
      out.append(s.data() + runStart, i - runStart);
      out += kReplacementChar;
      runStart = ++i;
      continue;
    }
    out.append(s.data() + runStart, i - runStart);
    appendEscape(out, c);
    runStart = ++i;
  }
  out.append(s.data() + runStart, n - runStart);
  return true;
}

bool isValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // ASCII fast path, eight bytes at a time.
    if (i + 8 <= n) {
      std::uint64_t block;
      std::memcpy(&block, p + i, sizeof block);
      if ((block & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const std::size_t length = multibyteLength(p + i, n - i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

void appendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  appendJsonStringBody(out, s, /*lossy=*/true);
  out.push_back('"');
}

}  // namespace cx::proxy
