// Loads cxproxy's YAML configuration (README "Configuration") into a typed, validated Config. Every
// error names the file, the 1-based line and the key path, e.g.
// "cx.yaml:14: consistency.rules[0].levle: unknown key (did you mean \"level\"?)".
#include "proxy/config.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

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

#include "routing/glob.h"
#include "routing/router.h"

namespace cx::proxy {
namespace {

using routing::Level;
using routing::OnStale;
using routing::Override;
using routing::Policy;
using routing::Rule;

constexpr int kMaxWorkers = 1024;
constexpr int kMaxConnectionsPerWorker = 256;
constexpr long long kMaxReplicaStickiness = 1'000'000;
constexpr int kMaxQuorumReplicas = 1000;
constexpr int kMaxInflight = 10'000'000;
constexpr std::size_t kMaxNameBytes = 64;
constexpr std::size_t kMaxKeyBytesRedis = 512ull * 1024 * 1024;  // Redis's own key limit
constexpr std::size_t kVersionHexDigits = 12;

// ---------------------------------------------------------------------------------------
// Text helpers

std::string toLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string toUpper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && toLower(a) == toLower(b);
}

// Printable form of a user value for messages and describe(): control and high bytes
// become \xNN so a key pattern can never garble a terminal.
std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

std::string inQuotes(std::string_view text) {
  constexpr std::size_t kMaxShown = 60;
  if (text.size() > kMaxShown) return "\"" + printable(text.substr(0, kMaxShown)) + "...\"";
  return "\"" + printable(text) + "\"";
}

// Optimal-string-alignment distance: a transposition ("levle") costs one edit.
std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

bool isEnvVarName(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// Backend and rule names travel in X-Served-By headers, metric labels and log lines.
bool isSafeName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// Redis command names: letters first, then letters, digits, '_', '-' or '|' (subcommands).
bool isCommandWord(std::string_view word, bool upperOnly) {
  if (word.empty() || !std::isalpha(static_cast<unsigned char>(word[0]))) return false;
  return std::all_of(word.begin(), word.end(), [upperOnly](char c) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalpha(byte)) return !upperOnly || std::isupper(byte);
    return std::isdigit(byte) || c == '_' || c == '-' || c == '|';
  });
}

std::string formatMs(milliseconds value) {
  const auto ms = value.count();
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string formatBytes(std::size_t bytes) {
  constexpr std::size_t kKiB = 1024;
  if (bytes != 0 && bytes % (kKiB * kKiB * kKiB) == 0) return std::to_string(bytes >> 30) + "GiB";
  if (bytes != 0 && bytes % (kKiB * kKiB) == 0) return std::to_string(bytes >> 20) + "MiB";
  if (bytes != 0 && bytes % kKiB == 0) return std::to_string(bytes >> 10) + "KiB";
  return std::to_string(bytes) + "B";
}

std::string formatEndpoint(const Endpoint& endpoint) {
  if (endpoint.host.find(':') != std::string::npos) {
    return "[" + endpoint.host + "]:" + std::to_string(endpoint.port);
  }
  return endpoint.toString();
}

// "host:port" or "[v6addr]:port". Returns the problem on failure.
std::variant<Endpoint, std::string> parseEndpoint(std::string_view text) {
  const std::string_view example = " (expected host:port, e.g. 127.0.0.1:6379 or [::1]:6379)";
  std::string_view host;
  std::string_view port;
  if (text.find("://") != std::string_view::npos) {
    return "write host:port without a scheme such as redis://";
  }
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return "missing ']' after an IPv6 address" + std::string(example);
    }
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return "missing :port after " + std::string(text.substr(0, close + 1)) + std::string(example);
    }
    port = text.substr(close + 2);
    const bool validV6 = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.' || c == '%' ||
             std::isalnum(static_cast<unsigned char>(c));
    }) && host.find(':') != std::string_view::npos;
    if (!validV6) return "invalid IPv6 address " + inQuotes(host) + std::string(example);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return "missing :port" + std::string(example);
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return "an IPv6 address needs brackets, e.g. [::1]:6379";
    }
    if (host.empty()) return "missing host" + std::string(example);
    const bool validHost = std::all_of(host.begin(), host.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    });
    if (!validHost) return "invalid host " + inQuotes(host) + std::string(example);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size()) {
    return "invalid port " + inQuotes(port) + std::string(example);
  }
  if (value < 1 || value > 65535) return "port " + std::string(port) + " is out of range 1-65535";
  return Endpoint{std::string(host), static_cast<std::uint16_t>(value)};
}

