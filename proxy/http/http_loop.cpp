// The connection loop (see http_loop.h). A connection is a small state machine driven from four places: the
// poller (its socket is readable or writable), its handler's Responder (its response is
// ready), the send turn (sendReady) and the sweeper (a deadline passed). All run on the
// loop's thread.
#include "proxy/http/http_loop.h"
#include "proxy/http/http_loop_impl.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/status.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <exception>
#include <list>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/metrics.h"
#include "proxy/app/log.h"
#include "proxy/http/errors.h"

namespace cx::proxy {

namespace asio = boost::asio;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
using http_loop_detail::wouldBlock;

void HttpLoop::Impl::start() {
  epfd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  epollWait.assign(epfd);
  asio::co_spawn(io, poll(), asio::detached);
  asio::co_spawn(io, sweep(), asio::detached);
}

// Takes what is ready in the loop's set, a batch at a time. While batches keep coming it
// only yields to the loop's other work (backend replies) between them; when the set is
// empty it waits for it through Asio, which costs an epoll_ctl per wait.
asio::awaitable<void> HttpLoop::Impl::poll() {
  // Up to 512 ready connections a turn: their requests then leave for Redis in fewer,
  // larger writes, which Redis answers for less CPU each.
  std::array<epoll_event, 512> events;
  while (!stopped) {
    const int n = ::epoll_wait(epfd, events.data(), static_cast<int>(events.size()), 0);
    if (n < 0 && errno != EINTR) {
      log(LogLevel::Error, "epoll_wait_failed", {{"listener", listener}, {"error", std::strerror(errno)}});
      co_return;
    }
    for (int i = 0; i < n; ++i) onEvent(*static_cast<Conn*>(events[i].data.ptr), events[i].events);
    closed.clear();
    if (stopped) co_return;
    if (n > 0) {
      co_await asio::post(io, asio::use_awaitable);
      continue;
    }
    auto [ec] = co_await epollWait.async_wait(asio::posix::descriptor_base::wait_read, kUseTuple);
    if (ec) co_return;
  }
}

// Closes connections whose deadline passed. A deadline is set per phase (idle, header,
// body, writing) and never while a handler runs; a connection closes within `tick` of it.
asio::awaitable<void> HttpLoop::Impl::sweep() {
  while (!stopped) {
    sweeper.expires_after(tick);
    auto [ec] = co_await sweeper.async_wait(kUseTuple);
    if (ec || stopped) co_return;
    const auto now = Clock::now();
    for (auto it = conns.begin(); it != conns.end();) {
      Conn& c = *it++;  // close() moves c to `closed`
      if (c.deadline <= now) close(c);
    }
    closed.clear();
  }
}

void HttpLoop::Impl::adopt(int fd) {
  if (draining || stopped) {
    ::close(fd);
    open.fetch_sub(1);
    return;
  }
  conns.emplace_back();
  Conn& c = conns.back();
  c.loop = this;
  c.self = std::prev(conns.end());
  c.fd = fd;
  c.deadline = Clock::now() + limits.idleTimeout;
  if (tls) {
    // The handshake is part of the request's header phase and shares its deadline.
    c.deadline = Clock::now() + limits.headerTimeout;
    c.ssl = SSL_new(tls->current().get());
    if (c.ssl == nullptr || SSL_set_fd(c.ssl, fd) != 1) {
      ERR_clear_error();
      log(LogLevel::Warn, "connection_refused", {{"listener", listener}, {"error", "cannot start a TLS session"}});
      if (c.ssl) SSL_free(c.ssl);
      ::close(fd);
      conns.pop_back();
      open.fetch_sub(1);
      return;
    }
    SSL_set_accept_state(c.ssl);
    c.handshaking = true;
  }
  epoll_event ev{};
  // Registered once, edge-triggered, for both directions: an edge comes only when bytes
  // arrive, or when the socket drains after a send that did not fit.
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = &c;
  if (::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    log(LogLevel::Warn, "connection_refused", {{"listener", listener}, {"error", std::strerror(errno)}});
    if (c.ssl) SSL_free(c.ssl);
    ::close(fd);
    conns.pop_back();
    open.fetch_sub(1);
    return;
  }
  connectionsGauge.Increment();
}

void HttpLoop::Impl::onEvent(Conn& c, std::uint32_t events) {
  if (c.phase == Conn::Phase::Closed) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c.readable = true;
  // A FIN that came with the request's bytes brings no edge of its own later.
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c.peerClosed = true;
  if (c.tlsWantsWrite && (events & EPOLLOUT)) c.readable = true;
  // A TLS write may wait for bytes from the peer (a key update): any edge retries it.
  const std::uint32_t resumesWrite =
      c.ssl ? (EPOLLOUT | EPOLLIN | EPOLLHUP | EPOLLERR) : (EPOLLOUT | EPOLLHUP | EPOLLERR);
  if (c.phase == Conn::Phase::Writing && (events & resumesWrite)) flush(c);
  pump(c);
}

// Parses what is buffered and reads while the connection is between or inside reading a
// request and its socket may have bytes. Stops at a complete request (its handler runs),
// a refusal, or a drained socket.
void HttpLoop::Impl::pump(Conn& c) {
  // Never nested for one connection today (a response is sent in a later turn, never
  // from inside its own pump), and it must not be: the outer pump would lose its place.
  if (c.pumping) return;
  c.pumping = true;
  for (;;) {
    if (c.phase != Conn::Phase::Idle && c.phase != Conn::Phase::Header && c.phase != Conn::Phase::Body) break;
    if (!c.in.empty()) {
      // Buffered bytes first: the rest of a request, or the next pipelined one.
      const std::size_t used = consume(c, c.in);
      if (c.phase == Conn::Phase::Closed) break;
      c.in.erase(0, used);
      if (c.phase == Conn::Phase::Handling) {
        dispatch(c);
        continue;
      }
      if (c.phase != Conn::Phase::Header && c.phase != Conn::Phase::Body) continue;
    }
    if (!c.readable) break;
    const ssize_t n = receive(c);
    if (n > 0) {
      const auto got = static_cast<std::size_t>(n);
      // Drained: the next bytes bring an edge. Not for TLS, whose reads return one record
      // at a time: only a read that would block says the socket is empty.
      if (got < scratch.size() && !c.peerClosed && !c.ssl) c.readable = false;
      const std::string_view data(scratch.data(), got);
      if (!c.in.empty()) {
        c.in.append(data);
        continue;
      }
      const std::size_t used = consume(c, data);
      if (c.phase == Conn::Phase::Closed) break;
      if (used < got) c.in.assign(data.substr(used));  // kept before the handler can run
      if (c.phase == Conn::Phase::Handling) dispatch(c);
      continue;
    }
    if (n == 0) {
      onEof(c);
      break;
    }
    if (errno == EINTR) continue;
    if (wouldBlock(errno)) {
      c.readable = false;
      break;
    }
    close(c);  // a socket error (e.g. reset)
    break;
  }
  c.pumping = false;
}

// Feeds `data` to the parser of the request in progress (starting one on the first
// byte). Returns the bytes used; leaves the phase Handling for a complete request (the
// caller dispatches it), Header/Body when it needs more, or after a refusal Writing or
// Closed.
std::size_t HttpLoop::Impl::consume(Conn& c, std::string_view data) {
  std::size_t used = 0;
  if (c.phase == Conn::Phase::Idle) {
    if (data.empty()) return 0;
    c.ex = acquire();
    c.phase = Conn::Phase::Header;
    c.deadline = Clock::now() + limits.headerTimeout;
  }
  RequestParser& parser = c.ex->parser;
  if (c.phase == Conn::Phase::Header) {
    const auto r = parser.parseHeader(data);
    used += r.used;
    if (r.status == ParseStatus::NeedMore) return used;
    if (r.status != ParseStatus::Ok) {
      refuse(c, r.status);
      return used;
    }
    c.phase = Conn::Phase::Body;
    if (!parser.done()) {
      c.deadline = Clock::now() + limits.bodyTimeout;
      if (parser.expectContinue()) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        // Into an idle socket's empty send buffer; one that does not take 25 bytes is
        // closed rather than queued in front of the response.
        bool failed = false;
        const std::size_t took = c.ssl ? tlsSend(c, kContinue, &failed)
                                       : static_cast<std::size_t>(std::max<ssize_t>(
                                             0, ::send(c.fd, kContinue.data(), kContinue.size(), MSG_NOSIGNAL)));
        if (failed || took != kContinue.size()) {
          close(c);
          return used;
        }
      }
    }
  }
  while (!parser.done()) {
    const auto r = parser.parseBody(data.substr(used));
    used += r.used;
    if (r.status == ParseStatus::NeedMore) return used;
    if (r.status != ParseStatus::Ok) {
      refuse(c, r.status);
      return used;
    }
  }
  c.phase = Conn::Phase::Handling;
  c.deadline = Clock::time_point::max();  // the handler has its own deadlines
  return used;
}

