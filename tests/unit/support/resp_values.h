// RESP2 reply values built by hand for unit tests: bulk and status strings, integers and
// arrays, composed into the shapes a backend would answer with.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backends/resp.h"

namespace cx::testing {

inline backends::RespValue bulk(std::string_view s) {
  backends::RespValue v;
  v.type = backends::RespType::Bulk;
  v.str = std::string(s);
  return v;
}

inline backends::RespValue status(std::string_view s) {
  backends::RespValue v;
  v.type = backends::RespType::Status;
  v.str = std::string(s);
  return v;
}

inline backends::RespValue integer(long long n) {
  backends::RespValue v;
  v.type = backends::RespType::Integer;
  v.integer = n;
  return v;
}

inline backends::RespValue array(std::vector<backends::RespValue> elements) {
  backends::RespValue v;
  v.type = backends::RespType::Array;
  v.elements = std::move(elements);
  return v;
}

}  // namespace cx::testing
