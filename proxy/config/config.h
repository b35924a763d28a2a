// cxproxy's configuration (README "Configuration"): the validated, typed form of the YAML file.
// Loading throws ConfigError (control plane); everything after start-up reads values.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/config/values.h"
#include "routing/level.h"
#include "routing/rules.h"

namespace cx::proxy {

struct BackendConfig {
  std::string name;
  Endpoint address;
};

struct RedisTlsConfig {  // redis.tls (README "Security")
  bool enabled = false;
  std::string caFile;    // empty: the system's CA store
  std::string certFile;  // client certificate, when Redis asks for one
  std::string keyFile;
  std::string serverName;  // SNI and the name verified; empty: each node's host
  bool verify = true;      // false only for tests; warned at every start
};

// redis.sentinel (README "Failover"): the primary and replicas are discovered.
struct SentinelConfig {
  std::string master;               // redis.sentinel.master
  std::vector<Endpoint> addresses;  // redis.sentinel.addresses
  std::string username;             // redis.sentinel.username
  std::string passwordEnv;          // redis.sentinel.password_env
};

struct RedisConfig {
  BackendConfig primary{"primary", {"127.0.0.1", 6379}};
  std::vector<BackendConfig> replicas;
  std::string username;     // redis.username: ACL user (AUTH username password)
  std::string passwordEnv;  // redis.password_env: env var holding AUTH password
  RedisTlsConfig tls;
  milliseconds connectTimeout{1000};  // redis.connect_timeout
  milliseconds commandTimeout{1000};  // redis.command_timeout: per-command deadline
  int connectionsPerWorker = 1;       // redis.connections_per_worker
  // redis.replica_stickiness: how many more calls waiting a worker's own replica may have
  // than another before its reads go to the least loaded one; 0 = always least loaded.
  std::uint32_t replicaStickiness = 64;
  // Sentinel mode when set: primary and replicas are discovered (redis.primary and
  // redis.replicas must then be absent).
  std::optional<SentinelConfig> sentinel;
  // redis.failover_wait: how long a write or strong read waits for a confirmed primary
  // before 503 primary_unavailable; 0 answers at once.
  milliseconds failoverWait{0};
};

struct TrackingConfig {
  milliseconds interval{50};     // tracking.interval
  milliseconds downAfter{1000};  // tracking.down_after: no answer for this long → down
};

struct SessionConfig {
  std::string keysEnv = "CXPROXY_SESSION_KEYS";  // session.keys_env: "id:hex,id2:hex"
  std::string keysFile;                          // session.keys_file: same format, one file
};

struct WriteQuorum {
  enum class Kind { Count, Majority, All };
  Kind kind = Kind::Count;
  int replicas = 1;  // when kind == Count
  milliseconds timeout{500};
};

struct ConsistencyConfig {
  routing::Policy defaultPolicy;    // consistency.default
  milliseconds maxStaleness{1000};  // consistency.max_staleness
  milliseconds waitTimeout{100};    // consistency.wait_timeout
  WriteQuorum writeQuorum;          // consistency.write_quorum
  routing::RuleList rules;          // consistency.rules, indexed for first match
};

struct LoadWatermark {
  int inflight = 0;
  milliseconds p99{0};
  double errorRate = 0;  // error_rate: failed share of primary calls; 0 = not used
};

struct LoadConfig {
  bool enabled = true;
  LoadWatermark high{256, milliseconds{20}};
  LoadWatermark low{64, milliseconds{5}};
  milliseconds holdFor{2000};  // load.for
};

struct LimitsConfig {  // limits.* (extension)
  std::size_t maxHeaderBytes = 16 * 1024;
  std::size_t maxBodyBytes = 1024 * 1024;
  std::size_t maxKeyBytes = 1024;
  std::size_t maxBatchCommands = 1000;  // limits.max_batch_commands: per pipeline or transaction
  std::size_t maxConnections = 10000;
  milliseconds headerTimeout{10000};  // limits.header_timeout: whole header must arrive
  milliseconds bodyTimeout{30000};    // limits.body_timeout
  milliseconds idleTimeout{60000};    // limits.idle_timeout: keep-alive idle
  milliseconds drainTimeout{10000};   // limits.drain_timeout: graceful shutdown
};

struct CommandsConfig {            // commands.* (extension) for POST /v1/cmd
  bool allowScripts = false;       // EVAL, EVALSHA, FCALL, FUNCTION ...
  std::vector<std::string> allow;  // extra commands to allow (upper case)
  std::vector<std::string> deny;   // extra commands to refuse (upper case)
};

struct LogConfig {             // log.* (extension)
  std::string level = "info";  // debug | info | warn | error
  bool access = false;         // log.access: one line per data request
};

struct ListenerTls {     // listen.data_tls / listen.admin_tls
  std::string certFile;  // re-read on SIGHUP and when it changes
  std::string keyFile;
  friend bool operator==(const ListenerTls&, const ListenerTls&) = default;
};

struct AuthConfig {        // auth: bearer tokens on the data listener
  std::string tokensEnv;   // auth.tokens_env: "name:secret:rw,name2:secret2:ro"
  std::string tokensFile;  // auth.tokens_file: the same, in a file
  bool enabled() const { return !tokensEnv.empty() || !tokensFile.empty(); }
};

struct AuditConfig {  // audit.* (README "Audit and advice")
  // audit.sample_rate: the share of reads audited (replica reads repeated on the primary,
  // strong reads repeated on a replica); 0 turns the audit off, 1 audits every read.
  double sampleRate = 0.001;
  int maxInFlight = 16;  // audit.max_in_flight: per process; more are skipped
};

struct Config {
  struct Listen {
    Endpoint data{"127.0.0.1", 8080};
    Endpoint admin{"127.0.0.1", 9100};
    std::optional<ListenerTls> dataTls;  // HTTPS only on the data port when set
    std::optional<ListenerTls> adminTls;
  } listen;
  int workers = 1;  // 0 = one per core
  RedisConfig redis;
  TrackingConfig tracking;
  SessionConfig session;
  AuthConfig auth;
  ConsistencyConfig consistency;
  LoadConfig load;
  LimitsConfig limits;
  CommandsConfig commands;
  LogConfig log;
  AuditConfig audit;
  std::string sourceName;  // file path or "<string>"
  std::string version;     // short hash of the file's text
};

// Thrown for any invalid configuration. what() is "<source>:<line>: <key path>: <problem>".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses and validates YAML text (parse.cpp). Unknown keys, bad durations, bad addresses, bad levels
// and a floor stronger than its level are errors naming the key and line.
Config parseConfig(std::string_view yamlText, std::string_view sourceName = "<string>");
Config loadConfigFile(const std::string& path);

// A human-readable summary of the effective configuration, for --check-config (describe.cpp).
std::string describe(const Config& config);

}  // namespace cx::proxy
