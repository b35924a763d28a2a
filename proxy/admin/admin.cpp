// The admin endpoints (see admin.h), the COMMAND-table loader and the staleness sampler.
#include "proxy/admin/admin.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>

#include "backends/sentinel.h"
#include "proxy/admin/status_json.h"
#include "proxy/app/log.h"
#include "proxy/http/errors.h"

namespace cx::proxy {

namespace asio = boost::asio;

AdminEndpoints::AdminEndpoints(SharedState& shared, asio::any_io_executor executor)
    : shared_(shared), executor_(executor), startedAt_(std::chrono::system_clock::now()) {}

void AdminEndpoints::start() {
  auto configSnapshot = shared_.config.load();
  const Config& cfg = *configSnapshot;
  auto add = [&](const BackendConfig& b) { addTableConnection(b.name, b.address.host, b.address.port); };
  // Sentinel mode: the nodes are discovered; loadCommandTable() asks those it learns of.
  if (!cfg.redis.sentinel) {
    add(cfg.redis.primary);
    for (const auto& r : cfg.redis.replicas) add(r);
  }
  asio::co_spawn(executor_, loadCommandTable(), asio::detached);
  samplerTimer_ = std::make_shared<asio::steady_timer>(executor_);
  asio::co_spawn(executor_, sampleStaleness(samplerTimer_), asio::detached);
}

void AdminEndpoints::stop() {
  for (auto& c : tableConnections_) c->stop();
  stopped_ = true;
  if (samplerTimer_) samplerTimer_->cancel();
}

asio::awaitable<void> AdminEndpoints::sampleStaleness(std::shared_ptr<asio::steady_timer> timer) {
  auto next = backends::Clock::now();
  while (!stopped_) {
    stalenessHistory_.sample(*shared_.tracker->snapshot(), backends::Clock::now());
    next += stalenessHistory_.interval();
    if (next < backends::Clock::now()) next = backends::Clock::now();  // fell behind: no burst
    timer->expires_at(next);
    auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) co_return;
  }
}

void AdminEndpoints::addTableConnection(const std::string& name, const std::string& host, std::uint16_t port) {
  auto configSnapshot = shared_.config.load();
  backends::ConnectionOptions o;
  o.host = host;
  o.port = port;
  o.username = configSnapshot->redis.username;
  o.password = shared_.password;
  o.tls = shared_.redisTls;
  o.connectTimeout = configSnapshot->redis.connectTimeout;
  tableConnections_.push_back(std::make_shared<backends::Connection>(executor_, o));
  tableNames_.push_back(name);
  tableConnections_.back()->start();
}

asio::awaitable<void> AdminEndpoints::loadCommandTable() {
  static constexpr std::array<std::string_view, 1> kCommand{"COMMAND"};
  const std::string request = backends::encodeCommand(kCommand);
  asio::steady_timer timer(executor_);
  auto configSnapshot = shared_.config.load();
  const Config& cfg = *configSnapshot;
  for (;;) {
    if (cfg.redis.sentinel) {
      // Any discovered node will do: the table is the same on every node of one version.
      auto topology = shared_.tracker->snapshot();
      for (const auto& b : topology->backends) {
        if (!b.up) continue;
        if (std::find(tableNames_.begin(), tableNames_.end(), b.name) != tableNames_.end()) continue;
        if (auto address = backends::parseNodeAddress(b.address))
          addTableConnection(b.name, address->host, address->port);
      }
    }
    for (std::size_t i = 0; i < tableConnections_.size(); ++i) {
      auto& conn = tableConnections_[i];
      if (!co_await conn->waitConnected(std::chrono::milliseconds(200))) continue;
      auto result = co_await conn->execute(request, 1, std::chrono::milliseconds(5000));
      if (!result.ok() || result.replies[0].type != backends::RespType::Array) continue;
      auto table = backends::CommandTable::fromCommandReply(result.replies[0]);
      if (table.empty()) continue;
      const auto size = table.size();
      auto policy = std::make_shared<const backends::CommandPolicy>(std::move(table), cfg.commands.allowScripts,
                                                                    cfg.commands.allow, cfg.commands.deny);
      shared_.commands.store(std::move(policy), std::memory_order_release);
      log(LogLevel::Info, "command_table_loaded", {{"from", tableNames_[i]}, {"commands", std::to_string(size)}});
      for (auto& c : tableConnections_) c->stop();
      co_return;
    }
    timer.expires_after(std::chrono::seconds(1));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

std::string AdminEndpoints::statusHtml() const {
  auto topo = shared_.tracker->snapshot();
  auto configSnapshot = shared_.config.load();
  StatusPageContext context;
  context.now = backends::Clock::now();
  context.loadState = loadStatus(shared_).state;
  context.configVersion = configSnapshot->version;
  context.proxyVersion = CXPROXY_VERSION;
  context.draining = shared_.draining.load();
  const TrafficSummary traffic = summarizeTraffic(shared_.metrics->collect());
  context.traffic = &traffic;
  context.rules = ruleTraffic(*configSnapshot, shared_.advice, context.now);
  context.advice = shared_.advice.rows(context.now);
  context.auditSampleRate = configSnapshot->audit.sampleRate;
  return renderStatusHtml(*topo, stalenessHistory_, context);
}

void AdminEndpoints::handle(const Request& req, Response& res) {
  std::string_view target = req.target();
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  auto json = [&](http::status status, std::string body) {
    res.result(status);
    res.set(http::field::content_type, "application/json");
    res.body() = std::move(body);
  };
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    setError(res, {ErrorCode::MethodNotAllowed, "admin endpoints take GET", {}, "GET, HEAD"});
    return;
  }
  if (target == "/metrics") {
    res.result(http::status::ok);
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = shared_.metrics->serialize();
  } else if (target == "/healthz") {
    json(http::status::ok, "{\"status\":\"ok\"}");
  } else if (target == "/readyz") {
    auto topo = shared_.tracker->snapshot();
    if (shared_.draining.load()) {
      setError(res, ErrorCode::Draining, "cxproxy is shutting down");
    } else if (!topo->primary().up || (topo->sentinelMode && !topo->primaryConfirmed())) {
      setError(res, ErrorCode::PrimaryUnavailable,
               topo->sentinelMode
                   ? "no confirmed Redis primary (" + topo->primary().name + " is " +
                         std::string(backends::toString(topo->primary().standing)) + "): " + topo->primary().lastError
                   : "the Redis primary is not reachable: " + topo->primary().lastError);
    } else if (!shared_.commands.load(std::memory_order_acquire)) {
      // Until the COMMAND table is loaded, POST /v1/cmd can only answer 503.
      setError(res, ErrorCode::NotReady, "the Redis command table has not been loaded yet");
    } else {
      json(http::status::ok, "{\"status\":\"ready\"}");
    }
  } else if (target == "/v1/status") {
    // Browsers (Accept: text/html,...) get the HTML page; everything else the JSON.
    res.set(http::field::vary, "Accept");
    if (prefersHtml(req[http::field::accept])) {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/html; charset=utf-8");
      res.set(http::field::cache_control, "no-store");
      res.body() = statusHtml();
    } else {
      json(http::status::ok, statusJson(shared_, *shared_.tracker->snapshot(), backends::Clock::now()));
    }
  } else {
    setError(res, ErrorCode::NotFound, "admin endpoints: /metrics /healthz /readyz /v1/status");
  }
}

}  // namespace cx::proxy