// Runs the handler of a complete request. It answers through the Responder, here or
// later; meanwhile the socket is not read (pump() stops at Handling), so nothing closes
// the connection under a handler, and pipelined requests wait their turn.
void HttpLoop::Impl::dispatch(Conn& c) {
  Exchange& ex = *c.ex;
  ex.res.clear();
  const std::uint32_t request = ++c.request;
  try {
    handler(ex.req, ex.res, HttpLoop::makeResponder(&c, request));
  } catch (...) {  // handlers return errors as values; this is a bug
    failed(c, request, std::current_exception());
  }
}

// A handler threw. If it had not answered yet, the client gets a 500; any later call of
// its Responder is then a stray one and ignored.
void HttpLoop::Impl::failed(Conn& c, std::uint32_t request, std::exception_ptr error) {
  const bool answering = c.phase == Conn::Phase::Handling && c.request == request;
  answerException(listener, error, answering ? &c.ex->res : nullptr);
  if (!answering) return;
  ++c.request;
  respond(c);
}

void HttpLoop::Impl::responded(Conn& c, std::uint32_t request) {
  if (c.phase != Conn::Phase::Handling || c.request != request) {
    log(LogLevel::Error, "stray_response", {{"listener", listener}});  // a handler bug: answered twice
    return;
  }
  respond(c);
}

