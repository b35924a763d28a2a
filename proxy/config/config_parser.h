// The config parser's internals (proxy/config/parse.cpp and parse_consistency.cpp): the
// section parsers on top of yaml_reader.h's typed readers. Not for use elsewhere: the
// public interface is config.h's parseConfig() and loadConfigFile().
#pragma once

#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"
#include "routing/router.h"

namespace cx::proxy::config_parsing {

using yaml::childPath;
using yaml::describeNode;
using yaml::Entry;
using yaml::lineOf;
using yaml::Section;

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
constexpr int kMaxAuditsInFlight = 100'000;
constexpr std::size_t kMaxKeyBytesRedis = 512ull * 1024 * 1024;  // Redis's own key limit

// The section parsers, on top of the typed readers.
class ConfigParser : public yaml::ConfigReader {
 public:
  using ConfigReader::ConfigReader;
  Config parse(const YAML::Node& root);

  // --- sections ---
  void parseListen(const Section& root, Config& config) const;
  void parseRedis(const Section& root, Config& config) const;
  void parseTracking(const Section& root, Config& config) const;
  void parseSession(const Section& root, Config& config) const;
  void parseAuth(const Section& root, Config& config) const;
  void parseRedisTls(const Entry& entry, RedisTlsConfig& out) const;
  ListenerTls parseListenerTls(const Entry& entry) const;
  void parseConsistency(const Section& root, Config& config) const;
  void parseLoad(const Section& root, Config& config) const;
  void parseLimits(const Section& root, Config& config) const;
  void parseCommands(const Section& root, Config& config) const;
  void parseLog(const Section& root, Config& config) const;
  void parseAudit(const Section& root, Config& config) const;
  double readFraction(const Entry& entry) const;

  BackendConfig parseBackend(const Entry& entry, BackendConfig backend, bool requireAddress) const;
  Policy parsePolicy(const Section& section, Policy policy, const std::string& ruleName) const;
  Rule parseRule(const Entry& entry, const Policy& defaultPolicy) const;
  std::vector<std::string> readCommandList(const Entry& entry) const;
};

}  // namespace cx::proxy::config_parsing
