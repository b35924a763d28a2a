// A blocking HTTP/1.1 keep-alive client for cxproxy-verify's sessions (Boost.Beast). Each
// session owns one; not thread-safe. Every request has a deadline.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cx::verify {

struct HttpReply {
  int status = 0;     // 0: no response (error says why)
  std::string error;  // transport error
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  // Case-insensitive; "" when absent.
  std::string header(std::string_view name) const;
};

class HttpConnection {
 public:
  HttpConnection(std::string host, std::string port, std::chrono::milliseconds timeout);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Connects on first use and again after the connection failed or was closed. Never
  // throws: a transport failure is a reply with status 0.
  HttpReply request(std::string_view method, std::string_view target, std::string_view body,
                    const std::vector<std::pair<std::string, std::string>>& headers);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes everything but unreserved characters and ':' for a path segment.
std::string encodePathSegment(std::string_view text);

}  // namespace cx::verify
