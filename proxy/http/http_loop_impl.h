// The connection loop's internals, shared by http_loop.cpp (events, parsing, dispatch,
// deadlines) and http_loop_send.cpp (responses and socket I/O, plain or TLS). Not for
// use outside proxy/http/: the interface is http_loop.h.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <openssl/ssl.h>
#include <sys/types.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/metrics.h"
#include "proxy/http/http_loop.h"
#include "proxy/http/request.h"
#include "proxy/http/response.h"

namespace cx::proxy {

namespace asio = boost::asio;

using Clock = std::chrono::steady_clock;

namespace http_loop_detail {

// What one request/response exchange needs. A connection holds one only from the first
// byte of a request until its response is handed to the socket, then gives it back to
// the loop's pool; the pool hands out the most recently returned first, so the requests
// of a loop keep reusing a few warm buffers instead of one cold set per connection.
struct Exchange {
  Exchange(std::size_t headerLimit, std::uint64_t bodyLimit) : parser(req, headerLimit, bodyLimit) {}
  Request req;
  RequestParser parser;
  Response res;
};

struct Conn {
  enum class Phase : std::uint8_t {
    Idle,      // between requests: waits for the first byte of the next one
    Header,    // reading a request's header
    Body,      // reading its body
    Handling,  // its handler has it; the socket is not read (responses stay in order)
    Ready,     // its response waits for the loop's next send turn (sendReady())
    Writing,   // the socket did not take the whole response; the rest is in `out`
    Closed,
  };
  HttpLoop::Impl* loop = nullptr;
  int fd = -1;
  SSL* ssl = nullptr;          // HTTPS: the connection's TLS session, over fd; null on a plain listener
  bool handshaking = false;    // its TLS handshake is not complete
  bool tlsWantsWrite = false;  // the last TLS read needs the socket writable first (resumed on EPOLLOUT)
  std::uint32_t request = 0;   // numbers this connection's requests, for their Responders
  Phase phase = Phase::Idle;
  bool readable = false;    // bytes may be waiting: an edge came after the last read that drained the socket
  bool peerClosed = false;  // the client's FIN (or an error) was reported: a read returns it even after a short one
  bool pumping = false;     // pump() is on the stack for this connection
  bool closeAfterWrite = false;
  Clock::time_point deadline = Clock::time_point::max();
  std::unique_ptr<Exchange> ex;  // while a request is in progress
  std::string in;                // received, not yet parsed: the rest of a request, or pipelined ones
  std::string out;               // what the socket did not take of a response
  std::size_t outSent = 0;
  std::list<Conn>::iterator self;
};

inline bool wouldBlock(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

}  // namespace http_loop_detail

using http_loop_detail::Conn;
using http_loop_detail::Exchange;

struct HttpLoop::Impl {
  Impl(asio::io_context& context, const LimitsConfig& l, Handler h, std::atomic<std::size_t>& o, metrics::Metrics& m,
       std::string name, std::shared_ptr<TlsServerContext> t)
      : io(context),
        tls(std::move(t)),
        limits(l),
        handler(std::move(h)),
        open(o),
        connectionsGauge(m.connections(name)),
        listener(std::move(name)),
        epollWait(context),
        sweeper(context) {
    const auto shortest = std::min({limits.headerTimeout, limits.bodyTimeout, limits.idleTimeout});
    tick = std::clamp<Clock::duration>(shortest / 4, std::chrono::milliseconds(5), std::chrono::seconds(1));
  }

  asio::io_context& io;
  const std::shared_ptr<TlsServerContext> tls;
  const LimitsConfig limits;
  const Handler handler;
  std::atomic<std::size_t>& open;
  prometheus::Gauge& connectionsGauge;
  const std::string listener;
  asio::posix::stream_descriptor epollWait;  // owns the epoll set's descriptor
  int epfd = -1;
  asio::steady_timer sweeper;
  Clock::duration tick{};
  std::list<Conn> conns;
  std::list<Conn> closed;  // closed during a turn; freed when no call on the stack can see them
  std::vector<std::unique_ptr<Exchange>> idleExchanges;
  bool draining = false;
  bool stopped = false;
  std::string head;            // the response head being sent: one per loop, so it stays warm
  std::string tlsOut;          // HTTPS: head and body together, so a response leaves as one TLS record (or a few)
  std::vector<Conn*> ready;    // responses complete since the last send turn, in order
  std::vector<Conn*> sending;  // the send turn's batch (sendReady())
  alignas(64) std::array<char, 16 * 1024> scratch{};  // every read lands here first

  void start();
  asio::awaitable<void> poll();
  asio::awaitable<void> sweep();
  void onEvent(Conn& c, std::uint32_t events);
  void pump(Conn& c);
  std::size_t consume(Conn& c, std::string_view data);
  void dispatch(Conn& c);
  void failed(Conn& c, std::uint32_t request, std::exception_ptr error);
  void responded(Conn& c, std::uint32_t request);
  void respond(Conn& c);
  void sendReady();
  void send(Conn& c, const Response& res, unsigned version, bool keepAlive, bool headRequest);
  void flush(Conn& c);
  void responseSent(Conn& c, bool keepAlive);
  void refuse(Conn& c, ParseStatus status);
  void onEof(Conn& c);
  void close(Conn& c);
  void adopt(int fd);
  // recv() on the socket, or its TLS equivalent: > 0 bytes into scratch, 0 at the end of
  // the stream, < 0 with errno (EAGAIN: nothing more now).
  ssize_t receive(Conn& c);
  ssize_t tlsReceive(Conn& c);
  // Writes as much of `data` as the connection takes now; sets *failed on an error.
  std::size_t tlsSend(Conn& c, std::string_view data, bool* failed);

  std::unique_ptr<Exchange> acquire() {
    if (idleExchanges.empty()) return std::make_unique<Exchange>(limits.maxHeaderBytes, limits.maxBodyBytes);
    auto e = std::move(idleExchanges.back());
    idleExchanges.pop_back();
    return e;
  }
  void release(std::unique_ptr<Exchange> e) {
    // About 2 KiB each: enough for a loop's share of a thousand busy connections;
    // beyond that a burst's exchanges go back to the allocator.
    constexpr std::size_t kKeep = 1024;
    constexpr std::size_t kKeepBody = 64 * 1024;  // nor does a pooled exchange keep a large body
    if (!e || idleExchanges.size() >= kKeep) return;
    e->parser.reset();  // ready for the next request, and a large request body let go now
    if (e->res.body().capacity() > kKeepBody) std::string().swap(e->res.body());
    idleExchanges.push_back(std::move(e));
  }
};

}  // namespace cx::proxy
