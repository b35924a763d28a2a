// An HTTP/1.1 request and its parser (RFC 9112), written for the data path in place of
// Beast's request_parser, which cost a quarter of a PUT's user-space work (one allocation
// per field, a byte-wise state machine). The header block is found once, copied once into
// the request's own storage and parsed in one pass; fields are views into that copy, so
// no field costs an allocation, and the server reuses Requests (pooled per worker), whose
// buffers keep their capacity.
//
// Strict on purpose (a proxy in front of a database must not be fooled about where a
// request ends): CRLF line endings only, no obs-fold, no whitespace before a field's
// colon, no control characters in a value, one Content-Length field with one value,
// Transfer-Encoding only as exactly "chunked", never both Content-Length and
// Transfer-Encoding, no Transfer-Encoding in HTTP/1.0 (RFC 9112 §6.1: its framing is
// faulty), exactly one Host in HTTP/1.1 (at most one in HTTP/1.0: RFC 9112 §3.2), and
// chunk extensions only as the RFC's grammar has them.
#pragma once

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cx::proxy {

namespace http = boost::beast::http;

class Request {
 public:
  class Field {
   public:
    Field(std::string_view name, std::string_view value) : name_(name), value_(value) {}
    std::string_view name_string() const { return name_; }
    std::string_view value() const { return value_; }

   private:
    std::string_view name_;
    std::string_view value_;
  };

  Request() = default;
  // Fields are views into this object's own storage.
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  http::verb method() const { return method_; }
  std::string_view method_string() const { return methodText_; }
  std::string_view target() const { return target_; }
  unsigned version() const { return version_; }  // 10 or 11
  // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive".
  bool keep_alive() const { return keepAlive_; }
  const std::string& body() const { return body_; }
  const std::vector<Field>& fields() const { return fields_; }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }
  // The first value of a field (names compare case-insensitively); empty when absent.
  std::string_view operator[](std::string_view name) const;
  std::string_view operator[](http::field name) const { return (*this)[http::to_string(name)]; }

 private:
  friend class RequestParser;
  void clear();

  std::string head_;  // the header block, as received
  std::string body_;  // decoded (chunked framing removed)
  std::vector<Field> fields_;
  http::verb method_ = http::verb::unknown;
  std::string_view methodText_;
  std::string_view target_;
  unsigned version_ = 11;
  bool keepAlive_ = true;
};

// What stopped the parser. NeedMore is not an error: the input ran out first.
enum class ParseStatus {
  Ok,
  NeedMore,
  HeaderTooLarge,  // → 431
  BodyTooLarge,    // → 413
  BadRequestLine,
  BadVersion,
  BadField,
  BadContentLength,
  BadTransferEncoding,  // anything but exactly "chunked"
  LengthAndEncoding,    // both Content-Length and Transfer-Encoding
  EncodingInHttp10,     // Transfer-Encoding in an HTTP/1.0 request
  BadHost,              // no Host (HTTP/1.1), more than one, or a value that is no host[:port]
  BadChunk,
  BareLineFeed,    // a line ended by LF alone
  PartialMessage,  // the client closed mid-request
};

std::string_view describe(ParseStatus status);

// Parses one request at a time into a Request. Usage: reset(), then parseHeader() with
// the bytes buffered so far until it is not NeedMore, then parseBody() likewise. Both
// report how many bytes they used; the caller drops those and keeps the rest (the next
// pipelined request). An error is final for the connection.
class RequestParser {
 public:
  RequestParser(Request& request, std::size_t headerLimit, std::uint64_t bodyLimit)
      : req_(request), headerLimit_(headerLimit), bodyLimit_(bodyLimit) {}

  void reset();

  struct Result {
    ParseStatus status;
    std::size_t used;
  };
  Result parseHeader(std::string_view data);
  Result parseBody(std::string_view data);
  // The client closed: PartialMessage once any byte of this request arrived.
  ParseStatus finishAtEof() const { return gotSome_ ? ParseStatus::PartialMessage : ParseStatus::Ok; }

  bool gotSome() const { return gotSome_; }
  bool headerDone() const { return state_ != State::Header; }
  bool done() const { return state_ == State::Done; }
  bool expectContinue() const { return expectContinue_; }

 private:
  enum class State { Header, Length, ChunkSize, ChunkData, ChunkEnd, Trailers, Done };

  ParseStatus parseHead();  // req_.head_ holds the whole block
  ParseStatus onField(std::string_view name, std::string_view value);

  Request& req_;
  std::size_t headerLimit_;
  std::uint64_t bodyLimit_;
  State state_ = State::Header;
  std::size_t scanned_ = 0;      // header bytes already searched for the blank line
  std::uint64_t remaining_ = 0;  // of the body (Length) or of the chunk (ChunkData)
  std::size_t trailerBytes_ = 0;
  bool gotSome_ = false;
  bool expectContinue_ = false;
  bool hasLength_ = false;
  bool hasEncoding_ = false;
  bool chunked_ = false;
  bool close_ = false;
  bool keepAliveToken_ = false;
  unsigned hosts_ = 0;
  std::uint64_t length_ = 0;
};

}  // namespace cx::proxy