// "16384", "16KiB", "1MiB", "1GiB" (also "B"); nullopt when malformed or overflowing.
std::optional<std::size_t> parseByteSize(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (end == text.data() || ec != std::errc{}) return std::nullopt;
  const std::string unit = toLower(text.substr(static_cast<std::size_t>(end - text.data())));
  std::uint64_t scale = 1;
  if (unit == "kib") {
    scale = 1ull << 10;
  } else if (unit == "mib") {
    scale = 1ull << 20;
  } else if (unit == "gib") {
    scale = 1ull << 30;
  } else if (!unit.empty() && unit != "b") {
    return std::nullopt;
  }
  if (value > std::numeric_limits<std::size_t>::max() / scale) return std::nullopt;
  return static_cast<std::size_t>(value * scale);
}

std::string sha256Prefix(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    // Not reachable with a working libcrypto; fall back so a version always exists.
    std::ostringstream out;
    out << std::hex << std::setw(16) << std::setfill('0') << std::hash<std::string_view>{}(text);
    return out.str().substr(0, kVersionHexDigits);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length && hex.size() < kVersionHexDigits; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return hex;
}

// ---------------------------------------------------------------------------------------
// Walking the YAML tree

// One value in the tree together with where it is, for messages.
struct Entry {
  YAML::Node node;
  std::string path;  // "consistency.rules[0].level"
  int line = 1;      // 1-based; the key's line when the value is empty
};

