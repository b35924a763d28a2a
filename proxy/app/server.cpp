// The server: data workers, each an io_context on its own thread with its backend
// connections and its HTTP connections (proxy/http/http_loop.h); the first worker accepts on the
// data port and deals connections to the workers in turn, and a connection never leaves
// its worker. The admin listener has a loop of its own on the admin thread. Graceful
// shutdown: stop accepting, close idle connections, let requests in progress finish
// (limits.drain_timeout).
#include "proxy/app/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/admin/admin.h"
#include "proxy/app/credentials.h"
#include "proxy/app/load_monitor.h"
#include "proxy/app/log.h"
#include "proxy/app/reload.h"
#include "proxy/http/errors.h"
#include "proxy/http/http_loop.h"

namespace cx::proxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// ---------------------------------------------------------------- listeners

namespace {

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

// Where an accepted connection is served: an event loop and its connections.
struct AcceptTarget {
  asio::io_context* io;
  HttpLoop* loop;
};

// Accepts on one listener and hands connections to `targets` in turn, so every worker
// serves the same number of connections (with a listener per worker and SO_REUSEPORT,
// the kernel's hash of the clients' addresses decides, which can split them unevenly).
asio::awaitable<void> acceptLoop(tcp::acceptor& acceptor, LimitsConfig limits, std::vector<AcceptTarget> targets,
                                 std::atomic<std::size_t>& open, std::string_view listener) {
  std::size_t next = 0;
  for (;;) {
    const AcceptTarget& target = targets[next];
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
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
        Response res;
        setError(res, ErrorCode::TooManyConnections);
        std::string out;
        serializeHead(res, 11, /*keepAlive=*/false, out);
        return out + res.body();
      }();
      boost::system::error_code ignored;
      socket.non_blocking(true, ignored);
      socket.write_some(asio::buffer(kFull), ignored);
      socket.close(ignored);
      continue;
    }
    // The loop's sends never wait, so the socket must be non-blocking: a blocking one
    // could stall a whole worker on a slow reader, so such a connection is closed.
    boost::system::error_code ec2;
    socket.set_option(tcp::no_delay(true), ec2);
    socket.non_blocking(true, ec2);
    const int fd = ec2 ? -1 : socket.release(ec2);
    if (ec2 || fd < 0) {
      log(LogLevel::Warn, "connection_refused", {{"listener", listener}, {"error", ec2.message()}});
      boost::system::error_code ignored;
      socket.close(ignored);
      open.fetch_sub(1);
      continue;
    }
    next = (next + 1) % targets.size();
    asio::post(*target.io, [loop = target.loop, fd] { loop->adopt(fd); });
  }
}

}  // namespace

// ---------------------------------------------------------------- server

struct Server::Impl {
  SharedState& shared;
  std::vector<std::unique_ptr<Worker>> workers;
  std::optional<tcp::acceptor> dataAcceptor;  // on workers[0]'s loop, which deals connections to all
  std::atomic<std::size_t> openData{0};
  std::atomic<std::size_t> openAdmin{0};
  std::vector<std::unique_ptr<HttpLoop>> loops;  // one per worker; destroyed before the workers' io_contexts
  std::vector<std::thread> threads;

  asio::io_context adminIo{1};
  tcp::acceptor adminAcceptor{adminIo};
  std::unique_ptr<AdminEndpoints> admin;
  std::unique_ptr<HttpLoop> adminLoop;

  explicit Impl(SharedState& s) : shared(s) {
    auto configSnapshot = shared.config.load();
    const Config& cfg = *configSnapshot;
    std::size_t n =
        cfg.workers > 0 ? static_cast<std::size_t>(cfg.workers) : std::max(1u, std::thread::hardware_concurrency());
    shared.inFlight.resize(n, std::max<std::size_t>(1 + cfg.redis.replicas.size(), backends::Topology::kMaxBackends));
    for (std::size_t i = 0; i < n; ++i) {
      workers.push_back(std::make_unique<Worker>(shared, i));
      Worker* w = workers.back().get();
      loops.push_back(std::make_unique<HttpLoop>(
          w->io(), cfg.limits, [w](const Request& req, Response& res, Responder done) { w->handle(req, res, done); },
          openData, *shared.metrics, "data", shared.dataTls));
    }
    dataAcceptor.emplace(bindAcceptor(workers[0]->io(), cfg.listen.data));
    adminAcceptor = bindAcceptor(adminIo, cfg.listen.admin);
    admin = std::make_unique<AdminEndpoints>(shared, adminIo.get_executor());
    LimitsConfig adminLimits = cfg.limits;
    adminLimits.maxBodyBytes = 64 * 1024;
    adminLoop = std::make_unique<HttpLoop>(
        adminIo, adminLimits,
        [a = admin.get()](const Request& req, Response& res, Responder done) {
          a->handle(req, res);
          done();
        },
        openAdmin, *shared.metrics, "admin", shared.adminTls);
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
    s.loops[i]->start();
    dataTargets.push_back({&w->io(), s.loops[i].get()});
  }
  asio::co_spawn(s.workers[0]->io(),
                 acceptLoop(*s.dataAcceptor, cfg.limits, std::move(dataTargets), s.openData, "data"), asio::detached);
  s.adminLoop->start();
  asio::co_spawn(s.adminIo,
                 acceptLoop(s.adminAcceptor, cfg.limits, {{&s.adminIo, s.adminLoop.get()}}, s.openAdmin, "admin"),
                 asio::detached);
  s.admin->start();
  LoadMonitor loadMonitor(s.shared, s.adminIo.get_executor());
  loadMonitor.start();
  CredentialReloader credentials(s.shared, s.adminIo.get_executor());
  credentials.start();
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
      asio::post(s.workers[i]->io(), [&s, i] { s.loops[i]->drain(); });
    }
    auto deadline = backends::Clock::now() + cfg.limits.drainTimeout;
    check = [&, deadline] {
      if (s.openData.load() == 0 || backends::Clock::now() >= deadline) {
        if (s.openData.load() != 0) {
          log(LogLevel::Warn, "shutdown_drain_timeout", {{"open_connections", std::to_string(s.openData.load())}});
        }
        boost::system::error_code ignored;
        s.adminAcceptor.close(ignored);
        s.adminLoop->drain();
        if (reloader) reloader->stop();
        credentials.stop();
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
       {"workers", std::to_string(s.workers.size())},
       {"data_scheme", s.shared.dataTls ? "https" : "http"},
       {"admin_scheme", s.shared.adminTls ? "https" : "http"},
       {"bearer_tokens", s.shared.authEnabled ? "on" : "off"}});
  s.adminIo.run();

  for (std::size_t i = 0; i < s.workers.size(); ++i) {
    asio::post(s.workers[i]->io(), [w = s.workers[i].get(), loop = s.loops[i].get()] {
      loop->stop();
      w->pool().stop();
      w->io().stop();
    });
  }
  for (auto& t : s.threads) t.join();
  s.adminLoop->stop();
  s.admin->stop();
  log(LogLevel::Info, "shutdown_complete");
}

}  // namespace cx::proxy
