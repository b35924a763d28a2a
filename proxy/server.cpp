// HTTP/1.1 serving on Asio with C++20 coroutines. Each data worker owns an
// io_context and its backend connections; the first worker accepts on the data port
// and deals connections to the workers in turn; a connection never leaves its worker.
// Requests on one connection are read and answered one after the other, so pipelined
// requests get their responses in order. Limits (header bytes, body bytes, read
// deadlines, connection cap) are enforced before anything reaches a backend.
// The hot path starts no Asio operation it does not need: the request parser
// (http_request.h) is fed from the connection's buffer and reads happen only when it
// runs out (feed/readRequest), and a response leaves with one non-blocking send
// (startWrite), waiting only for what the socket did not take.
#include "proxy/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <charconv>
#include <cstring>
#include <list>
#include <optional>
#include <random>

#include "proxy/admin.h"
#include "proxy/http_util.h"
#include "proxy/load_monitor.h"
#include "proxy/log.h"
#include "proxy/reload.h"

namespace cx::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// ---------------------------------------------------------------- backend pool

namespace {
// Where this process's workers start on the replica list: random, so that the sidecars
// of a fleet, each with few workers, do not all keep to the first replicas.
std::size_t processAffinitySeed() {
  static const std::size_t seed = std::random_device{}();
  return seed;
}
}  // namespace

BackendPool::BackendPool(asio::any_io_executor executor, const Config& config, const std::string& password,
                         std::size_t workerIndex)
    : affinity_(processAffinitySeed() + workerIndex), stickiness_(config.redis.replicaStickiness) {
  auto add = [&](const BackendConfig& b) {
    std::vector<std::shared_ptr<backends::Connection>> conns;
    for (int i = 0; i < std::max(1, config.redis.connectionsPerWorker); ++i) {
      backends::ConnectionOptions o;
      o.host = b.address.host;
      o.port = b.address.port;
      o.password = password;
      o.connectTimeout = config.redis.connectTimeout;
      o.trackReplid = &b == &config.redis.primary;  // tokens pair primary offsets with it
      conns.push_back(std::make_shared<backends::Connection>(executor, o));
    }
    connections_.push_back(std::move(conns));
  };
  add(config.redis.primary);
  for (const auto& r : config.redis.replicas) add(r);
  loads_.resize(connections_.size());
}

void BackendPool::start() {
  for (auto& v : connections_)
    for (auto& c : v) c->start();
}

void BackendPool::stop() {
  for (auto& v : connections_)
    for (auto& c : v) c->stop();
}

backends::Connection& BackendPool::pick(std::size_t index) {
  auto& conns = connections_[index];
  backends::Connection* best = conns.front().get();
  for (auto& c : conns) {
    if (!c->connected()) continue;
    // Same order as the router's replica choice: fewest waiting, then a forming write.
    if (!best->connected() || c->waiting() < best->waiting() ||
        (c->waiting() == best->waiting() && c->queued() > 0 && best->queued() == 0)) {
      best = c.get();
    }
  }
  return *best;
}

std::span<const routing::BackendLoad> BackendPool::loads() {
  for (std::size_t i = 0; i < connections_.size(); ++i) {
    routing::BackendLoad load;
    for (auto& c : connections_[i]) {
      load.waiting += static_cast<std::uint32_t>(c->waiting());
      load.batchOpen = load.batchOpen || c->queued() > 0;
      load.waitingSince = std::min(load.waitingSince, c->oldestWaitingSince());
    }
    loads_[i] = load;
  }
  return loads_;
}

Worker::Worker(SharedState& shared, std::size_t index)
    : shared_(shared), index_(index), pool_(io_.get_executor(), *shared.config.load(), shared.password, index) {}

// ---------------------------------------------------------------- HTTP sessions

namespace {

// One client connection: its socket and one watchdog timer. beast::tcp_stream arms and
// cancels a timer for every read and write; here a phase only moves `deadline`, and the
// watchdog, which never sleeps longer than the shortest timeout, wakes, sees whether the
// deadline passed, and if so cancels the socket's operations (which then fail).
struct ClientConnection {
  ClientConnection(tcp::socket s, std::chrono::milliseconds shortestTimeout)
      : socket(std::move(s)), timer(socket.get_executor()), tick(shortestTimeout) {}