std::string childPath(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

int lineOf(const YAML::Node& node, int fallback) {
  if (!node.IsDefined() || node.IsNull()) return fallback;
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? fallback : mark.line + 1;
}

std::string describeNode(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  return inQuotes(node.Scalar());
}

class ConfigParser;

// A mapping in the file: checks on construction that it has only known keys, each once.
class Section {
 public:
  Section(const ConfigParser& parser, const Entry& entry,
          std::initializer_list<std::string_view> known);

  std::optional<Entry> get(std::string_view key) const {
    for (const auto& [name, entry] : fields_) {
      if (name == key) return entry;
    }
    return std::nullopt;
  }
  bool has(std::string_view key) const { return get(key).has_value(); }
  const Entry& self() const { return self_; }
  std::string path(std::string_view key) const { return childPath(self_.path, key); }

 private:
  Entry self_;
  std::vector<std::pair<std::string, Entry>> fields_;
};

// Keys that people reach for but that cxproxy deliberately does not have.
std::optional<std::string> hintForUnknownKey(const std::string& path) {
  if (path == "redis.password" || path == "redis.auth") {
    return "secrets never go in the config: put the password in an environment variable and "
           "name it with redis.password_env";
  }
  if (path == "session.keys" || path == "session.key" || path == "session.secret") {
    return "token keys never go in the config: use session.keys_env or session.keys_file";
  }
  return std::nullopt;
}

class ConfigParser {
 public:
  explicit ConfigParser(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(int line, std::string_view path, std::string_view problem) const {
    std::string message = source_ + ":" + std::to_string(line) + ": ";
    message += path.empty() ? std::string("(top level)") : std::string(path);
    message += ": ";
    message += problem;
    throw ConfigError(message);
  }
  [[noreturn]] void fail(const Entry& entry, std::string_view problem) const {
    fail(entry.line, entry.path, problem);
  }

  Config parse(const YAML::Node& root);

  // --- typed readers; each fails with the entry's path and line ---

  const std::string& scalar(const Entry& entry, std::string_view expected) const {
    if (!entry.node.IsScalar()) {
      fail(entry, "expected " + std::string(expected) + ", got " + describeNode(entry.node));
    }
    return entry.node.Scalar();
  }

  std::string readString(const Entry& entry) const { return scalar(entry, "a string"); }

  bool readBool(const Entry& entry) const {
    const std::string text = toLower(scalar(entry, "true or false"));
    if (text == "true" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "no" || text == "off") return false;
    fail(entry, "expected true or false, got " + inQuotes(entry.node.Scalar()));
  }

  long long readInt(const Entry& entry, long long min, long long max) const {
    const std::string& text = scalar(entry, "an integer");
    long long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || end != text.data() + text.size() ||
        (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
      fail(entry, "expected an integer, got " + inQuotes(text));
    }
    if (ec == std::errc::result_out_of_range || value < min || value > max) {
      if (value < min && min == 0) fail(entry, text + " is negative; it must be 0 or more");
      fail(entry, text + " is out of range " + std::to_string(min) + "-" + std::to_string(max));
    }
    return value;
  }

  milliseconds readDuration(const Entry& entry, bool allowZero) const {
    const std::string& text = scalar(entry, "a duration");
    const auto value = parseDuration(text);
    if (!value) {
      fail(entry, "invalid duration " + inQuotes(text) +
                      " (expected e.g. 250ms, 2s, 1m or a number of milliseconds)");
    }
    if (!allowZero && value->count() == 0) fail(entry, "must be longer than 0ms");
    return *value;
  }

  std::size_t readByteSize(const Entry& entry, std::size_t max) const {
    const std::string& text = scalar(entry, "a size in bytes");
    const auto value = parseByteSize(text);
    if (!value) {
      fail(entry,
           "invalid size " + inQuotes(text) + " (expected bytes, e.g. 16384, 16KiB or 1MiB)");
    }
    if (*value == 0) fail(entry, "must be more than 0 bytes");
    if (*value > max) fail(entry, text + " is larger than the maximum " + formatBytes(max));
    return *value;
  }

  Endpoint readEndpoint(const Entry& entry) const {
    const std::string& text = scalar(entry, "an address host:port");
    auto result = parseEndpoint(text);
    if (auto* problem = std::get_if<std::string>(&result)) {
      fail(entry, "invalid address " + inQuotes(text) + ": " + *problem);
    }
    return std::get<Endpoint>(result);
  }

  Level readLevel(const Entry& entry) const {
    const std::string& text = scalar(entry, "a consistency level");
    if (auto level = routing::parseLevel(text)) return *level;
    fail(entry, "unknown level " + inQuotes(text) +
                    " (expected strong, linearizable, bounded, session, prefix or eventual)");
  }

  Override readOverride(const Entry& entry) const {
    const std::string& text = scalar(entry, "any, stronger or none");
    if (auto value = routing::parseOverride(text)) return *value;
    fail(entry, "unknown override " + inQuotes(text) + " (expected any, stronger or none)");
  }

  OnStale readOnStale(const Entry& entry) const {
    const std::string& text = scalar(entry, "primary, wait or error");
    if (auto value = routing::parseOnStale(text)) return *value;
    fail(entry, "unknown on_stale " + inQuotes(text) + " (expected primary, wait or error)");
  }

  std::string readName(const Entry& entry, std::string_view what) const {
    std::string name = readString(entry);
    if (!isSafeName(name)) {
      fail(entry, "invalid " + std::string(what) + " name " + inQuotes(name) +
                      " (use 1-64 letters, digits, '-', '_' or '.')");
    }
    return name;
  }

  std::string readEnvVarName(const Entry& entry, bool allowEmpty) const {
    std::string name = readString(entry);
    if (name.empty() && allowEmpty) return name;
    if (!isEnvVarName(name)) {
      fail(entry, inQuotes(name) + " is not an environment variable name (letters, digits, '_')");
    }
    return name;
  }

  // A list; with allowScalar a single value stands for a one-element list. Empty: no items.
  std::vector<Entry> readList(const Entry& entry, bool allowScalar) const {
    std::vector<Entry> items;
    if (entry.node.IsNull()) return items;
    if (entry.node.IsScalar() && allowScalar) {
      items.push_back(entry);
      return items;
    }
    if (!entry.node.IsSequence()) fail(entry, "expected a list, got " + describeNode(entry.node));
    std::size_t index = 0;
    for (const auto& item : entry.node) {
      items.push_back(Entry{item, entry.path + "[" + std::to_string(index) + "]",
                            lineOf(item, entry.line)});
      ++index;
    }
    return items;
  }

  // --- sections ---
  void parseListen(const Section& root, Config& config) const;
  void parseRedis(const Section& root, Config& config) const;
  void parseTracking(const Section& root, Config& config) const;
  void parseSession(const Section& root, Config& config) const;
  void parseConsistency(const Section& root, Config& config) const;
  void parseLoad(const Section& root, Config& config) const;
  void parseLimits(const Section& root, Config& config) const;
  void parseCommands(const Section& root, Config& config) const;
  void parseLog(const Section& root, Config& config) const;

  BackendConfig parseBackend(const Entry& entry, BackendConfig backend, bool requireAddress) const;
  Policy parsePolicy(const Section& section, Policy policy, const std::string& ruleName) const;
  Rule parseRule(const Entry& entry, const Policy& defaultPolicy) const;
  std::vector<std::string> readCommandList(const Entry& entry) const;

 private:
  std::string source_;
};

Section::Section(const ConfigParser& parser, const Entry& entry,
                 std::initializer_list<std::string_view> known)
    : self_(entry) {
  if (!entry.node.IsDefined() || entry.node.IsNull()) return;  // an empty section: defaults
  if (!entry.node.IsMap()) {
    parser.fail(entry, "expected a mapping, got " + describeNode(entry.node));
  }
  for (const auto& field : entry.node) {
    const YAML::Node& keyNode = field.first;
    const int keyLine = lineOf(keyNode, entry.line);
    if (!keyNode.IsScalar()) parser.fail(keyLine, entry.path, "keys must be plain names");
    const std::string& key = keyNode.Scalar();
    const std::string path = childPath(entry.path, key);
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string problem = "unknown key";
      if (auto hint = hintForUnknownKey(path)) {
        problem += "; " + *hint;
      } else {
        std::string_view best;
        std::size_t bestDistance = std::numeric_limits<std::size_t>::max();
        for (std::string_view candidate : known) {
          const std::size_t distance = editDistance(key, candidate);
          if (distance < bestDistance) {
            bestDistance = distance;
            best = candidate;
          }
        }
        const std::size_t tolerance = key.size() >= 5 ? 2 : 1;
        if (!best.empty() && bestDistance <= tolerance) {
          problem += " (did you mean \"" + std::string(best) + "\"?)";
        }
      }
      parser.fail(keyLine, childPath(entry.path, printable(key)), problem);
    }
    for (const auto& [seen, seenEntry] : fields_) {
      if (seen == key) {
        parser.fail(keyLine, path,
                    "duplicate key (first given at line " +
                        std::to_string(lineOf(seenEntry.node, seenEntry.line)) + ")");
      }
    }
    fields_.emplace_back(key, Entry{field.second, path, lineOf(field.second, keyLine)});
    // Empty values point at the next line in yaml-cpp; the key's own line reads better.
    if (field.second.IsNull()) fields_.back().second.line = keyLine;
  }
}

// ---------------------------------------------------------------------------------------
// Sections

void ConfigParser::parseListen(const Section& root, Config& config) const {
  const auto entry = root.get("listen");
  if (!entry) return;
  const Section listen(*this, *entry, {"data", "admin"});
  if (auto data = listen.get("data")) config.listen.data = readEndpoint(*data);
  if (auto admin = listen.get("admin")) config.listen.admin = readEndpoint(*admin);
  const auto& data = config.listen.data;
  const auto& admin = config.listen.admin;
  if (data.host == admin.host && data.port == admin.port) {
    const Entry where = listen.get("admin").value_or(listen.get("data").value_or(*entry));
    fail(where, "data and admin listeners share the address " + formatEndpoint(data) +
                    "; give them different ports");
  }
}

BackendConfig ConfigParser::parseBackend(const Entry& entry, BackendConfig backend,
                                         bool requireAddress) const {
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
                      {"primary", "replicas", "password_env", "connect_timeout", "command_timeout",
                       "connections_per_worker", "replica_stickiness"});
  RedisConfig& out = config.redis;

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
             "duplicate backend name " + inQuotes(backend.name) + " (also used at line " +
                 std::to_string(other.line) + ")");
      }
      if (other.address == address) {
        fail(where.line, childPath(where.path, "address"),
             "address " + address + " is already used by backend " + inQuotes(other.name) +
                 " (line " + std::to_string(other.line) + ")");
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
    const std::string downAfter = formatMs(config.tracking.downAfter) +
                                  (tracking.has("down_after") ? "" : ", the default");
    fail(where, "tracking.down_after (" + downAfter + ") is shorter than tracking.interval (" +
                    formatMs(config.tracking.interval) +
                    "); a backend would be marked down between two polls");
  }
}

