// describe(): the effective configuration as text, for --check-config.
#include <algorithm>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/config/values.h"
#include "routing/router.h"

namespace cx::proxy {

using routing::Policy;
using routing::Rule;

std::string describe(const Config& config) {
  std::ostringstream out;
  out << "config " << config.sourceName << " (version " << config.version << ")\n";
  out << "listen: data " << formatEndpoint(config.listen.data) << (config.listen.dataTls ? " (HTTPS)" : "")
      << ", admin " << formatEndpoint(config.listen.admin) << (config.listen.adminTls ? " (HTTPS)" : "") << "\n";
  out << "workers: " << (config.workers == 0 ? "one per core" : std::to_string(config.workers)) << "\n";

  const RedisConfig& redis = config.redis;
  if (redis.sentinel) {
    const auto& sc = *redis.sentinel;
    out << "backends: discovered through Sentinel (master " << sc.master << ", named host:port)\n";
    out << "sentinels:";
    for (const auto& a : sc.addresses) out << " " << formatEndpoint(a);
    out << "\n";
    out << "sentinel auth: " << (sc.username.empty() ? std::string("no user") : "user " + sc.username) << ", password "
        << (sc.passwordEnv.empty() ? std::string("none") : "from $" + sc.passwordEnv)
        << " (the sentinel section needs a restart to change)\n";
    out << "failover: writes and strong reads "
        << (redis.failoverWait.count() == 0 ? std::string("get 503 primary_unavailable at once")
                                            : "wait up to " + formatMs(redis.failoverWait))
        << " while no primary is confirmed\n";
  } else {
    out << "backends:\n";
    std::size_t nameWidth = redis.primary.name.size();
    for (const auto& replica : redis.replicas) nameWidth = std::max(nameWidth, replica.name.size());
    auto backendLine = [&](const BackendConfig& backend, const char* role) {
      out << "  " << std::left << std::setw(static_cast<int>(nameWidth)) << backend.name << "  " << std::setw(7) << role
          << "  " << formatEndpoint(backend.address) << "\n";
    };
    backendLine(redis.primary, "primary");
    for (const auto& replica : redis.replicas) backendLine(replica, "replica");
    if (redis.replicas.empty()) out << "  (no replicas: every read goes to the primary)\n";
  }
  out << "redis: password " << (redis.passwordEnv.empty() ? std::string("none") : "from $" + redis.passwordEnv)
      << ", connect timeout " << formatMs(redis.connectTimeout) << ", command timeout "
      << formatMs(redis.commandTimeout) << ", " << redis.connectionsPerWorker
      << " connection(s) per worker per backend\n";
  if (!redis.username.empty()) out << "redis: ACL user " << redis.username << "\n";
  if (redis.tls.enabled) {
    out << "redis: TLS, CA " << (redis.tls.caFile.empty() ? std::string("system store") : redis.tls.caFile)
        << ", names checked against "
        << (redis.tls.serverName.empty() ? std::string("each node's host") : redis.tls.serverName)
        << (redis.tls.certFile.empty() ? std::string() : ", client certificate " + redis.tls.certFile)
        << (redis.tls.verify ? "" : ", CERTIFICATES NOT VERIFIED (verify: false, for tests only)") << "\n";
  }
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

  out << "bearer tokens: ";
  if (!config.auth.tokensEnv.empty())
    out << "env $" << config.auth.tokensEnv << "\n";
  else if (!config.auth.tokensFile.empty())
    out << "file " << config.auth.tokensFile << "\n";
  else
    out << "off (the data listener serves every client)\n";

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
  rows.push_back({"#", "rule", "keys", "methods", "level", "override", "on_stale", "downgrade", "max_staleness"});
  auto policyCells = [&](const Policy& policy, std::vector<std::string>& row) {
    row.emplace_back(routing::toString(policy.level));
    row.emplace_back(routing::toString(policy.override));
    row.emplace_back(routing::toString(policy.onStale));
    row.push_back(policy.downgradeEnabled ? "to " + std::string(routing::toString(policy.floor)) : std::string("no"));
    row.push_back(policy.maxStaleness ? formatMs(*policy.maxStaleness)
                                      : formatMs(consistency.maxStaleness) + " (global)");
  };
  std::size_t index = 1;
  for (const Rule& rule : consistency.rules) {
    std::string keys;
    for (const auto& glob : rule.keyGlobs) keys += (keys.empty() ? "" : ",") + printable(glob);
    std::string methods;
    for (const auto& method : rule.methods) methods += (methods.empty() ? "" : ",") + method;
    std::vector<std::string> row{std::to_string(index++), rule.name, keys, methods.empty() ? "*" : methods};
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
    out << "load: overloaded when inflight >= " << load.high.inflight << " or p99 >= " << formatMs(load.high.p99);
    if (load.high.errorRate > 0) out << " or error rate >= " << load.high.errorRate;
    out << " for " << formatMs(load.holdFor) << "; back to normal when inflight <= " << load.low.inflight
        << " and p99 <= " << formatMs(load.low.p99);
    if (load.high.errorRate > 0) out << " and error rate <= " << load.low.errorRate;
    out << " for " << formatMs(load.holdFor) << "\n";
  } else {
    out << "load: downgrading disabled\n";
  }
  const LimitsConfig& limits = config.limits;
  out << "limits: header " << formatBytes(limits.maxHeaderBytes) << ", body " << formatBytes(limits.maxBodyBytes)
      << ", key " << formatBytes(limits.maxKeyBytes) << ", batch " << limits.maxBatchCommands << " commands, "
      << limits.maxConnections << " connections; timeouts header " << formatMs(limits.headerTimeout) << ", body "
      << formatMs(limits.bodyTimeout) << ", idle " << formatMs(limits.idleTimeout) << ", drain "
      << formatMs(limits.drainTimeout) << "\n";
  auto join = [](const std::vector<std::string>& words) {
    std::string text;
    for (const auto& word : words) text += (text.empty() ? "" : ",") + word;
    return text.empty() ? std::string("-") : text;
  };
  out << "commands: scripts " << (config.commands.allowScripts ? "allowed" : "refused") << ", also allowed "
      << join(config.commands.allow) << ", also refused " << join(config.commands.deny) << "\n";
  if (config.audit.sampleRate > 0) {
    out << "audit: " << config.audit.sampleRate * 100 << "% of reads repeated on another node and compared, at most "
        << config.audit.maxInFlight << " at once\n";
  } else {
    out << "audit: off\n";
  }
  out << "log level: " << config.log.level << ", access log " << (config.log.access ? "on" : "off") << "\n";
  return out.str();
}

}  // namespace cx::proxy