  void expiresAfter(std::chrono::milliseconds timeout) { deadline = Clock::now() + timeout; }
  void expiresNever() { deadline = Clock::time_point::max(); }

  using Clock = std::chrono::steady_clock;
  tcp::socket socket;
  asio::steady_timer timer;
  Clock::duration tick;
  Clock::time_point deadline = Clock::time_point::max();
  bool closed = false;
  bool busy = false;  // between the first byte of a request and the end of its response
};

// Runs until the connection is closed. A deadline moved later needs no timer operation;
// one moved earlier is never earlier than the next wake-up, which is at most `tick` away.
asio::awaitable<void> watchdog(std::shared_ptr<ClientConnection> conn) {
  while (!conn->closed) {
    const auto now = ClientConnection::Clock::now();
    if (now >= conn->deadline) {
      boost::system::error_code ignored;
      conn->socket.cancel(ignored);
      conn->deadline = ClientConnection::Clock::time_point::max();
    }
    conn->timer.expires_at(conn->deadline - now < conn->tick ? conn->deadline : now + conn->tick);
    co_await conn->timer.async_wait(kUseTuple);
  }
}

// What one request/response exchange needs: the parsed request, the response, and its
// serialized head. A connection holds one only from the first byte of a request until
// its response is sent, then gives it back to its worker's pool; the pool hands out the
// most recently returned first, so with many connections the requests of a worker keep
// reusing a few warm buffers instead of touching one cold set per connection.
struct Exchange {
  Exchange(std::size_t headerLimit, std::uint64_t bodyLimit) : parser(req, headerLimit, bodyLimit) {}
  Request req;
  RequestParser parser;
  Response res;
  std::string head;  // serialized status line + fields of the current response
};

// Per worker (or the admin thread): open connections, so a drain can close idle ones,
// and the pool of exchanges.
struct SessionRegistry {
  std::list<ClientConnection*> sessions;
  bool draining = false;
  std::vector<std::unique_ptr<Exchange>> idleExchanges;