void ConfigParser::parseSession(const Section& root, Config& config) const {
  const auto entry = root.get("session");
  if (!entry) return;
  const Section session(*this, *entry, {"keys_env", "keys_file"});
  if (auto env = session.get("keys_env")) config.session.keysEnv = readEnvVarName(*env, true);
  if (auto file = session.get("keys_file")) config.session.keysFile = readString(*file);
}

Policy ConfigParser::parsePolicy(const Section& section, Policy policy,
                                 const std::string& ruleName) const {
  if (auto level = section.get("level")) policy.level = readLevel(*level);
  if (auto bound = section.get("max_staleness")) policy.maxStaleness = readDuration(*bound, true);
  if (auto value = section.get("override")) policy.override = readOverride(*value);
  if (auto value = section.get("on_stale")) policy.onStale = readOnStale(*value);

  const auto downgrade = section.get("downgrade");
  if (!downgrade) {
    // An inherited floor may be stronger than this rule's own level; the rule then simply
    // cannot be relaxed, which is what the floor asks for.
    if (routing::isStronger(policy.floor, policy.level)) policy.floor = policy.level;
    return policy;
  }
  std::optional<Entry> floorEntry;
  if (downgrade->node.IsScalar()) {  // `downgrade: false` shorthand
    policy.downgradeEnabled = readBool(*downgrade);
    policy.floor = Level::Eventual;
  } else {
    const Section block(*this, *downgrade, {"enabled", "floor"});
    // Writing a downgrade block means asking for it; `enabled: false` turns it off.
    policy.downgradeEnabled = true;
    policy.floor = Level::Eventual;
    if (auto enabled = block.get("enabled")) policy.downgradeEnabled = readBool(*enabled);
    floorEntry = block.get("floor");
    if (floorEntry) policy.floor = readLevel(*floorEntry);
  }
  if (floorEntry && routing::isStronger(policy.floor, policy.level)) {
    std::string problem = "floor " + std::string(routing::toString(policy.floor)) +
                          " is stronger than the level " +
                          std::string(routing::toString(policy.level));
    problem += ruleName.empty() ? " of consistency.default" : " of rule " + inQuotes(ruleName);
    problem += "; a floor is the weakest level reads may be relaxed to";
    fail(*floorEntry, problem);
  }
  return policy;
}

