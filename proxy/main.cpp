// cxproxy's composition root: parses the command line, loads the configuration and the
// session keys, and wires the tracker, metrics and server together.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "backends/tls_client.h"
#include "backends/tracker.h"
#include "metrics/metrics.h"
#include "proxy/app/credentials.h"
#include "proxy/app/log.h"
#include "proxy/app/server.h"
#include "proxy/config/config.h"
#include "session/token.h"

#ifdef CXPROXY_WITH_JEMALLOC
// jemalloc's settings, read at its start-up (MALLOC_CONF in the environment still wins):
// two arenas for a handful of threads, and freed pages returned within a second, so a
// burst of connections does not leave its memory resident.
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's interface.
const char* malloc_conf = "narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0";
}
#endif

namespace {

constexpr const char* kUsage =
    "usage: cxproxy --config FILE        run with the given configuration\n"
    "       cxproxy --check-config FILE  validate FILE, print the effective settings, exit\n"
    "       cxproxy --version | --help\n";

cx::session::KeyRing loadKeys(const cx::proxy::Config& cfg) {
  using cx::proxy::LogLevel;
  std::string spec;
  std::string origin;
  if (!cfg.session.keysFile.empty()) {
    std::ifstream in(cfg.session.keysFile);
    if (!in) throw std::runtime_error("session.keys_file: cannot read " + cfg.session.keysFile);
    std::stringstream ss;
    ss << in.rdbuf();
    spec = ss.str();
    origin = "file " + cfg.session.keysFile;
  } else if (const char* env = std::getenv(cfg.session.keysEnv.c_str()); env && *env) {
    spec = env;
    origin = "environment variable " + cfg.session.keysEnv;
  }
  if (spec.empty()) {
    cx::proxy::log(LogLevel::Warn, "session_keys_ephemeral",
                   {{"detail", "no session keys configured (" + cfg.session.keysEnv +
                                   " is unset): using a random key; session tokens will not survive a restart "
                                   "or be accepted by other instances"}});
    return cx::session::KeyRing::random();
  }
  try {
    auto ring = cx::session::KeyRing::fromSpec(spec);
    cx::proxy::log(LogLevel::Info, "session_keys_loaded", {{"from", origin}, {"signing_key", ring.signingKeyId()}});
    return ring;
  } catch (const std::exception& e) {
    throw std::runtime_error("session keys from " + origin + ": " + e.what());
  }
}

int run(const std::string& path) {
  auto config = std::make_shared<const cx::proxy::Config>(cx::proxy::loadConfigFile(path));
  cx::proxy::LogLevel level;
  if (cx::proxy::parseLogLevel(config->log.level, level)) cx::proxy::setLogLevel(level);
  auto keys = loadKeys(*config);

  cx::proxy::SharedState shared;
  shared.config = config;
  shared.configPath = path;
  shared.configLoadedAtMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  if (!config->redis.passwordEnv.empty()) {
    const char* pw = std::getenv(config->redis.passwordEnv.c_str());
    if (!pw) throw std::runtime_error("redis.password_env: " + config->redis.passwordEnv + " is not set");
    shared.password = pw;
  }
  const auto& redisTls = config->redis.tls;
  if (redisTls.enabled) {
    shared.redisTls = std::make_shared<cx::backends::TlsClientContext>(cx::backends::TlsClientSettings{
        redisTls.caFile, redisTls.certFile, redisTls.keyFile, redisTls.serverName, redisTls.verify});
    if (!redisTls.verify) {
      cx::proxy::log(cx::proxy::LogLevel::Warn, "redis_tls_not_verified",
                     {{"detail",
                       "redis.tls.verify is false: any certificate is accepted, so the connection to "
                       "Redis is encrypted but not authenticated; for tests only"}});
    }
  }
  if (config->listen.dataTls) {
    shared.dataTls = std::make_shared<cx::proxy::TlsServerContext>(config->listen.dataTls->certFile,
                                                                   config->listen.dataTls->keyFile);
  }
  if (config->listen.adminTls) {
    shared.adminTls = std::make_shared<cx::proxy::TlsServerContext>(config->listen.adminTls->certFile,
                                                                    config->listen.adminTls->keyFile);
  }
  if (config->auth.enabled()) {
    shared.authEnabled = true;
    auto tokens = cx::proxy::loadApiTokens(config->auth);
    cx::proxy::log(cx::proxy::LogLevel::Info, "api_tokens_loaded",
                   {{"from", config->auth.tokensFile.empty() ? "environment variable " + config->auth.tokensEnv
                                                             : "file " + config->auth.tokensFile},
                    {"tokens", std::to_string(tokens->size())}});
    shared.apiTokens = std::move(tokens);
  }
  cx::metrics::Metrics metrics;
  shared.metrics = &metrics;
  shared.keys = &keys;

  cx::backends::TrackerOptions tracking;
  auto address = [](const cx::proxy::BackendConfig& b) {
    return cx::backends::BackendAddress{b.name, b.address.host, b.address.port};
  };
  tracking.primary = address(config->redis.primary);
  for (const auto& r : config->redis.replicas) tracking.replicas.push_back(address(r));
  tracking.username = config->redis.username;
  tracking.password = shared.password;
  if (const auto& sc = config->redis.sentinel) {
    cx::backends::SentinelSettings settings;
    settings.master = sc->master;
    for (const auto& a : sc->addresses) settings.addresses.push_back(a.toString());
    settings.username = sc->username;
    settings.passwordEnv = sc->passwordEnv;
    if (!sc->passwordEnv.empty()) {
      const char* pw = std::getenv(sc->passwordEnv.c_str());
      if (!pw) throw std::runtime_error("redis.sentinel.password_env: " + sc->passwordEnv + " is not set");
      settings.password = pw;
    }
    settings.tls = shared.redisTls;  // Sentinels too (README "Security")
    tracking.sentinel = std::move(settings);
  }
  tracking.tls = shared.redisTls;
  tracking.onConnectFailed = [](const cx::backends::BackendAddress& node, const std::string& error) {
    cx::proxy::log(
        cx::proxy::LogLevel::Warn, "backend_connect_failed",
        {{"backend", node.name}, {"address", node.host + ":" + std::to_string(node.port)}, {"error", error}});
  };
  tracking.interval = config->tracking.interval;
  tracking.downAfter = config->tracking.downAfter;
  tracking.connectTimeout = config->redis.connectTimeout;
  cx::backends::ReplicationTracker tracker(tracking, &metrics);
  shared.tracker = &tracker;

  cx::proxy::Server server(shared);  // binds: fails here if a port is taken
  tracker.start();
  cx::proxy::log(cx::proxy::LogLevel::Info, "started",
                 {{"version", CXPROXY_VERSION}, {"config", path}, {"config_version", config->version}});
  server.run();
  tracker.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::string mode;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (arg == "--version") {
      std::cout << "cxproxy " CXPROXY_VERSION "\n";
      return 0;
    }
    if ((arg == "--config" || arg == "--check-config") && i + 1 < argc) {
      mode = arg;
      path = argv[++i];
      continue;
    }
    std::cerr << "cxproxy: unknown or incomplete argument '" << arg << "'\n" << kUsage;
    return 2;
  }
  if (mode.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  try {
    if (mode == "--check-config") {
      auto config = cx::proxy::loadConfigFile(path);
      std::cout << cx::proxy::describe(config);
      std::cout << path << ": configuration is valid\n";
      return 0;
    }
    return run(path);
  } catch (const cx::proxy::ConfigError& e) {
    std::cerr << "cxproxy: invalid configuration: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "cxproxy: " << e.what() << "\n";
    return 1;
  }
}
