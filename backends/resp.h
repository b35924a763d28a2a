// RESP2 values, the command encoder and an incremental reply decoder. hiredis's
// redisReader does the parsing, building RespValues directly; Asio owns the sockets
// (ARCHITECTURE.md).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct redisReader;

namespace cx::backends {

enum class RespType : std::uint8_t { Status, Bulk, Error, Integer, Nil, Array };

// One reply. A Redis error reply (-ERR ...) is a value of type Error, not a failure.
struct RespValue {
  RespType type = RespType::Nil;
  std::string str;                  // Status, Bulk, Error
  long long integer = 0;            // Integer
  std::vector<RespValue> elements;  // Array

  bool isError() const { return type == RespType::Error; }
  bool isNil() const { return type == RespType::Nil; }
  bool isString() const { return type == RespType::Bulk || type == RespType::Status; }
  static RespValue makeError(std::string message) {
    RespValue v;
    v.type = RespType::Error;
    v.str = std::move(message);
    return v;
  }
};

// Appends the RESP encoding of argv (an array of bulk strings) to out.
void appendCommand(std::string& out, std::span<const std::string_view> argv);
std::string encodeCommand(std::span<const std::string_view> argv);

// Incremental decoder: feed bytes as they arrive, take complete replies out.
// Not thread-safe; owned by one connection.
class RespReader {
 public:
  RespReader();
  ~RespReader();
  RespReader(const RespReader&) = delete;
  RespReader& operator=(const RespReader&) = delete;

  void feed(const char* data, std::size_t size);
  enum class Status { Reply, NeedMore, ProtocolError };
  // On Reply, out holds the next complete reply.
  Status next(RespValue& out);

 private:
  redisReader* reader_;
  RespValue root_;  // the reply being built (see resp.cpp)
};

}  // namespace cx::backends