Rule ConfigParser::parseRule(const Entry& entry, const Policy& defaultPolicy) const {
  if (!entry.node.IsMap()) {
    fail(entry, "expected a rule (a mapping with name, keys, level...), got " +
                    describeNode(entry.node));
  }
  const Section section(*this, entry,
                        {"name", "keys", "methods", "level", "max_staleness", "override",
                         "on_stale", "downgrade"});
  Rule rule;
  rule.line = entry.line;
  const auto name = section.get("name");
  if (!name) fail(entry.line, section.path("name"), "missing; every rule needs a name");
  rule.name = readName(*name, "rule");

  const auto keys = section.get("keys");
  if (!keys) {
    fail(entry.line, section.path("keys"),
         "missing; rule " + inQuotes(rule.name) +
             " needs at least one key pattern, e.g. [\"user:*\"]");
  }
  for (const Entry& item : readList(*keys, true)) {
    std::string glob = readString(item);
    if (glob.empty()) fail(item, "empty key pattern (use \"*\" for every key)");
    if (auto problem = routing::validateGlob(glob)) {
      fail(item, "bad key pattern " + inQuotes(glob) + ": " + *problem);
    }
    rule.keyGlobs.push_back(std::move(glob));
  }
  if (rule.keyGlobs.empty()) {
    fail(*keys, "rule " + inQuotes(rule.name) + " needs at least one key pattern");
  }

  if (auto methods = section.get("methods")) {
    for (const Entry& item : readList(*methods, true)) {
      std::string method = readString(item);
      if (!isCommandWord(method, true)) {
        fail(item, "invalid method " + inQuotes(method) +
                       " (expected GET, PUT, DELETE, POST or an upper-case Redis command name)");
      }
      if (std::find(rule.methods.begin(), rule.methods.end(), method) == rule.methods.end()) {
        rule.methods.push_back(std::move(method));
      }
    }
  }

  // Level, max_staleness, override and on_stale default to consistency.default's; downgrading
  // is never inherited: relaxing a rule's reads under load must be asked for by that rule.
  Policy base = defaultPolicy;
  base.downgradeEnabled = false;
  base.floor = Level::Eventual;
  rule.policy = parsePolicy(section, base, rule.name);
  return rule;
}

void ConfigParser::parseConsistency(const Section& root, Config& config) const {
  // Walked even when absent: the write quorum default depends on redis.replicas.
  const Entry entry = root.get("consistency").value_or(Entry{YAML::Node(), "consistency", 1});
  const Section consistency(*this, entry,
                            {"default", "max_staleness", "wait_timeout", "write_quorum", "rules"});
  ConsistencyConfig& out = config.consistency;
  std::optional<Entry> quorumEntry;

  if (auto defaults = consistency.get("default")) {
    const Section section(*this, *defaults,
                          {"level", "max_staleness", "override", "on_stale", "downgrade"});
    out.defaultPolicy = parsePolicy(section, out.defaultPolicy, "");
  }
  if (auto bound = consistency.get("max_staleness")) out.maxStaleness = readDuration(*bound, true);
  if (auto wait = consistency.get("wait_timeout")) out.waitTimeout = readDuration(*wait, true);

  if (auto quorum = consistency.get("write_quorum")) {
    const Section section(*this, *quorum, {"replicas", "timeout"});
    if (auto replicas = section.get("replicas")) {
      const std::string& text = scalar(*replicas, "a number of replicas, majority or all");
      if (equalsIgnoreCase(text, "majority")) {
        out.writeQuorum.kind = WriteQuorum::Kind::Majority;
      } else if (equalsIgnoreCase(text, "all")) {
        out.writeQuorum.kind = WriteQuorum::Kind::All;
      } else if (!text.empty() && (std::isdigit(static_cast<unsigned char>(text[0])) ||
                                   text[0] == '-' || text[0] == '+')) {
        out.writeQuorum.kind = WriteQuorum::Kind::Count;
        out.writeQuorum.replicas = static_cast<int>(readInt(*replicas, 0, kMaxQuorumReplicas));
      } else {
        fail(*replicas, "expected a number of replicas, majority or all, got " + inQuotes(text));
      }
    }
    // WAIT with a timeout of 0 blocks forever in Redis; a strong write must end.
    if (auto timeout = section.get("timeout")) {
      out.writeQuorum.timeout = readDuration(*timeout, false);
    }
    quorumEntry = section.get("replicas");
  }
  // The quorum counts replicas that acknowledge a strong write; asking for more than are
  // configured would fail every strong write. (redis is parsed before consistency.)
  const int replicaCount = static_cast<int>(config.redis.replicas.size());
  WriteQuorum& quorum = out.writeQuorum;
  if (quorum.kind == WriteQuorum::Kind::Count && quorum.replicas > replicaCount) {
    if (quorumEntry) {
      fail(*quorumEntry, "a write quorum of " + std::to_string(quorum.replicas) +
                             " replicas, but only " + std::to_string(replicaCount) +
                             " configured under redis.replicas; every strong write would fail");
    }
    quorum.replicas = replicaCount;  // the default of one, without replicas: none
  }

  if (auto rules = consistency.get("rules")) {
    std::unordered_map<std::string, int> firstLine;  // rule name -> its line: O(1) per rule, not O(rules)
    for (const Entry& item : readList(*rules, false)) {
      Rule rule = parseRule(item, out.defaultPolicy);
      if (auto [seen, added] = firstLine.try_emplace(rule.name, rule.line); !added) {
        fail(lineOf(item.node, item.line), item.path + ".name",
             "duplicate rule name " + inQuotes(rule.name) + " (first defined at line " +
                 std::to_string(seen->second) + ")");
      }
      out.rules.push_back(std::move(rule));
    }
  }
}