  // A fresh or reset exchange.
  std::unique_ptr<Exchange> acquire(const LimitsConfig& limits) {
    if (idleExchanges.empty()) return std::make_unique<Exchange>(limits.maxHeaderBytes, limits.maxBodyBytes);
    auto e = std::move(idleExchanges.back());
    idleExchanges.pop_back();
    return e;
  }
  void release(std::unique_ptr<Exchange> e) {
    // About 2 KiB each: enough for a worker's share of 1,024 busy connections; beyond
    // that a burst's exchanges go back to the allocator.
    constexpr std::size_t kKeep = 1024;
    constexpr std::size_t kKeepBody = 64 * 1024;  // nor does a pooled exchange keep a large body
    if (!e || idleExchanges.size() >= kKeep) return;
    e->parser.reset();  // ready for the next request, and a large request body let go now
    if (e->res.body().capacity() > kKeepBody) std::string().swap(e->res.body());
    idleExchanges.push_back(std::move(e));
  }
};

Response errorResponse(http::status status, std::string_view code, std::string_view message) {
  Response res;
  res.result(status);
  res.set(http::field::content_type, "application/json");
  res.body() = jsonError(code, message);
  return res;
}

// Serializes the status line and header fields into `out` (reused across requests on a
// connection); the body is written from its own buffer, so nothing is copied twice.
// Content-Length and Connection are the server's to set, never a handler's.
void serializeHead(const Response& res, unsigned version, bool keepAlive, bool headRequest, std::string& out) {
  using namespace std::string_view_literals;  // lengths known at compile time, no strlen
  out.clear();
  out.append(version == 10 ? "HTTP/1.0 "sv : "HTTP/1.1 "sv);
  const unsigned status = res.result_int();
  char code[4] = {static_cast<char>('0' + status / 100 % 10), static_cast<char>('0' + status / 10 % 10),
                  static_cast<char>('0' + status % 10), ' '};
  out.append(code, 4);
  out.append(http::obsolete_reason(res.result()));
  out.append("\r\n"sv);
  res.appendFields(out);
  // 1xx, 204 and 304 carry no body and no Content-Length (RFC 9110 §8.6).
  if (status >= 200 && status != 204 && status != 304) {
    constexpr auto kName = "Content-Length: "sv;
    char line[kName.size() + 24];
    std::memcpy(line, kName.data(), kName.size());
    auto [end, ec] = std::to_chars(line + kName.size(), line + sizeof line - 2, res.body().size());
    (void)ec;
    *end++ = '\r';
    *end++ = '\n';
    out.append(line, static_cast<std::size_t>(end - line));
  }
  (void)headRequest;
  if (!keepAlive && version != 10) out.append("Connection: close\r\n"sv);
  if (keepAlive && version == 10) out.append("Connection: keep-alive\r\n"sv);
  out.append("\r\n"sv);
}

// A response on its way out: the head and body buffers, and how much the socket took.
struct PendingWrite {
  std::array<asio::const_buffer, 2> out;
  std::size_t total = 0;
  std::size_t sent = 0;
  boost::system::error_code ec;
  bool done() const { return ec || sent == total; }
};

// Serializes the head and sends the response with one non-blocking send. The socket
// takes it whole almost always, and then no operation is started and nothing waits;
// what it does not take, finishWrite() sends.
PendingWrite startWrite(tcp::socket& stream, const Response& res, unsigned version, bool keepAlive,
                        bool headRequest, std::string& head) {
  serializeHead(res, version, keepAlive, headRequest, head);
  const bool withBody = !headRequest && res.result_int() != 204 && res.result_int() != 304;
  PendingWrite w;
  w.out = {asio::buffer(head), withBody ? asio::buffer(res.body()) : asio::const_buffer{}};
  w.total = asio::buffer_size(w.out);
  w.sent = stream.write_some(w.out, w.ec);  // the socket is non-blocking
  if (w.ec == asio::error::would_block || w.ec == asio::error::try_again) w.ec = {};
  return w;
}

// Sends what startWrite() left; false on a socket error.
asio::awaitable<bool> finishWrite(tcp::socket& stream, PendingWrite& w) {
  if (!w.ec && w.sent < w.total) {
    beast::buffers_suffix<std::array<asio::const_buffer, 2>> rest(w.out);
    rest.consume(w.sent);
    auto [ec, n] = co_await asio::async_write(stream, rest, kUseTuple);
    w.sent += n;
    w.ec = ec;
  }
  co_return !w.ec;
}

// Writes a complete response; false on a socket error.
asio::awaitable<bool> writeResponse(tcp::socket& stream, const Response& res, unsigned version, bool keepAlive,
                                    bool headRequest, std::string& head) {
  auto w = startWrite(stream, res, version, keepAlive, headRequest, head);
  if (w.done()) co_return !w.ec;
  co_return co_await finishWrite(stream, w);
}

// Feeds buffered bytes to the parser until it has the header (or, with whole, the
// message). NeedMore: the bytes ran out first; any other status but Ok is final. A
// request already in the buffer is parsed without starting an operation.
ParseStatus feed(RequestParser& parser, beast::flat_buffer& buffer, bool whole) {
  for (;;) {
    if (whole ? parser.done() : parser.headerDone()) return ParseStatus::Ok;
    const std::string_view data(static_cast<const char*>(buffer.data().data()), buffer.size());
    const auto r = parser.headerDone() ? parser.parseBody(data) : parser.parseHeader(data);
    buffer.consume(r.used);
    if (r.status != ParseStatus::Ok) return r.status;
  }
}

// How reading a request ended: a parse status, or a socket error (ec), which includes
// the client closing before the first byte of a request (eof).
struct ReadOutcome {
  ParseStatus status = ParseStatus::Ok;
  boost::system::error_code ec;
};

// Parses the header (whole = false) or the rest of the message (whole = true), reading
// only when the buffer runs out. The client closing mid-request is PartialMessage.
asio::awaitable<ReadOutcome> readRequest(tcp::socket& stream, beast::flat_buffer& buffer, RequestParser& parser,
                                         bool whole) {
  ReadOutcome out{feed(parser, buffer, whole), {}};
  while (out.status == ParseStatus::NeedMore) {
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(beast::read_size(buffer, 65536)), kUseTuple);
    buffer.commit(n);
    if (ec == asio::error::eof && parser.gotSome()) {
      out.status = parser.finishAtEof();
      co_return out;
    }
    if (ec) {
      out.ec = ec;
      co_return out;
    }
    out.status = feed(parser, buffer, whole);
  }
  co_return out;
}

