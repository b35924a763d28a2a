// The response object (flat header fields) and its serialization (see response.h).
#include "proxy/http/response.h"

#include <charconv>
#include <cstring>

#include "backends/text.h"

namespace cx::proxy {

std::size_t Response::find(std::string_view name) const {
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    const Field& f = fields_[i];
    if (!f.removed && f.nameLen == name.size() && text::iequals(this->name(f), name)) return i;
  }
  return npos;
}

void Response::set(std::string_view name, std::string_view value) {
  if (const std::size_t old = find(name); old != npos) {
    fields_[old].removed = true;  // names are unique among live fields
    anyRemoved_ = true;
  }
  Field f{};
  f.at = static_cast<std::uint32_t>(buffer_.size());
  f.nameLen = static_cast<std::uint32_t>(name.size());
  f.valueLen = static_cast<std::uint32_t>(value.size());
  buffer_.resize(buffer_.size() + name.size() + value.size() + 4);  // one capacity check
  char* out = buffer_.data() + f.at;
  std::memcpy(out, name.data(), name.size());
  out += name.size();
  *out++ = ':';
  *out++ = ' ';
  std::memcpy(out, value.data(), value.size());
  out += value.size();
  *out++ = '\r';
  *out = '\n';
  fields_.push_back(f);
}

std::string_view Response::operator[](std::string_view name) const {
  const std::size_t i = find(name);
  return i == npos ? std::string_view{} : value(fields_[i]);
}

bool Response::has(std::string_view name) const { return find(name) != npos; }

void Response::appendFields(std::string& out) const {
  if (!anyRemoved_) {
    out.append(buffer_);
    return;
  }
  for (const auto& f : fields_) {
    if (!f.removed) out.append(line(f));
  }
}

void Response::clear() {
  status_ = 200;
  buffer_.clear();
  fields_.clear();
  body_.clear();
  anyRemoved_ = false;
}

void serializeHead(const Response& res, unsigned version, bool keepAlive, std::string& out) {
  using namespace std::string_view_literals;  // lengths known at compile time, no strlen
  out.clear();
  out.append(version == 10 ? "HTTP/1.0 "sv : "HTTP/1.1 "sv);
  const unsigned status = res.result_int();
  char code[4] = {static_cast<char>('0' + status / 100 % 10), static_cast<char>('0' + status / 10 % 10),
                  static_cast<char>('0' + status % 10), ' '};
  out.append(code, 4);
  out.append(boost::beast::http::obsolete_reason(res.result()));
  out.append("\r\n"sv);
  res.appendFields(out);
  // 1xx, 204 and 304 carry no body and no Content-Length (RFC 9110 §8.6).
  if (status >= 200 && status != 204 && status != 304) {
    constexpr auto kName = "Content-Length: "sv;
    char line[kName.size() + 24];
    std::memcpy(line, kName.data(), kName.size());
    auto [end, ec] = std::to_chars(line + kName.size(), line + sizeof line - 2, res.body().size());
    (void)ec;
    *end++ = '\r';
    *end++ = '\n';
    out.append(line, static_cast<std::size_t>(end - line));
  }
  if (!keepAlive && version != 10) out.append("Connection: close\r\n"sv);
  if (keepAlive && version == 10) out.append("Connection: keep-alive\r\n"sv);
  out.append("\r\n"sv);
}

}  // namespace cx::proxy