void ConfigParser::parseLoad(const Section& root, Config& config) const {
  const auto entry = root.get("load");
  if (!entry) return;
  const Section load(*this, *entry, {"enabled", "high", "low", "for"});
  LoadConfig& out = config.load;
  if (auto enabled = load.get("enabled")) out.enabled = readBool(*enabled);
  if (auto holdFor = load.get("for")) out.holdFor = readDuration(*holdFor, true);

  struct Given {
    std::optional<Entry> inflight;
    std::optional<Entry> p99;
    std::optional<Entry> errorRate;
  };
  auto readWatermark = [&](std::string_view key, LoadWatermark& mark, bool high) {
    Given given;
    const auto watermark = load.get(key);
    if (!watermark) return given;
    const Section section(*this, *watermark, {"inflight", "p99", "error_rate"});
    given.inflight = section.get("inflight");
    given.p99 = section.get("p99");
    given.errorRate = section.get("error_rate");
    if (given.errorRate) {
      const std::string& text = scalar(*given.errorRate, "a fraction");
      char* end = nullptr;
      const double value = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size() || !(value >= 0.0 && value <= 1.0)) {
        fail(*given.errorRate, "expected a fraction between 0 and 1 (e.g. 0.05), got " + inQuotes(text));
      }
      mark.errorRate = value;
    }
    if (given.inflight) {
      mark.inflight = static_cast<int>(readInt(*given.inflight, high ? 1 : 0, kMaxInflight));
    }
    if (given.p99) mark.p99 = readDuration(*given.p99, !high);
    return given;
  };
  const Given high = readWatermark("high", out.high, true);
  const Given low = readWatermark("low", out.low, false);

  // Hysteresis needs low ≤ high, or the controller would flap between the two states.
  auto check = [&](const char* what, long long lowValue, long long highValue,
                   const std::optional<Entry>& lowEntry, const std::optional<Entry>& highEntry,
                   const std::string& unit) {
    if (lowValue <= highValue) return;
    const std::string values = "load.low." + std::string(what) + " (" +
                               std::to_string(lowValue) + unit + ") is above load.high." + what +
                               " (" + std::to_string(highValue) + unit + ")";
    const std::string advice = "; the low watermark must not exceed the high one";
    if (lowEntry) fail(*lowEntry, values + advice);
    if (highEntry) fail(*highEntry, values + (" with the default low watermark" + advice));
    fail(*entry, values + advice);
  };
  check("inflight", out.low.inflight, out.high.inflight, low.inflight, high.inflight, "");
  check("p99", out.low.p99.count(), out.high.p99.count(), low.p99, high.p99, "ms");
  if (out.high.errorRate > 0 && out.low.errorRate > out.high.errorRate) {
    fail(low.errorRate ? *low.errorRate : *entry,
         "load.low.error_rate is above load.high.error_rate; the low watermark must not exceed the high one");
  }
}

void ConfigParser::parseLimits(const Section& root, Config& config) const {
  const auto entry = root.get("limits");
  if (!entry) return;
  const Section limits(*this, *entry,
                       {"max_header_bytes", "max_body_bytes", "max_key_bytes", "max_connections",
                        "header_timeout", "body_timeout", "idle_timeout", "drain_timeout"});
  LimitsConfig& out = config.limits;
  constexpr std::size_t kGiB = 1ull << 30;
  if (auto value = limits.get("max_header_bytes")) out.maxHeaderBytes = readByteSize(*value, kGiB);
  if (auto value = limits.get("max_body_bytes")) out.maxBodyBytes = readByteSize(*value, 4 * kGiB);
  if (auto value = limits.get("max_key_bytes")) {
    out.maxKeyBytes = readByteSize(*value, kMaxKeyBytesRedis);
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
    std::string upper = toUpper(word);
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
    const std::string text = toLower(readString(*level));
    if (text == "debug" || text == "info" || text == "warn" || text == "error") {
      config.log.level = text;
    } else if (text == "warning") {
      config.log.level = "warn";
    } else {
      fail(*level, "unknown log level " + inQuotes(level->node.Scalar()) +
                       " (expected debug, info, warn or error)");
    }
  }
}

