// Configuration hot reload (see reload.h).
#include "proxy/app/reload.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

#include "proxy/app/log.h"

namespace cx::proxy {

namespace asio = boost::asio;

namespace {

std::string backendsText(const RedisConfig& r) {
  std::string out = r.primary.name + "=" + r.primary.address.toString();
  for (const auto& b : r.replicas) out += "," + b.name + "=" + b.address.toString();
  out += "|" + r.username + "|" + (r.tls.enabled ? "tls" : "plain") + "|" + r.tls.caFile + "|" + r.tls.certFile + "|" +
         r.tls.keyFile + "|" + r.tls.serverName + "|" + (r.tls.verify ? "verify" : "noverify");
  out += "|" + r.passwordEnv + "|" + std::to_string(r.connectTimeout.count()) + "|" +
         std::to_string(r.commandTimeout.count()) + "|" + std::to_string(r.connectionsPerWorker) + "|" +
         std::to_string(r.replicaStickiness) + "|" + std::to_string(r.failoverWait.count());
  // The Sentinel section is restart-only: the tracker's discovery is built at start-up.
  if (r.sentinel) {
    out += "|sentinel=" + r.sentinel->master + "|" + r.sentinel->username + "|" + r.sentinel->passwordEnv;
    for (const auto& a : r.sentinel->addresses) out += "," + a.toString();
  }
  return out;
}

std::string limitsText(const LimitsConfig& l) {
  return std::to_string(l.maxHeaderBytes) + "|" + std::to_string(l.maxBodyBytes) + "|" + std::to_string(l.maxKeyBytes) +
         "|" + std::to_string(l.maxBatchCommands) + "|" + std::to_string(l.maxConnections) + "|" +
         std::to_string(l.headerTimeout.count()) + "|" + std::to_string(l.bodyTimeout.count()) + "|" +
         std::to_string(l.idleTimeout.count()) + "|" + std::to_string(l.drainTimeout.count());
}

std::int64_t unixMillisNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::vector<std::string> restartOnlyChanges(const Config& running, const Config& loaded) {
  std::vector<std::string> changed;
  if (running.listen.data.toString() != loaded.listen.data.toString() ||
      running.listen.admin.toString() != loaded.listen.admin.toString() ||
      running.listen.dataTls != loaded.listen.dataTls || running.listen.adminTls != loaded.listen.adminTls)
    changed.push_back("listen");
  if (running.workers != loaded.workers) changed.push_back("workers");
  if (backendsText(running.redis) != backendsText(loaded.redis)) changed.push_back("redis");
  if (running.tracking.interval != loaded.tracking.interval || running.tracking.downAfter != loaded.tracking.downAfter)
    changed.push_back("tracking");
  if (running.session.keysEnv != loaded.session.keysEnv || running.session.keysFile != loaded.session.keysFile)
    changed.push_back("session");
  if (running.auth.tokensEnv != loaded.auth.tokensEnv || running.auth.tokensFile != loaded.auth.tokensFile)
    changed.push_back("auth");
  if (limitsText(running.limits) != limitsText(loaded.limits)) changed.push_back("limits");
  if (running.commands.allowScripts != loaded.commands.allowScripts ||
      running.commands.allow != loaded.commands.allow || running.commands.deny != loaded.commands.deny)
    changed.push_back("commands");
  return changed;
}

Config mergeReloadable(const Config& running, Config loaded) {
  loaded.listen = running.listen;
  loaded.workers = running.workers;
  loaded.redis = running.redis;
  loaded.tracking = running.tracking;
  loaded.session = running.session;
  loaded.auth = running.auth;
  loaded.limits = running.limits;
  loaded.commands = running.commands;
  return loaded;
}

ConfigReloader::ConfigReloader(SharedState& shared, asio::any_io_executor executor, std::string path, OnReload onReload)
    : shared_(shared),
      path_(std::move(path)),
      onReload_(std::move(onReload)),
      hangup_(executor, SIGHUP),
      timer_(executor) {
  std::error_code ec;
  lastWrite_ = std::filesystem::last_write_time(path_, ec);
  lastSize_ = std::filesystem::file_size(path_, ec);
}

void ConfigReloader::start() {
  waitSignal();
  asio::co_spawn(timer_.get_executor(), watchFile(), asio::detached);
}

void ConfigReloader::stop() {
  stopped_ = true;
  boost::system::error_code ignored;
  hangup_.cancel(ignored);
  timer_.cancel();
}

void ConfigReloader::waitSignal() {
  hangup_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec || stopped_) return;
    reload("SIGHUP");
    waitSignal();
  });
}

asio::awaitable<void> ConfigReloader::watchFile() {
  while (!stopped_) {
    timer_.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || stopped_) co_return;
    std::error_code fec;
    auto write = std::filesystem::last_write_time(path_, fec);
    auto size = fec ? 0 : std::filesystem::file_size(path_, fec);
    if (fec) continue;  // being replaced (e.g. a ConfigMap symlink swap): look again later
    if (write != lastWrite_ || size != lastSize_) {
      lastWrite_ = write;
      lastSize_ = size;
      reload("file_changed");
    }
  }
}

std::string ConfigReloader::reload(std::string_view trigger) {
  // Remember what was loaded, so the file watcher does not load it again after a SIGHUP.
  std::error_code fec;
  lastWrite_ = std::filesystem::last_write_time(path_, fec);
  lastSize_ = fec ? 0 : std::filesystem::file_size(path_, fec);
  auto running = shared_.config.load();
  Config loaded;
  try {
    loaded = loadConfigFile(path_);
  } catch (const std::exception& e) {
    shared_.metrics->configReloads("error").Increment();
    log(LogLevel::Error, "config_reload_failed",
        {{"trigger", trigger}, {"error", e.what()}, {"kept_version", running->version}});
    return "error";
  }
  if (loaded.version == running->version) {
    shared_.metrics->configReloads("unchanged").Increment();
    log(LogLevel::Info, "config_reload_unchanged", {{"trigger", trigger}, {"version", running->version}});
    return "unchanged";
  }
  auto needRestart = restartOnlyChanges(*running, loaded);
  std::string restartList;
  for (const auto& s : needRestart) restartList += (restartList.empty() ? "" : ",") + s;
  auto merged = std::make_shared<const Config>(mergeReloadable(*running, std::move(loaded)));
  shared_.config.store(merged, std::memory_order_release);
  shared_.configVersion.fetch_add(1, std::memory_order_release);
  shared_.configLoadedAtMs.store(unixMillisNow());
  shared_.metrics->configReloads("success").Increment();
  log(LogLevel::Info, "config_reloaded",
      {{"trigger", trigger},
       {"version", merged->version},
       {"previous_version", running->version},
       {"rules", std::to_string(merged->consistency.rules.size())}});
  if (!needRestart.empty()) {
    log(LogLevel::Warn, "config_reload_needs_restart",
        {{"sections", restartList}, {"detail", "these sections keep their running values until cxproxy restarts"}});
  }
  if (onReload_) onReload_(*merged);
  return "reloaded";
}

}  // namespace cx::proxy
