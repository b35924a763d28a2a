// Loads cxproxy's YAML configuration (README "Configuration") into a typed, validated Config. Every
// error names the file, the 1-based line and the key path, e.g.
// "cx.yaml:14: consistency.rules[0].levle: unknown key (did you mean \"level\"?)".
#include "proxy/config/config.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "backends/text.h"
#include "proxy/config/config_parser.h"
#include "proxy/config/yaml_reader.h"
#include "routing/glob.h"
#include "routing/router.h"
namespace cx::proxy {
namespace {

constexpr std::size_t kVersionHexDigits = 12;

// The config's version: the first hex digits of the SHA-256 of its text.
std::string sha256Prefix(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    // Not reachable with a working libcrypto; fall back so a version always exists.
    std::ostringstream out;
    out << std::hex << std::setw(16) << std::setfill('0') << std::hash<std::string_view>{}(text);
    return out.str().substr(0, kVersionHexDigits);
  }
  std::string hex;
  text::appendHex(hex, digest, std::min<std::size_t>(length, kVersionHexDigits / 2));
  return hex;
}

}  // namespace

namespace config_parsing {

// ---------------------------------------------------------------------------------------
// Sections

void ConfigParser::parseListen(const Section& root, Config& config) const {
  const auto entry = root.get("listen");
  if (!entry) return;
  const Section listen(*this, *entry, {"data", "admin", "data_tls", "admin_tls"});
  if (auto data = listen.get("data")) config.listen.data = readEndpoint(*data);
  if (auto admin = listen.get("admin")) config.listen.admin = readEndpoint(*admin);
  if (auto tls = listen.get("data_tls")) config.listen.dataTls = parseListenerTls(*tls);
  if (auto tls = listen.get("admin_tls")) config.listen.adminTls = parseListenerTls(*tls);
  const auto& data = config.listen.data;
  const auto& admin = config.listen.admin;
  if (data.host == admin.host && data.port == admin.port) {
    const Entry where = listen.get("admin").value_or(listen.get("data").value_or(*entry));
    fail(where, "data and admin listeners share the address " + formatEndpoint(data) + "; give them different ports");
  }
}

BackendConfig ConfigParser::parseBackend(const Entry& entry, BackendConfig backend, bool requireAddress) const {
  const Section section(*this, entry, {"name", "address"});
  if (auto name = section.get("name")) backend.name = readName(*name, "backend");
  if (auto address = section.get("address")) {
    backend.address = readEndpoint(*address);
  } else if (requireAddress) {
    fail(entry.line, section.path("address"), "missing; every replica needs an address host:port");
  }
  return backend;
}

void ConfigParser::parseRedis(const Section& root, Config& config) const {
  const auto entry = root.get("redis");
  if (!entry) return;
  const Section redis(*this, *entry,
                      {"primary", "replicas", "username", "password_env", "tls", "connect_timeout", "command_timeout",
                       "connections_per_worker", "replica_stickiness", "sentinel", "failover_wait"});
  RedisConfig& out = config.redis;
  if (auto sentinel = redis.get("sentinel")) {
    for (const char* key : {"primary", "replicas"}) {
      if (auto given = redis.get(key)) {
        fail(*given, "redis.sentinel is set, so the primary and replicas are discovered; remove redis." +
                         std::string(key) + " (or redis.sentinel)");
      }
    }
    const Section section(*this, *sentinel, {"master", "addresses", "username", "password_env"});
    SentinelConfig sc;
    if (auto master = section.get("master")) {
      sc.master = readString(*master);
      if (sc.master.empty()) fail(*master, "empty; name the master the Sentinels monitor");
    } else {
      fail(sentinel->line, section.path("master"), "missing; name the master the Sentinels monitor");
    }
    if (auto addresses = section.get("addresses")) {
      for (const Entry& item : readList(*addresses, true)) {
        Endpoint e = readEndpoint(item);
        for (const auto& other : sc.addresses) {
          if (other.toString() == e.toString()) fail(item, "Sentinel " + e.toString() + " is listed twice");
        }
        sc.addresses.push_back(std::move(e));
      }
    }
    if (sc.addresses.empty()) {
      fail(sentinel->line, section.path("addresses"), "missing or empty; list the Sentinels as host:port");
    }
    if (auto username = section.get("username")) sc.username = readString(*username);
    if (auto env = section.get("password_env")) sc.passwordEnv = readEnvVarName(*env, true);
    out.sentinel = std::move(sc);
  }
  if (auto wait = redis.get("failover_wait")) out.failoverWait = readDuration(*wait, true);

  // Names and addresses must be unique: names label metrics and responses, and one server
  // listed twice would be polled and counted twice.
  struct Seen {
    std::string name;
    std::string address;
    int line;
  };
  std::vector<Seen> seen;
  auto remember = [&](const BackendConfig& backend, const Entry& where) {
    const std::string address = formatEndpoint(backend.address);
    for (const auto& other : seen) {
      if (other.name == backend.name) {
        fail(where.line, childPath(where.path, "name"),
             "duplicate backend name " + inQuotes(backend.name) + " (also used at line " + std::to_string(other.line) +
                 ")");
      }
      if (other.address == address) {
        fail(where.line, childPath(where.path, "address"),
             "address " + address + " is already used by backend " + inQuotes(other.name) + " (line " +
                 std::to_string(other.line) + ")");
      }
    }
    seen.push_back({backend.name, address, where.line});
  };

  const auto primary = redis.get("primary");
  if (primary) out.primary = parseBackend(*primary, out.primary, false);
  remember(out.primary, primary.value_or(Entry{YAML::Node(), redis.path("primary"), entry->line}));

  if (auto replicas = redis.get("replicas")) {
    std::size_t index = 0;
    for (const Entry& item : readList(*replicas, false)) {
      BackendConfig defaults{"replica-" + std::to_string(index + 1), {}};
      BackendConfig replica = parseBackend(item, defaults, true);
      remember(replica, item);
      out.replicas.push_back(std::move(replica));
      ++index;
    }
  }
  if (auto env = redis.get("password_env")) out.passwordEnv = readEnvVarName(*env, true);
  if (auto user = redis.get("username")) {
    out.username = readString(*user);
    if (out.username.empty() || out.username.find_first_of(" \t\r\n") != std::string::npos) {
      fail(*user, "expected a Redis ACL user name (no spaces), got " + inQuotes(out.username));
    }
    if (out.passwordEnv.empty()) {
      fail(*user, "an ACL user needs its password: name the environment variable with redis.password_env");
    }
  }
  if (auto tls = redis.get("tls")) parseRedisTls(*tls, out.tls);
  if (auto timeout = redis.get("connect_timeout")) {
    out.connectTimeout = readDuration(*timeout, false);
  }
  if (auto timeout = redis.get("command_timeout")) {
    out.commandTimeout = readDuration(*timeout, false);
  }
  if (auto count = redis.get("connections_per_worker")) {
    out.connectionsPerWorker = static_cast<int>(readInt(*count, 1, kMaxConnectionsPerWorker));
  }
  if (auto stickiness = redis.get("replica_stickiness")) {
    out.replicaStickiness = static_cast<std::uint32_t>(readInt(*stickiness, 0, kMaxReplicaStickiness));
  }
}

void ConfigParser::parseTracking(const Section& root, Config& config) const {
  const auto entry = root.get("tracking");
  if (!entry) return;
  const Section tracking(*this, *entry, {"interval", "down_after"});
  if (auto interval = tracking.get("interval")) {
    config.tracking.interval = readDuration(*interval, false);
  }
  if (auto downAfter = tracking.get("down_after")) {
    config.tracking.downAfter = readDuration(*downAfter, false);
  }
  if (config.tracking.downAfter < config.tracking.interval) {
    const Entry where = tracking.get("down_after").value_or(tracking.get("interval").value());
    const std::string downAfter =
        formatMs(config.tracking.downAfter) + (tracking.has("down_after") ? "" : ", the default");
    fail(where, "tracking.down_after (" + downAfter + ") is shorter than tracking.interval (" +
                    formatMs(config.tracking.interval) + "); a backend would be marked down between two polls");
  }
}

void ConfigParser::parseSession(const Section& root, Config& config) const {
  const auto entry = root.get("session");
  if (!entry) return;
  const Section session(*this, *entry, {"keys_env", "keys_file"});
  if (auto env = session.get("keys_env")) config.session.keysEnv = readEnvVarName(*env, true);
  if (auto file = session.get("keys_file")) config.session.keysFile = readString(*file);
}

void ConfigParser::parseRedisTls(const Entry& entry, RedisTlsConfig& out) const {
  const Section tls(*this, entry, {"enabled", "ca_file", "cert_file", "key_file", "server_name", "verify"});
  if (auto value = tls.get("enabled")) out.enabled = readBool(*value);
  if (auto value = tls.get("ca_file")) out.caFile = readString(*value);
  if (auto value = tls.get("cert_file")) out.certFile = readString(*value);
  if (auto value = tls.get("key_file")) out.keyFile = readString(*value);
  if (auto value = tls.get("server_name")) {
    out.serverName = readString(*value);
    if (out.serverName.find_first_of(" \t\r\n") != std::string::npos) {
      fail(*value, "expected a host name or address, got " + inQuotes(out.serverName));
    }
  }
  if (auto value = tls.get("verify")) out.verify = readBool(*value);
  const auto cert = tls.get("cert_file");
  const auto key = tls.get("key_file");
  if (cert && !key) fail(*cert, "a client certificate needs its key: set redis.tls.key_file too");
  if (key && !cert) fail(*key, "a client key needs its certificate: set redis.tls.cert_file too");
}

ListenerTls ConfigParser::parseListenerTls(const Entry& entry) const {
  const Section tls(*this, entry, {"cert_file", "key_file"});
  ListenerTls out;
  const auto cert = tls.get("cert_file");
  const auto key = tls.get("key_file");
  if (!cert) fail(entry.line, tls.path("cert_file"), "missing; HTTPS needs a certificate (PEM, chain first)");
  if (!key) fail(entry.line, tls.path("key_file"), "missing; HTTPS needs the certificate's private key (PEM)");
  out.certFile = readString(*cert);
  out.keyFile = readString(*key);
  if (out.certFile.empty()) fail(*cert, "empty path");
  if (out.keyFile.empty()) fail(*key, "empty path");
  return out;
}

void ConfigParser::parseAuth(const Section& root, Config& config) const {
  const auto entry = root.get("auth");
  if (!entry) return;
  const Section auth(*this, *entry, {"tokens_env", "tokens_file"});
  if (auto env = auth.get("tokens_env")) config.auth.tokensEnv = readEnvVarName(*env, false);
  if (auto file = auth.get("tokens_file")) {
    config.auth.tokensFile = readString(*file);
    if (config.auth.tokensFile.empty()) fail(*file, "empty path");
  }
  if (!config.auth.enabled()) {
    fail(*entry, "auth needs tokens_env or tokens_file (remove the section to turn bearer tokens off)");
  }
  if (auth.has("tokens_env") && auth.has("tokens_file")) {
    fail(*auth.get("tokens_file"), "give tokens_env or tokens_file, not both");
  }
}

void ConfigParser::parseLimits(const Section& root, Config& config) const {
  const auto entry = root.get("limits");
  if (!entry) return;
  const Section limits(*this, *entry,
                       {"max_header_bytes", "max_body_bytes", "max_key_bytes", "max_batch_commands", "max_connections",
                        "header_timeout", "body_timeout", "idle_timeout", "drain_timeout"});
  LimitsConfig& out = config.limits;
  constexpr std::size_t kGiB = 1ull << 30;
  if (auto value = limits.get("max_header_bytes")) out.maxHeaderBytes = readByteSize(*value, kGiB);
  if (auto value = limits.get("max_body_bytes")) out.maxBodyBytes = readByteSize(*value, 4 * kGiB);
  if (auto value = limits.get("max_key_bytes")) {
    out.maxKeyBytes = readByteSize(*value, kMaxKeyBytesRedis);
  }
  if (auto value = limits.get("max_batch_commands")) {
    out.maxBatchCommands = static_cast<std::size_t>(readInt(*value, 1, 1'000'000));
  }
  if (auto value = limits.get("max_connections")) {
    out.maxConnections = static_cast<std::size_t>(readInt(*value, 1, 10'000'000));
  }
  if (auto value = limits.get("header_timeout")) out.headerTimeout = readDuration(*value, false);
  if (auto value = limits.get("body_timeout")) out.bodyTimeout = readDuration(*value, false);
  if (auto value = limits.get("idle_timeout")) out.idleTimeout = readDuration(*value, false);
  if (auto value = limits.get("drain_timeout")) out.drainTimeout = readDuration(*value, true);
}

std::vector<std::string> ConfigParser::readCommandList(const Entry& entry) const {
  std::vector<std::string> commands;
  for (const Entry& item : readList(entry, true)) {
    const std::string word = readString(item);
    if (!isCommandWord(word, false)) fail(item, "invalid Redis command name " + inQuotes(word));
    std::string upper = text::upperCopy(word);
    if (std::find(commands.begin(), commands.end(), upper) == commands.end()) {
      commands.push_back(std::move(upper));
    }
  }
  return commands;
}

void ConfigParser::parseCommands(const Section& root, Config& config) const {
  const auto entry = root.get("commands");
  if (!entry) return;
  const Section commands(*this, *entry, {"allow_scripts", "allow", "deny"});
  CommandsConfig& out = config.commands;
  if (auto value = commands.get("allow_scripts")) out.allowScripts = readBool(*value);
  if (auto value = commands.get("allow")) out.allow = readCommandList(*value);
  const auto deny = commands.get("deny");
  if (deny) out.deny = readCommandList(*deny);
  for (const std::string& command : out.deny) {
    if (std::find(out.allow.begin(), out.allow.end(), command) != out.allow.end()) {
      fail(*deny, "command " + command + " is in both commands.allow and commands.deny");
    }
  }
}

void ConfigParser::parseLog(const Section& root, Config& config) const {
  const auto entry = root.get("log");
  if (!entry) return;
  const Section log(*this, *entry, {"level", "access"});
  if (auto access = log.get("access")) config.log.access = readBool(*access);
  if (auto level = log.get("level")) {
    const std::string text = text::lowerCopy(readString(*level));
    if (text == "debug" || text == "info" || text == "warn" || text == "error") {
      config.log.level = text;
    } else if (text == "warning") {
      config.log.level = "warn";
    } else {
      fail(*level, "unknown log level " + inQuotes(level->node.Scalar()) + " (expected debug, info, warn or error)");
    }
  }
}

double ConfigParser::readFraction(const Entry& entry) const {
  const std::string& text = scalar(entry, "a fraction");
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(value >= 0.0 && value <= 1.0)) {
    fail(entry, "expected a fraction between 0 and 1 (e.g. 0.05), got " + inQuotes(text));
  }
  return value;
}