void HttpLoop::Impl::respond(Conn& c) {
  // Sent in the loop's next turn with the other responses completed in this one (say,
  // by one read of backend replies): back to back, so a client woken by the first finds
  // the next ones already there instead of sleeping again between them.
  c.phase = Conn::Phase::Ready;
  ready.push_back(&c);
  if (ready.size() == 1) asio::post(io, [this] { sendReady(); });
}

void HttpLoop::Impl::sendReady() {
  // Responses completed while these are sent (a pipelined request answered at once)
  // go to `ready` and its next turn. Both vectors keep their capacity.
  sending.swap(ready);
  for (Conn* c : sending) {
    if (c->phase != Conn::Phase::Ready) continue;
    Exchange& ex = *c->ex;
    const bool keepAlive = ex.req.keep_alive() && !draining;
    send(*c, ex.res, ex.req.version(), keepAlive, ex.req.method() == http::verb::head);
  }
  sending.clear();
  closed.clear();
}

// The answer to a request that could not be parsed; the connection closes after it.
void HttpLoop::Impl::refuse(Conn& c, ParseStatus status) {
  const RequestParser& parser = c.ex->parser;
  if (status == ParseStatus::PartialMessage && parser.headerDone()) {
    close(c);  // a body cut short: nothing to answer
    return;
  }
  Response res;
  switch (status) {
    case ParseStatus::HeaderTooLarge:
      setError(res, ErrorCode::HeaderTooLarge,
               "the request header exceeds " + std::to_string(limits.maxHeaderBytes) + " bytes");
      break;
    case ParseStatus::BodyTooLarge:
      setError(res, ErrorCode::BodyTooLarge,
               "the body exceeds " + std::to_string(limits.maxBodyBytes) + " bytes (limits.max_body_bytes)");
      break;
    default: {
      const auto what = describe(status);
      setError(res, ErrorCode::BadRequest,
               status == ParseStatus::LengthAndEncoding ? std::string(what)
                                                        : "malformed HTTP request: " + std::string(what));
    }
  }
  const unsigned version = parser.headerDone() ? c.ex->req.version() : 11;
  c.in.clear();  // nothing after a refused request is read
  send(c, res, version, false, false);
}