Config ConfigParser::parse(const YAML::Node& root) {
  Config config;
  const Section top(*this, Entry{root, "", 1},
                    {"listen", "workers", "redis", "tracking", "session", "consistency", "load",
                     "limits", "commands", "log"});
  parseListen(top, config);
  if (auto workers = top.get("workers")) {
    config.workers = static_cast<int>(readInt(*workers, 0, kMaxWorkers));
  }
  parseRedis(top, config);
  parseTracking(top, config);
  parseSession(top, config);
  parseConsistency(top, config);
  parseLoad(top, config);
  parseLimits(top, config);
  parseCommands(top, config);
  parseLog(top, config);

  return config;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Public interface

std::optional<milliseconds> parseDuration(std::string_view text) {
  // <digits>[.<digits>][unit], unit one of us, ms, s, m, h; none means ms. Computed in
  // nanoseconds and rounded up to whole milliseconds, so "500us" is 1ms, never 0.
  std::size_t i = 0;
  auto isDigit = [&](std::size_t at) {
    return at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]));
  };
  if (!isDigit(0)) return std::nullopt;
  constexpr std::uint64_t kLimit = std::numeric_limits<std::int64_t>::max();
  std::uint64_t whole = 0;
  for (; isDigit(i); ++i) {
    const std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
    if (whole > (kLimit - digit) / 10) return std::nullopt;
    whole = whole * 10 + digit;
  }
  std::uint64_t fractionNs = 0;  // the fraction in units of 1e-9
  bool fractionRemainder = false;
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!isDigit(i)) return std::nullopt;
    std::uint64_t scale = 100'000'000;
    for (; isDigit(i); ++i) {
      const std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
      if (scale > 0) {
        fractionNs += digit * scale;
        scale /= 10;
      } else if (digit != 0) {
        fractionRemainder = true;
      }
    }
  }
  const std::string unit = toLower(text.substr(i));
  std::uint64_t nsPerUnit = 0;
  if (unit.empty() || unit == "ms") {
    nsPerUnit = 1'000'000;
  } else if (unit == "us") {
    nsPerUnit = 1'000;
  } else if (unit == "s") {
    nsPerUnit = 1'000'000'000;
  } else if (unit == "m") {
    nsPerUnit = 60'000'000'000;
  } else if (unit == "h") {
    nsPerUnit = 3'600'000'000'000;
  } else {
    return std::nullopt;
  }
  if (whole > kLimit / nsPerUnit) return std::nullopt;
  std::uint64_t totalNs = whole * nsPerUnit;
  // fractionNs < 1e9 and every unit is a whole number of microseconds ≤ 3.6e9, so the
  // product below stays under 2^64.
  const std::uint64_t exact = fractionNs * (nsPerUnit / 1'000);
  std::uint64_t extraNs = exact / 1'000'000;
  if (exact % 1'000'000 != 0 || fractionRemainder) extraNs += 1;
  if (extraNs > kLimit - totalNs) return std::nullopt;
  totalNs += extraNs;
  const std::uint64_t ms = totalNs / 1'000'000 + (totalNs % 1'000'000 != 0 ? 1 : 0);
  return milliseconds{static_cast<milliseconds::rep>(ms)};
}

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
  ConfigParser parser(source);
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

