// Flat response fields (see http_response.h).
#include "proxy/http_response.h"

#include <boost/beast/core/string.hpp>

#include <cstring>

namespace cx::proxy {

std::size_t Response::find(std::string_view name) const {
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    const Field& f = fields_[i];
    if (!f.removed && f.nameLen == name.size() && boost::beast::iequals(this->name(f), name)) return i;
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

}  // namespace cx::proxy
