// Flat response fields (see http_response.h).
#include "proxy/http_response.h"

#include <boost/beast/core/string.hpp>

namespace cx::proxy {

void Response::set(std::string_view name, std::string_view value) {
  for (auto& f : fields_) {
    if (!f.removed && boost::beast::iequals(this->name(f), name)) f.removed = true;
  }
  Field f{};
  f.nameAt = static_cast<std::uint32_t>(buffer_.size());
  f.nameLen = static_cast<std::uint32_t>(name.size());
  buffer_.append(name);
  f.valueAt = static_cast<std::uint32_t>(buffer_.size());
  f.valueLen = static_cast<std::uint32_t>(value.size());
  buffer_.append(value);
  fields_.push_back(f);
}

std::string_view Response::operator[](std::string_view name) const {
  for (const auto& f : fields_) {
    if (!f.removed && boost::beast::iequals(this->name(f), name)) return value(f);
  }
  return {};
}

bool Response::has(std::string_view name) const {
  for (const auto& f : fields_) {
    if (!f.removed && boost::beast::iequals(this->name(f), name)) return true;
  }
  return false;
}

void Response::appendFields(std::string& out) const {
  for (const auto& f : fields_) {
    if (f.removed) continue;
    out.append(name(f));
    out.append(": ", 2);
    out.append(value(f));
    out.append("\r\n", 2);
  }
}

void Response::clear() {
  status_ = 200;
  buffer_.clear();
  fields_.clear();
  body_.clear();
}

}  // namespace cx::proxy
