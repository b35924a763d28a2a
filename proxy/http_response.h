// The response the handlers fill: status, header fields in one flat buffer, and body.
// It offers the subset of Beast's response interface the handlers use, but keeps every
// field in a single string that a connection reuses from request to request, so a
// response costs no allocation per header field and serializes with plain appends.
#pragma once

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cx::proxy {

class Response {
 public:
  Response() { fields_.reserve(8); }

  void result(boost::beast::http::status status) { status_ = static_cast<unsigned>(status); }
  void result(unsigned status) { status_ = status; }
  boost::beast::http::status result() const { return static_cast<boost::beast::http::status>(status_); }
  unsigned result_int() const { return status_; }

  // Sets a header field, replacing an earlier value of the same name (case-insensitive).
  void set(std::string_view name, std::string_view value);
  void set(boost::beast::http::field name, std::string_view value) {
    set(boost::beast::http::to_string(name), value);
  }
  // The value of a field, or empty when absent.
  std::string_view operator[](std::string_view name) const;
  bool has(std::string_view name) const;

  std::string& body() { return body_; }
  const std::string& body() const { return body_; }

  // Appends "Name: value\r\n" for every field, in the order first set.
  void appendFields(std::string& out) const;
  // Back to an empty 200, keeping the buffers' capacity.
  void clear();

 private:
  struct Field {
    std::uint32_t nameAt, nameLen, valueAt, valueLen;
    bool removed;
  };
  std::string_view name(const Field& f) const { return {buffer_.data() + f.nameAt, f.nameLen}; }
  std::string_view value(const Field& f) const { return {buffer_.data() + f.valueAt, f.valueLen}; }

  unsigned status_ = 200;
  std::string buffer_;  // names and values, back to back
  std::vector<Field> fields_;
  std::string body_;
};

}  // namespace cx::proxy
