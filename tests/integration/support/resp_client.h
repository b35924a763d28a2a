// A tiny blocking RESP2 client for tests: talks to redis-server directly (not through
// cxproxy) to set up state, inject faults and check what the backends hold.
#pragma once

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace cx::testing {

using namespace std::chrono_literals;

struct RedisReply {
  enum class Type { Status, Bulk, Nil, Integer, Error, Array };
  Type type = Type::Nil;
  std::string str;                   // Status, Bulk, Error (without the leading '-')
  long long integer = 0;             // Integer
  std::vector<RedisReply> elements;  // Array

  bool isError() const { return type == Type::Error; }
  bool isNil() const { return type == Type::Nil; }
  // redis-cli-like text: status/bulk → the string, integer → decimal, nil → "(nil)",
  // error → "(error) <message>", array → "[a, b, [c]]".
  std::string toString() const;
};

// An I/O failure, timeout or protocol error talking to Redis (not a -ERR reply).
class RedisIoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One connection to 127.0.0.1:port. Every connect, read and write has a deadline, so a
// paused (SIGSTOP) server makes calls throw RedisIoError instead of hanging. Not
// thread-safe. After a RedisIoError the connection is unusable.
class RespConnection {
 public:
  explicit RespConnection(int port, std::chrono::milliseconds timeout = 10s);
  // Over a Unix socket (a TLS-only node's plain side door for the test harness); port()
  // still reports `port`, for messages.
  RespConnection(const std::filesystem::path& unixSocket, int port, std::chrono::milliseconds timeout = 10s);
  ~RespConnection();
  RespConnection(const RespConnection&) = delete;
  RespConnection& operator=(const RespConnection&) = delete;

  // Sends argv as one command and returns its reply (a -ERR reply is a value).
  RedisReply command(const std::vector<std::string>& argv);
  // Pipelining: queue commands with send(), then read() replies in order.
  void send(const std::vector<std::string>& argv);
  RedisReply read();

  void setTimeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  int port() const { return port_; }
  bool broken() const { return broken_; }

 private:
  [[noreturn]] void fail(const std::string& what);
  void fill(std::chrono::steady_clock::time_point deadline);
  std::string readLine(std::chrono::steady_clock::time_point deadline);
  RedisReply readReply(std::chrono::steady_clock::time_point deadline, int depth);

  int fd_ = -1;
  int port_;
  std::chrono::milliseconds timeout_;
  std::string buffer_;
  std::size_t pos_ = 0;
  bool broken_ = false;
};

// Encodes argv as a RESP array of bulk strings.
std::string encodeRespCommand(const std::vector<std::string>& argv);

}  // namespace cx::testing
