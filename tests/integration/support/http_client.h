// A small blocking HTTP/1.1 client for tests (Boost.Beast): keep-alive requests, plus a
// raw mode that sends arbitrary bytes, for pipelining and malformed-request tests.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cx::testing {

using namespace std::chrono_literals;

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; repeats joined by ", "
  std::string body;

  // Case-insensitive lookup; "" when absent.
  std::string header(std::string_view name) const;
  bool hasHeader(std::string_view name) const;
};

// What a raw read saw.
struct RawResult {
  std::string bytes;                    // the bytes of the parsed responses, then any
                                        // incomplete tail left when the read ended
  std::vector<HttpResponse> responses;  // complete responses, in order
  bool closed = false;                  // the server closed (or reset) the connection
  bool timedOut = false;                // the deadline passed first
  std::string parseError;               // non-empty if the bytes are not valid HTTP
};

// An I/O failure, timeout or unparseable response in request().
class HttpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using HttpHeaders = std::map<std::string, std::string>;

// One keep-alive connection to 127.0.0.1:port, opened on first use and reopened when the
// server has closed it. Every connect, write and read has a deadline (default 30 s), so a
// hung server fails the test instead of hanging it. Not thread-safe: one per thread.
class HttpClient {
 public:
  static constexpr std::chrono::milliseconds kTimeout{30000};
  static constexpr std::size_t kUntilClose = std::numeric_limits<std::size_t>::max();

  explicit HttpClient(int port, std::chrono::milliseconds timeout = kTimeout);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request (Host, User-Agent and Content-Length are set unless `headers`
  // names them) and reads its response. Throws HttpError on I/O error or timeout.
  HttpResponse request(std::string_view method, std::string_view target, std::string_view body = {},
                       const HttpHeaders& headers = {});
  HttpResponse get(std::string_view target, const HttpHeaders& headers = {}) {
    return request("GET", target, {}, headers);
  }
  HttpResponse put(std::string_view target, std::string_view body, const HttpHeaders& headers = {}) {
    return request("PUT", target, body, headers);
  }
  HttpResponse del(std::string_view target, const HttpHeaders& headers = {}) {
    return request("DELETE", target, {}, headers);
  }
  HttpResponse post(std::string_view target, std::string_view body, const HttpHeaders& headers = {}) {
    return request("POST", target, body, headers);
  }

  // Raw mode. sendRaw writes the bytes as they are (false if the write failed, e.g. the
  // server closed the connection). readRaw reads until `responses` complete responses
  // have arrived, the server closes the connection, or `timeout` passes; bytes after
  // those responses stay buffered for the next read. Responses to HEAD are not supported
  // in raw mode (their bodies would be expected).
  bool sendRaw(std::string_view bytes);
  RawResult readRaw(std::size_t responses, std::chrono::milliseconds timeout = kTimeout);
  RawResult exchangeRaw(std::string_view bytes, std::size_t responses, std::chrono::milliseconds timeout = kTimeout);

  // Closes the connection (the next call opens a new one).
  void close();
  // Half-closes it: the server reads end of stream; responses can still be read.
  void shutdownSend();
  bool connected() const { return connected_; }
  // How many connections this client has opened (to check keep-alive reuse).
  std::size_t connectionsOpened() const { return connectionsOpened_; }
  int port() const { return port_; }
  void setTimeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

 private:
  struct Impl;
  void ensureConnected(bool freshRequest = false);
  RawResult readResponses(std::size_t count, std::chrono::milliseconds timeout, bool headRequest);

  int port_;
  std::chrono::milliseconds timeout_;
  bool connected_ = false;
  std::size_t connectionsOpened_ = 0;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cx::testing
