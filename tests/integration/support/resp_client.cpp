// A tiny blocking RESP2 client for tests (poll()-based deadlines on a plain socket).
#include "tests/integration/support/resp_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cx::testing {
namespace {

using Clock = std::chrono::steady_clock;

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on fd until the deadline. False on timeout.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, remainingMs(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

std::string RedisReply::toString() const {
  switch (type) {
    case Type::Status:
    case Type::Bulk: return str;
    case Type::Nil: return "(nil)";
    case Type::Integer: return std::to_string(integer);
    case Type::Error: return "(error) " + str;
    case Type::Array: {
      std::string out = "[";
      for (std::size_t i = 0; i < elements.size(); ++i) {
        if (i > 0) out += ", ";
        out += elements[i].toString();
      }
      return out + "]";
    }
  }
  return {};
}

std::string encodeRespCommand(const std::vector<std::string>& argv) {
  std::string out = "*" + std::to_string(argv.size()) + "\r\n";
  for (const auto& arg : argv) {
    out += "$" + std::to_string(arg.size()) + "\r\n";
    out += arg;
    out += "\r\n";
  }
  return out;
}

RespConnection::RespConnection(int port, std::chrono::milliseconds timeout) : port_(port), timeout_(timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) throw RedisIoError(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  auto deadline = Clock::now() + timeout_;
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      int err = errno;
      ::close(fd_);
      throw RedisIoError("connect 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(err));
    }
    int err = ETIMEDOUT;
    if (waitFor(fd_, POLLOUT, deadline)) {
      socklen_t len = sizeof err;
      ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (err != 0) {
      ::close(fd_);
      throw RedisIoError("connect 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(err));
    }
  }
}

RespConnection::RespConnection(const std::filesystem::path& unixSocket, int port, std::chrono::milliseconds timeout)
    : port_(port), timeout_(timeout) {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw RedisIoError(std::string("socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = unixSocket.string();
  if (path.size() >= sizeof addr.sun_path) {
    ::close(fd_);
    throw RedisIoError("unix socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // A local connect completes at once or fails (no listener yet): no deadline needed.
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd_);
    throw RedisIoError("connect " + path + ": " + std::strerror(err));
  }
  const int flags = ::fcntl(fd_, F_GETFL);
  ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
}

RespConnection::~RespConnection() {
  if (fd_ >= 0) ::close(fd_);
}

void RespConnection::fail(const std::string& what) {
  broken_ = true;
  throw RedisIoError("redis 127.0.0.1:" + std::to_string(port_) + ": " + what);
}

RedisReply RespConnection::command(const std::vector<std::string>& argv) {
  send(argv);
  return read();
}

void RespConnection::send(const std::vector<std::string>& argv) {
  if (broken_) fail("connection is broken");
  std::string data = encodeRespCommand(argv);
  auto deadline = Clock::now() + timeout_;
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!waitFor(fd_, POLLOUT, deadline)) fail("write timed out");
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      fail(std::string("write: ") + std::strerror(errno));
    }
  }
}

RedisReply RespConnection::read() {
  if (broken_) fail("connection is broken");
  return readReply(Clock::now() + timeout_, 0);
}

void RespConnection::fill(Clock::time_point deadline) {
  if (pos_ > 0 && pos_ == buffer_.size()) {
    buffer_.clear();
    pos_ = 0;
  }
  char chunk[16384];
  for (;;) {
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return;
    }
    if (n == 0) fail("connection closed by server");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) fail(std::string("read: ") + std::strerror(errno));
    if (!waitFor(fd_, POLLIN, deadline)) fail("read timed out");
  }
}

std::string RespConnection::readLine(Clock::time_point deadline) {
  for (;;) {
    auto end = buffer_.find("\r\n", pos_);
    if (end != std::string::npos) {
      std::string line = buffer_.substr(pos_, end - pos_);
      pos_ = end + 2;
      return line;
    }
    fill(deadline);
  }
}

RedisReply RespConnection::readReply(Clock::time_point deadline, int depth) {
  if (depth > 64) fail("reply nested too deeply");
  std::string line = readLine(deadline);
  if (line.empty()) fail("protocol error: empty line");
  RedisReply reply;
  std::string rest = line.substr(1);
  auto toNumber = [&](const std::string& text) {
    try {
      std::size_t used = 0;
      long long value = std::stoll(text, &used);
      if (used != text.size()) throw std::invalid_argument(text);
      return value;
    } catch (const std::exception&) {
      fail("protocol error: bad number in '" + line + "'");
    }
    return 0LL;
  };
  switch (line[0]) {
    case '+':
      reply.type = RedisReply::Type::Status;
      reply.str = rest;
      break;
    case '-':
      reply.type = RedisReply::Type::Error;
      reply.str = rest;
      break;
    case ':':
      reply.type = RedisReply::Type::Integer;
      reply.integer = toNumber(rest);
      break;
    case '$': {
      long long len = toNumber(rest);
      if (len < 0) {
        reply.type = RedisReply::Type::Nil;
        break;
      }
      auto need = static_cast<std::size_t>(len) + 2;
      while (buffer_.size() - pos_ < need) fill(deadline);
      reply.type = RedisReply::Type::Bulk;
      reply.str = buffer_.substr(pos_, static_cast<std::size_t>(len));
      pos_ += need;
      break;
    }
    case '*': {
      long long count = toNumber(rest);
      if (count < 0) {
        reply.type = RedisReply::Type::Nil;
        break;
      }
      reply.type = RedisReply::Type::Array;
      for (long long i = 0; i < count; ++i) reply.elements.push_back(readReply(deadline, depth + 1));
      break;
    }
    default: fail("protocol error: unexpected line '" + line + "'");
  }
  return reply;
}

}  // namespace cx::testing