std::string describe(const Config& config) {
  std::ostringstream out;
  out << "config " << config.sourceName << " (version " << config.version << ")\n";
  out << "listen: data " << formatEndpoint(config.listen.data) << ", admin "
      << formatEndpoint(config.listen.admin) << "\n";
  out << "workers: " << (config.workers == 0 ? "one per core" : std::to_string(config.workers))
      << "\n";

  const RedisConfig& redis = config.redis;
  out << "backends:\n";
  std::size_t nameWidth = redis.primary.name.size();
  for (const auto& replica : redis.replicas) nameWidth = std::max(nameWidth, replica.name.size());
  auto backendLine = [&](const BackendConfig& backend, const char* role) {
    out << "  " << std::left << std::setw(static_cast<int>(nameWidth)) << backend.name << "  "
        << std::setw(7) << role << "  " << formatEndpoint(backend.address) << "\n";
  };
  backendLine(redis.primary, "primary");
  for (const auto& replica : redis.replicas) backendLine(replica, "replica");
  if (redis.replicas.empty()) out << "  (no replicas: every read goes to the primary)\n";
  out << "redis: password "
      << (redis.passwordEnv.empty() ? std::string("none") : "from $" + redis.passwordEnv)
      << ", connect timeout " << formatMs(redis.connectTimeout) << ", command timeout "
      << formatMs(redis.commandTimeout) << ", " << redis.connectionsPerWorker
      << " connection(s) per worker per backend\n";
  out << "replica choice: "
      << (redis.replicaStickiness == 0
              ? std::string("least loaded")
              : "each worker keeps to one replica until it has " + std::to_string(redis.replicaStickiness) +
                    " more calls waiting than another, or its oldest waiting call is older than " +
                    formatMs(routing::ReplicaPreference{}.stalledAfter))
      << "\n";
  out << "tracking: poll every " << formatMs(config.tracking.interval) << ", down after "
      << formatMs(config.tracking.downAfter) << " without an answer\n";
  out << "session keys:";
  if (!config.session.keysEnv.empty()) out << " env $" << config.session.keysEnv;
  if (!config.session.keysFile.empty()) out << " file " << config.session.keysFile;
  if (config.session.keysEnv.empty() && config.session.keysFile.empty()) {
    out << " none configured (a random key is made at start-up)";
  }
  out << "\n";

  const ConsistencyConfig& consistency = config.consistency;
  const WriteQuorum& quorum = consistency.writeQuorum;
  out << "consistency: max_staleness " << formatMs(consistency.maxStaleness) << " (for bounded "
      << "reads naming none), wait_timeout " << formatMs(consistency.waitTimeout) << "\n";
  out << "write quorum (strong writes): ";
  switch (quorum.kind) {
    case WriteQuorum::Kind::Count: out << quorum.replicas << " replica(s)"; break;
    case WriteQuorum::Kind::Majority: out << "a majority of replicas"; break;
    case WriteQuorum::Kind::All: out << "all replicas"; break;
  }
  out << " within " << formatMs(quorum.timeout) << "\n";

  // The effective rule table: first match wins, then the default.
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"#", "rule", "keys", "methods", "level", "override", "on_stale", "downgrade",
                  "max_staleness"});
  auto policyCells = [&](const Policy& policy, std::vector<std::string>& row) {
    row.emplace_back(routing::toString(policy.level));
    row.emplace_back(routing::toString(policy.override));
    row.emplace_back(routing::toString(policy.onStale));
    row.push_back(policy.downgradeEnabled
                      ? "to " + std::string(routing::toString(policy.floor))
                      : std::string("no"));
    row.push_back(policy.maxStaleness ? formatMs(*policy.maxStaleness)
                                      : formatMs(consistency.maxStaleness) + " (global)");
  };
  std::size_t index = 1;
  for (const Rule& rule : consistency.rules) {
    std::string keys;
    for (const auto& glob : rule.keyGlobs) keys += (keys.empty() ? "" : ",") + printable(glob);
    std::string methods;
    for (const auto& method : rule.methods) methods += (methods.empty() ? "" : ",") + method;
    std::vector<std::string> row{std::to_string(index++), rule.name, keys,
                                 methods.empty() ? "*" : methods};
    policyCells(rule.policy, row);
    rows.push_back(std::move(row));
  }
  std::vector<std::string> fallback{"-", "(default)", "*", "*"};
  policyCells(consistency.defaultPolicy, fallback);
  rows.push_back(std::move(fallback));
  std::vector<std::size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  out << "rules (first match wins; downgrade = lowest level reads may be relaxed to under load):\n";
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += "  " + row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size(), ' ');
    }
    out << line << "\n";
  }

  const LoadConfig& load = config.load;
  if (load.enabled) {
    out << "load: overloaded when inflight >= " << load.high.inflight << " or p99 >= "
        << formatMs(load.high.p99);
    if (load.high.errorRate > 0) out << " or error rate >= " << load.high.errorRate;
    out << " for " << formatMs(load.holdFor) << "; back to normal when inflight <= " << load.low.inflight
        << " and p99 <= " << formatMs(load.low.p99);
    if (load.high.errorRate > 0) out << " and error rate <= " << load.low.errorRate;
    out << " for " << formatMs(load.holdFor) << "\n";
  } else {
    out << "load: downgrading disabled\n";
  }
  const LimitsConfig& limits = config.limits;
  out << "limits: header " << formatBytes(limits.maxHeaderBytes) << ", body "
      << formatBytes(limits.maxBodyBytes) << ", key " << formatBytes(limits.maxKeyBytes) << ", "
      << limits.maxConnections << " connections; timeouts header "
      << formatMs(limits.headerTimeout) << ", body " << formatMs(limits.bodyTimeout) << ", idle "
      << formatMs(limits.idleTimeout) << ", drain " << formatMs(limits.drainTimeout) << "\n";
  auto join = [](const std::vector<std::string>& words) {
    std::string text;
    for (const auto& word : words) text += (text.empty() ? "" : ",") + word;
    return text.empty() ? std::string("-") : text;
  };
  out << "commands: scripts " << (config.commands.allowScripts ? "allowed" : "refused")
      << ", also allowed " << join(config.commands.allow) << ", also refused "
      << join(config.commands.deny) << "\n";
  out << "log level: " << config.log.level << ", access log " << (config.log.access ? "on" : "off") << "\n";
  return out.str();
}

}  // namespace cx::proxy