void ConfigParser::parseAudit(const Section& root, Config& config) const {
  const auto entry = root.get("audit");
  if (!entry) return;
  const Section audit(*this, *entry, {"sample_rate", "max_in_flight"});
  if (auto rate = audit.get("sample_rate")) config.audit.sampleRate = readFraction(*rate);
  if (auto cap = audit.get("max_in_flight")) {
    config.audit.maxInFlight = static_cast<int>(readInt(*cap, 1, kMaxAuditsInFlight));
  }
}

Config ConfigParser::parse(const YAML::Node& root) {
  Config config;
  const Section top(*this, Entry{root, "", 1},
                    {"listen", "workers", "redis", "tracking", "session", "auth", "consistency", "load", "limits",
                     "commands", "log", "audit"});
  parseListen(top, config);
  if (auto workers = top.get("workers")) {
    config.workers = static_cast<int>(readInt(*workers, 0, kMaxWorkers));
  }
  parseRedis(top, config);
  parseTracking(top, config);
  parseSession(top, config);
  parseAuth(top, config);
  parseConsistency(top, config);
  parseLoad(top, config);
  parseLimits(top, config);
  parseCommands(top, config);
  parseLog(top, config);
  parseAudit(top, config);

  return config;
}

}  // namespace config_parsing

Config parseConfig(std::string_view yamlText, std::string_view sourceName) {
  const std::string source(sourceName);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yamlText));
  } catch (const YAML::ParserException& error) {
    const int line = error.mark.is_null() ? 1 : error.mark.line + 1;
    throw ConfigError(source + ":" + std::to_string(line) + ": (yaml): " + error.msg);
  } catch (const YAML::Exception& error) {
    throw ConfigError(source + ":1: (yaml): " + error.what());
  }
  config_parsing::ConfigParser parser(source);
  Config config;
  try {
    config = parser.parse(root);
  } catch (const YAML::Exception& error) {  // defensive: yaml-cpp conversions inside
    const int line = error.mark.is_null() ? 1 : error.mark.line + 1;
    throw ConfigError(source + ":" + std::to_string(line) + ": (yaml): " + error.msg);
  }
  config.sourceName = source;
  config.version = sha256Prefix(yamlText);
  return config;
}

Config loadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad() || text.bad()) throw ConfigError(path + ": cannot read the file");
  return parseConfig(text.str(), path);
}

}  // namespace cx::proxy