void HttpLoop::Impl::onEof(Conn& c) {
  if (c.phase == Conn::Phase::Idle || !c.ex || !c.ex->parser.gotSome()) {
    close(c);  // the client closed between requests
    return;
  }
  refuse(c, c.ex->parser.finishAtEof());
}

void HttpLoop::Impl::close(Conn& c) {
  if (c.phase == Conn::Phase::Closed) return;
  release(std::move(c.ex));
  if (c.ssl) {
    // close_notify, if the socket takes it now; a client has what it needs without it.
    if (!c.handshaking) SSL_shutdown(c.ssl);
    SSL_free(c.ssl);
    c.ssl = nullptr;
    ERR_clear_error();
  }
  ::shutdown(c.fd, SHUT_WR);
  ::close(c.fd);  // also leaves the epoll set
  c.fd = -1;
  c.phase = Conn::Phase::Closed;
  c.deadline = Clock::time_point::max();
  closed.splice(closed.end(), conns, c.self);
  open.fetch_sub(1);
  connectionsGauge.Decrement();
}

HttpLoop::HttpLoop(asio::io_context& io, const LimitsConfig& limits, Handler handler, std::atomic<std::size_t>& open,
                   metrics::Metrics& metrics, std::string listener, std::shared_ptr<TlsServerContext> tls)
    : impl_(
          std::make_unique<Impl>(io, limits, std::move(handler), open, metrics, std::move(listener), std::move(tls))) {}

void Responder::operator()() const {
  auto& c = *static_cast<Conn*>(conn_);
  c.loop->responded(c, request_);
}

HttpLoop::~HttpLoop() {
  // Requests still in a handler (the io_context stopped first) are dropped with it: their
  // Responders must not be called after this (a worker's pending completions are
  // destroyed with its io_context, after its loop, without being run).
  for (auto& c : impl_->conns) {
    if (c.ssl) SSL_free(c.ssl);
    if (c.fd >= 0) ::close(c.fd);
  }
}

void HttpLoop::start() { impl_->start(); }
void HttpLoop::adopt(int fd) { impl_->adopt(fd); }

void HttpLoop::drain() {
  auto& s = *impl_;
  s.draining = true;
  for (auto it = s.conns.begin(); it != s.conns.end();) {
    Conn& c = *it++;
    if (c.phase == Conn::Phase::Idle && c.in.empty()) s.close(c);
  }
  s.closed.clear();
}

void HttpLoop::stop() {
  auto& s = *impl_;
  s.stopped = true;
  s.ready.clear();  // their send turn never comes
  for (auto it = s.conns.begin(); it != s.conns.end();) {
    Conn& c = *it++;
    if (c.phase != Conn::Phase::Handling) s.close(c);
  }
  s.closed.clear();
  s.sweeper.cancel();
  boost::system::error_code ignored;
  s.epollWait.close(ignored);  // closes the epoll set
}

}  // namespace cx::proxy