using Handler = std::function<asio::awaitable<void>(const Request&, Response&)>;

asio::awaitable<void> serveConnection(tcp::socket socket, const LimitsConfig limits, Handler handler,
                                      SessionRegistry& registry, std::atomic<std::size_t>& open,
                                      metrics::Metrics& metrics, std::string_view listener) {
  const auto shortest = std::min({limits.headerTimeout, limits.bodyTimeout, limits.idleTimeout});
  auto conn = std::make_shared<ClientConnection>(std::move(socket), std::max(shortest, std::chrono::milliseconds{1}));
  auto& stream = conn->socket;
  // startWrite() sends without waiting, which needs a non-blocking socket: a blocking
  // one could stall the whole worker on a slow reader, so such a connection is closed.
  boost::system::error_code modeError;
  stream.non_blocking(true, modeError);
  if (modeError) {
    log(LogLevel::Warn, "connection_refused", {{"listener", listener}, {"error", modeError.message()}});
    boost::system::error_code ignored;
    stream.close(ignored);
    open.fetch_sub(1);
    co_return;
  }
  asio::co_spawn(stream.get_executor(), watchdog(conn), asio::detached);
  beast::flat_buffer buffer;
  std::unique_ptr<Exchange> ex;  // held while a request is in progress
  registry.sessions.push_back(conn.get());
  auto self = std::prev(registry.sessions.end());
  metrics.connections(listener).Increment();

  // The answer to a request that could not be parsed; the connection closes after it.
  auto refuse = [&](ParseStatus status, const RequestParser& parser) -> std::optional<Response> {
    switch (status) {
      case ParseStatus::HeaderTooLarge:
        return errorResponse(http::status::request_header_fields_too_large, "header_too_large",
                             "the request header exceeds " + std::to_string(limits.maxHeaderBytes) + " bytes");
      case ParseStatus::BodyTooLarge:
        return errorResponse(http::status::payload_too_large, "body_too_large",
                             "the body exceeds " + std::to_string(limits.maxBodyBytes) +
                                 " bytes (limits.max_body_bytes)");
      case ParseStatus::PartialMessage:
        if (parser.headerDone()) return std::nullopt;  // a body cut short: nothing to answer
        [[fallthrough]];
      default: {
        const auto what = describe(status);
        return errorResponse(http::status::bad_request, "bad_request",
                             status == ParseStatus::LengthAndEncoding
                                 ? std::string(what)
                                 : "malformed HTTP request: " + std::string(what));
      }
    }
  };

  for (;;) {
    conn->busy = false;
    registry.release(std::move(ex));
    if (registry.draining) break;

    if (buffer.size() == 0) {
      // Idle keep-alive connection: wait for the first byte of the next request.
      conn->expiresAfter(limits.idleTimeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), kUseTuple);
      if (ec) break;
      buffer.commit(n);
    }
    conn->busy = true;
    ex = registry.acquire(limits);
    auto& [req, parser, res, head] = *ex;
    conn->expiresAfter(limits.headerTimeout);
    ReadOutcome read{feed(parser, buffer, false), {}};
    if (read.status == ParseStatus::NeedMore) read = co_await readRequest(stream, buffer, parser, false);
    if (read.status == ParseStatus::Ok && !read.ec) {
      if (parser.expectContinue() && !parser.done()) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        co_await asio::async_write(stream, asio::buffer(kContinue), kUseTuple);
      }
      if (!parser.done()) read.status = feed(parser, buffer, true);  // a body already here
      if (read.status == ParseStatus::NeedMore) {
        conn->expiresAfter(limits.bodyTimeout);
        read = co_await readRequest(stream, buffer, parser, true);
      }
    }
    if (read.ec) break;  // a socket error, a deadline, or the client closed between requests
    if (read.status != ParseStatus::Ok) {
      if (auto refusal = refuse(read.status, parser)) {
        conn->expiresAfter(limits.headerTimeout);
        co_await writeResponse(stream, *refusal, parser.headerDone() ? req.version() : 11, false, false, head);
      }
      break;
    }
    res.clear();
    conn->expiresNever();
    co_await handler(req, res);
    const bool keepAlive = req.keep_alive() && !registry.draining;
    auto w = startWrite(stream, res, req.version(), keepAlive, req.method() == http::verb::head, head);
    if (!w.done()) {
      conn->expiresAfter(limits.bodyTimeout);
      co_await finishWrite(stream, w);
    }
    if (w.ec || !keepAlive) break;
  }
  registry.release(std::move(ex));
  boost::system::error_code ignored;
  stream.shutdown(tcp::socket::shutdown_send, ignored);
  stream.close(ignored);
  conn->closed = true;
  conn->timer.cancel();
  registry.sessions.erase(self);
  open.fetch_sub(1);
  metrics.connections(listener).Decrement();
}

