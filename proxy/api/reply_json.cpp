// RESP reply -> JSON rendering (hand-written, one pass per string) and the POST /v1/cmd
// request body parser (Boost.JSON, error_code overloads only).
#include "proxy/api/reply_json.h"

#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <cstdint>
#include <cstring>

#include "proxy/http/json.h"

namespace cx::proxy {
namespace {

using cx::backends::RespType;
using cx::backends::RespValue;

constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// A string reply: the text if it is UTF-8, else {"base64":"..."}.
void appendBytes(std::string& out, std::string_view bytes) {
  const std::size_t mark = out.size();
  out.reserve(out.size() + bytes.size() + 2);
  out.push_back('"');
  if (appendJsonStringBody(out, bytes, /*lossy=*/false)) {
    out.push_back('"');
    return;
  }
  out.resize(mark);
  out += "{\"base64\":\"";
  appendBase64(out, bytes);
  out += "\"}";
}

void appendInteger(std::string& out, long long value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

constexpr std::array<std::int8_t, 256> kBase64Values = [] {
  std::array<std::int8_t, 256> table{};
  table.fill(-1);
  for (int i = 0; i < 64; ++i) {
    table[static_cast<unsigned char>(kBase64Alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}();

std::string elementError(std::size_t index, std::string_view what) {
  return "element " + std::to_string(index) + " of the command array " + std::string(what);
}

}  // namespace

void appendBase64(std::string& out, std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  out.reserve(out.size() + (n + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t group = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
    const char quad[4] = {kBase64Alphabet[(group >> 18) & 63], kBase64Alphabet[(group >> 12) & 63],
                          kBase64Alphabet[(group >> 6) & 63], kBase64Alphabet[group & 63]};
    out.append(quad, 4);
  }
  if (const std::size_t rest = n - i; rest != 0) {
    std::uint32_t group = std::uint32_t{p[i]} << 16;
    if (rest == 2) group |= std::uint32_t{p[i + 1]} << 8;
    const char quad[4] = {kBase64Alphabet[(group >> 18) & 63], kBase64Alphabet[(group >> 12) & 63],
                          rest == 2 ? kBase64Alphabet[(group >> 6) & 63] : '=', '='};
    out.append(quad, 4);
  }
}

std::optional<std::string> decodeBase64(std::string_view text) {
  if (text.size() % 4 == 0 && !text.empty()) {
    if (text.back() == '=') text.remove_suffix(1);
    if (text.back() == '=') text.remove_suffix(1);
  }
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t accumulator = 0;
  int bits = 0;
  for (const char ch : text) {
    const std::int8_t value = kBase64Values[static_cast<unsigned char>(ch)];
    if (value < 0) return std::nullopt;
    accumulator = (accumulator << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xFF));
    }
  }
  return out;
}

void appendReplyJson(std::string& out, const RespValue& value) {
  switch (value.type) {
    case RespType::Bulk:
    case RespType::Status: appendBytes(out, value.str); return;
    case RespType::Integer: appendInteger(out, value.integer); return;
    case RespType::Nil: out += "null"; return;
    case RespType::Error:
      out += "{\"error\":";
      appendJsonString(out, value.str);
      out.push_back('}');
      return;
    case RespType::Array:
      out.push_back('[');
      for (std::size_t i = 0; i < value.elements.size(); ++i) {
        if (i != 0) out.push_back(',');
        appendReplyJson(out, value.elements[i]);
      }
      out.push_back(']');
      return;
  }
  out += "null";
}

std::optional<std::string> parseCommandBody(std::string_view body, std::vector<std::string>& argv) {
  argv.clear();
  unsigned char buffer[4096];
  boost::json::monotonic_resource resource(buffer, sizeof buffer);
  boost::system::error_code ec;
  const boost::json::value parsed = boost::json::parse(body, ec, &resource);
  if (ec) {
    return "the body is not valid JSON (" + ec.message() + "); send a JSON array such as [\"GET\", \"key\"]";
  }
  const boost::json::array* elements = parsed.if_array();
  if (elements == nullptr || elements->empty()) {
    return std::string("the body must be a non-empty JSON array such as [\"GET\", \"key\"]");
  }

  argv.reserve(elements->size());
  for (std::size_t i = 0; i < elements->size(); ++i) {
    const boost::json::value& element = (*elements)[i];
    switch (element.kind()) {
      case boost::json::kind::string: {
        const boost::json::string& s = element.get_string();
        argv.emplace_back(s.data(), s.size());
        break;
      }
      case boost::json::kind::int64: argv.push_back(std::to_string(element.get_int64())); break;
      case boost::json::kind::uint64: argv.push_back(std::to_string(element.get_uint64())); break;
      case boost::json::kind::object: {
        const boost::json::object& object = element.get_object();
        const boost::json::value* encoded = object.if_contains("base64");
        if (object.size() != 1 || encoded == nullptr || !encoded->is_string()) {
          argv.clear();
          return elementError(i, "is an object; the only object allowed is {\"base64\": \"...\"}");
        }
        const boost::json::string& text = encoded->get_string();
        std::optional<std::string> decoded = decodeBase64(std::string_view(text.data(), text.size()));
        if (!decoded) {
          argv.clear();
          return elementError(i, "is not valid standard base64");
        }
        argv.push_back(std::move(*decoded));
        break;
      }
      case boost::json::kind::double_:
        argv.clear();
        return elementError(i, "is a non-integer number; send it as a string, e.g. \"1.5\"");
      default:
        argv.clear();
        return elementError(i, "must be a string, an integer or {\"base64\": \"...\"}, not a boolean, null or array");
    }
  }
  return std::nullopt;
}

}  // namespace cx::proxy
