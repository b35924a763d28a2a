// The config sections that decide consistency (README "Configuration", "Rules" and
// "Load-driven downgrading"): policies, rules, consistency.* and load.*.
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backends/text.h"
#include "proxy/config/config_parser.h"
#include "routing/glob.h"
#include "routing/rules.h"

namespace cx::proxy::config_parsing {

Policy ConfigParser::parsePolicy(const Section& section, Policy policy, const std::string& ruleName) const {
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
    std::string problem = "floor " + std::string(routing::toString(policy.floor)) + " is stronger than the level " +
                          std::string(routing::toString(policy.level));
    problem += ruleName.empty() ? " of consistency.default" : " of rule " + inQuotes(ruleName);
    problem += "; a floor is the weakest level reads may be relaxed to";
    fail(*floorEntry, problem);
  }
  return policy;
}

Rule ConfigParser::parseRule(const Entry& entry, const Policy& defaultPolicy) const {
  if (!entry.node.IsMap()) {
    fail(entry, "expected a rule (a mapping with name, keys, level...), got " + describeNode(entry.node));
  }
  const Section section(*this, entry,
                        {"name", "keys", "methods", "level", "max_staleness", "override", "on_stale", "downgrade"});
  Rule rule;
  rule.line = entry.line;
  const auto name = section.get("name");
  if (!name) fail(entry.line, section.path("name"), "missing; every rule needs a name");
  rule.name = readName(*name, "rule");

  const auto keys = section.get("keys");
  if (!keys) {
    fail(entry.line, section.path("keys"),
         "missing; rule " + inQuotes(rule.name) + " needs at least one key pattern, e.g. [\"user:*\"]");
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
  const Section consistency(*this, entry, {"default", "max_staleness", "wait_timeout", "write_quorum", "rules"});
  ConsistencyConfig& out = config.consistency;
  std::optional<Entry> quorumEntry;

  if (auto defaults = consistency.get("default")) {
    const Section section(*this, *defaults, {"level", "max_staleness", "override", "on_stale", "downgrade"});
    out.defaultPolicy = parsePolicy(section, out.defaultPolicy, "");
  }
  if (auto bound = consistency.get("max_staleness")) out.maxStaleness = readDuration(*bound, true);
  if (auto wait = consistency.get("wait_timeout")) out.waitTimeout = readDuration(*wait, true);

  if (auto quorum = consistency.get("write_quorum")) {
    const Section section(*this, *quorum, {"replicas", "timeout"});
    if (auto replicas = section.get("replicas")) {
      const std::string& text = scalar(*replicas, "a number of replicas, majority or all");
      if (text::iequals(text, "majority")) {
        out.writeQuorum.kind = WriteQuorum::Kind::Majority;
      } else if (text::iequals(text, "all")) {
        out.writeQuorum.kind = WriteQuorum::Kind::All;
      } else if (!text.empty() &&
                 (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-' || text[0] == '+')) {
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
  // Sentinel mode: the replicas are discovered, the count is checked per write (WAIT).
  if (!config.redis.sentinel && quorum.kind == WriteQuorum::Kind::Count && quorum.replicas > replicaCount) {
    if (quorumEntry) {
      fail(*quorumEntry, "a write quorum of " + std::to_string(quorum.replicas) + " replicas, but only " +
                             std::to_string(replicaCount) +
                             " configured under redis.replicas; every strong write would fail");
    }
    quorum.replicas = replicaCount;  // the default of one, without replicas: none
  }

  if (auto rules = consistency.get("rules")) {
    std::unordered_map<std::string, int> firstLine;  // rule name -> the line defining it
    for (const Entry& item : readList(*rules, false)) {
      Rule rule = parseRule(item, out.defaultPolicy);
      if (auto [seen, added] = firstLine.try_emplace(rule.name, rule.line); !added) {
        fail(lineOf(item.node, item.line), item.path + ".name",
             "duplicate rule name " + inQuotes(rule.name) + " (first defined at line " + std::to_string(seen->second) +
                 ")");
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
    if (given.errorRate) mark.errorRate = readFraction(*given.errorRate);
    if (given.inflight) {
      mark.inflight = static_cast<int>(readInt(*given.inflight, high ? 1 : 0, kMaxInflight));
    }
    if (given.p99) mark.p99 = readDuration(*given.p99, !high);
    return given;
  };
  const Given high = readWatermark("high", out.high, true);
  const Given low = readWatermark("low", out.low, false);

  // Hysteresis needs low ≤ high, or the controller would flap between the two states.
  auto check = [&](const char* what, long long lowValue, long long highValue, const std::optional<Entry>& lowEntry,
                   const std::optional<Entry>& highEntry, const std::string& unit) {
    if (lowValue <= highValue) return;
    const std::string values = "load.low." + std::string(what) + " (" + std::to_string(lowValue) + unit +
                               ") is above load.high." + what + " (" + std::to_string(highValue) + unit + ")";
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

}  // namespace cx::proxy::config_parsing