tcp::acceptor bindAcceptor(asio::io_context& io, const Endpoint& where) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(where.host == "localhost" ? "127.0.0.1" : where.host, ec);
  if (ec) throw std::runtime_error("cannot listen on " + where.toString() + ": not an IP address");
  tcp::endpoint ep(address, where.port);
  tcp::acceptor acceptor(io);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + where.toString() + ": " + ec.message());
  return acceptor;
}

// Where an accepted connection is served: an event loop, its handler and its sessions.
struct AcceptTarget {
  asio::io_context* io;
  Handler handler;
  SessionRegistry* registry;
};

// Accepts on one listener and hands connections to `targets` in turn, so every worker
// serves the same number of connections (with a listener per worker and SO_REUSEPORT,
// the kernel's hash of the client's address split 64 connections as unevenly as 40/24).
asio::awaitable<void> acceptLoop(tcp::acceptor& acceptor, LimitsConfig limits, std::vector<AcceptTarget> targets,
                                 std::atomic<std::size_t>& open, metrics::Metrics& metrics,
                                 std::string_view listener) {
  std::size_t next = 0;
  for (;;) {
    const AcceptTarget& target = targets[next];
    auto [ec, socket] = co_await acceptor.async_accept(*target.io, kUseTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      log(LogLevel::Warn, "accept_failed", {{"listener", listener}, {"error", ec.message()}});
      asio::steady_timer pause(acceptor.get_executor());
      pause.expires_after(std::chrono::milliseconds(50));  // e.g. EMFILE: do not spin
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    if (open.fetch_add(1) >= limits.maxConnections) {
      open.fetch_sub(1);
      static const std::string kFull = [] {
        const std::string body = jsonError("too_many_connections",
                                           "the connection limit (limits.max_connections) is reached; retry later");
        return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
               "Connection: close\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body;
      }();
      boost::system::error_code ignored;
      socket.non_blocking(true, ignored);
      socket.write_some(asio::buffer(kFull), ignored);
      socket.close(ignored);
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    next = (next + 1) % targets.size();
    asio::co_spawn(*target.io,
                   serveConnection(std::move(socket), limits, target.handler, *target.registry, open, metrics,
                                   listener),
                   asio::detached);
  }
}

void closeIdle(SessionRegistry& registry) {
  registry.draining = true;
  for (auto* s : registry.sessions) {
    if (!s->busy) {
      boost::system::error_code ignored;
      s->socket.cancel(ignored);
    }
  }
}

}  // namespace

// ---------------------------------------------------------------- server

struct Server::Impl {
  SharedState& shared;
  std::vector<std::unique_ptr<Worker>> workers;
  std::optional<tcp::acceptor> dataAcceptor;  // on workers[0]'s loop, which deals connections to all
  std::vector<std::unique_ptr<SessionRegistry>> registries;
  std::vector<std::thread> threads;
  std::atomic<std::size_t> openData{0};
  std::atomic<std::size_t> openAdmin{0};

  asio::io_context adminIo{1};
  tcp::acceptor adminAcceptor{adminIo};
  SessionRegistry adminRegistry;
  std::unique_ptr<AdminEndpoints> admin;

  explicit Impl(SharedState& s) : shared(s) {
    auto configSnapshot = shared.config.load();
    const Config& cfg = *configSnapshot;
    std::size_t n = cfg.workers > 0 ? static_cast<std::size_t>(cfg.workers)
                                    : std::max(1u, std::thread::hardware_concurrency());
    shared.inFlight.resize(n, 1 + cfg.redis.replicas.size());
    for (std::size_t i = 0; i < n; ++i) {
      workers.push_back(std::make_unique<Worker>(shared, i));
      registries.push_back(std::make_unique<SessionRegistry>());
    }
    dataAcceptor.emplace(bindAcceptor(workers[0]->io(), cfg.listen.data));
    adminAcceptor = bindAcceptor(adminIo, cfg.listen.admin);
    admin = std::make_unique<AdminEndpoints>(shared, adminIo.get_executor());
  }
};

Server::Server(SharedState& shared) : impl_(std::make_unique<Impl>(shared)) {}
Server::~Server() = default;

void Server::run() {
  auto& s = *impl_;
  // Listener settings and limits are read once: they change only with a restart.
  const auto startConfig = s.shared.config.load();
  const Config& cfg = *startConfig;
  std::vector<AcceptTarget> dataTargets;
  for (std::size_t i = 0; i < s.workers.size(); ++i) {
    Worker* w = s.workers[i].get();
    w->pool().start();
    Handler handler = [w](const Request& req, Response& res) { return w->handle(req, res); };
    dataTargets.push_back({&w->io(), std::move(handler), s.registries[i].get()});
  }
  asio::co_spawn(s.workers[0]->io(),
                 acceptLoop(*s.dataAcceptor, cfg.limits, std::move(dataTargets), s.openData, *s.shared.metrics, "data"),
                 asio::detached);
  LimitsConfig adminLimits = cfg.limits;
  adminLimits.maxBodyBytes = 64 * 1024;
  Handler adminHandler = [a = s.admin.get()](const Request& req, Response& res) { return a->handle(req, res); };
  asio::co_spawn(s.adminIo,
                 acceptLoop(s.adminAcceptor, adminLimits, {{&s.adminIo, adminHandler, &s.adminRegistry}},
                            s.openAdmin, *s.shared.metrics, "admin"),
                 asio::detached);
  s.admin->start();
  LoadMonitor loadMonitor(s.shared, s.adminIo.get_executor());
  loadMonitor.start();
  std::unique_ptr<ConfigReloader> reloader;
  if (!s.shared.configPath.empty()) {
    reloader = std::make_unique<ConfigReloader>(s.shared, s.adminIo.get_executor(), s.shared.configPath, nullptr);
    reloader->start();
  }

  for (auto& w : s.workers) {
    s.threads.emplace_back([io = &w->io()] { io->run(); });
  }

  asio::signal_set signals(s.adminIo, SIGINT, SIGTERM);
  asio::steady_timer drainTimer(s.adminIo);
  // Lives here, not in the signal handler: the drain timer calls it after the handler returned.
  std::function<void()> check;
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    log(LogLevel::Info, "shutdown_started",
        {{"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"},
         {"drain_timeout_ms", std::to_string(cfg.limits.drainTimeout.count())}});
    s.shared.draining = true;
    asio::post(s.workers[0]->io(), [&s] {
      boost::system::error_code ignored;
      s.dataAcceptor->close(ignored);
    });
    for (std::size_t i = 0; i < s.workers.size(); ++i) {
      asio::post(s.workers[i]->io(), [&s, i] { closeIdle(*s.registries[i]); });
    }
    auto deadline = backends::Clock::now() + cfg.limits.drainTimeout;
    check = [&, deadline] {
      if (s.openData.load() == 0 || backends::Clock::now() >= deadline) {
        if (s.openData.load() != 0) {
          log(LogLevel::Warn, "shutdown_drain_timeout", {{"open_connections", std::to_string(s.openData.load())}});
        }
        boost::system::error_code ignored;
        s.adminAcceptor.close(ignored);
        closeIdle(s.adminRegistry);
        if (reloader) reloader->stop();
        loadMonitor.stop();
        s.adminIo.stop();
        return;
      }
      drainTimer.expires_after(std::chrono::milliseconds(10));
      drainTimer.async_wait([&](const boost::system::error_code&) { check(); });
    };
    check();
  });

  log(LogLevel::Info, "listening",
      {{"data", cfg.listen.data.toString()},
       {"admin", cfg.listen.admin.toString()},
       {"workers", std::to_string(s.workers.size())}});
  s.adminIo.run();

  for (auto& w : s.workers) {
    asio::post(w->io(), [w = w.get()] {
      w->pool().stop();
      w->io().stop();
    });
  }
  for (auto& t : s.threads) t.join();
  s.admin->stop();
  log(LogLevel::Info, "shutdown_complete");
}

}  // namespace cx::proxy
