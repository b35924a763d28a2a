// The response the handlers fill: status, header fields in one flat buffer, and body.
// It offers the subset of Beast's response interface the handlers use, but keeps every
// field in a single string that a connection reuses from request to request, so a
// response costs no allocation per header field. Each field is stored as its finished
// "Name: value\r\n" line, so serializing is one append while no field was replaced.
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
  void set(boost::beast::http::field name, std::string_view value) { set(boost::beast::http::to_string(name), value); }
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
    std::uint32_t at, nameLen, valueLen;  // the line "Name: value\r\n" starts at buffer_[at]
    bool removed;
  };
  std::string_view name(const Field& f) const { return {buffer_.data() + f.at, f.nameLen}; }
  std::string_view value(const Field& f) const { return {buffer_.data() + f.at + f.nameLen + 2, f.valueLen}; }
  std::string_view line(const Field& f) const { return {buffer_.data() + f.at, f.nameLen + f.valueLen + 4}; }
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  std::size_t find(std::string_view name) const;  // index of the live field, or npos

  unsigned status_ = 200;
  std::string buffer_;  // the fields' lines, back to back
  bool anyRemoved_ = false;
  std::vector<Field> fields_;
  std::string body_;
};

// Serializes the status line and header fields (not the body) into `out`, replacing its
// content. Content-Length and Connection are the server's to set, never a handler's.
void serializeHead(const Response& res, unsigned version, bool keepAlive, std::string& out);

}  // namespace cx::proxy
