// Tests for configuration loading (README "Configuration"): defaults, the documented example, every
// extension key, and errors that name the file, line and key path.
#include "proxy/config/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace cx::proxy {
namespace {

using routing::Level;
using routing::OnStale;
using routing::Override;
using std::chrono::milliseconds;

// The documented configuration example, verbatim.
constexpr const char* kDesignExample = R"yaml(listen:
  data: 127.0.0.1:8080          # app traffic
  admin: 127.0.0.1:9100         # metrics, health, status
workers: 1                      # event-loop threads; 0 = one per core
redis:
  primary: {name: primary, address: 127.0.0.1:6379}
  replicas:
    - {name: replica-1, address: 127.0.0.1:6380}
    - {name: replica-2, address: 127.0.0.1:6381}
tracking:
  interval: 50ms                # how often each backend's offset is polled
session:
  keys_env: CXPROXY_SESSION_KEYS   # "id:hexsecret,id2:hexsecret2"; the first signs
consistency:
  default: {level: session, override: any, on_stale: primary}
  max_staleness: 1s             # bound for `bounded` when the request names none
  wait_timeout: 100ms           # how long on_stale: wait may wait
  write_quorum: {replicas: 1, timeout: 500ms}   # for strong writes; `majority` or `all` too
  rules:
    - name: accounts
      keys: ["account:*"]
      methods: [GET, PUT, DELETE]   # optional; all when absent
      level: strong
      override: stronger            # any | stronger | none
      downgrade: {enabled: true, floor: bounded}
    - name: feed
      keys: ["feed:*"]
      level: eventual
load:                           # load-driven downgrading
  enabled: true
  high: {inflight: 256, p99: 20ms}    # enter overloaded when either holds for `for`
  low:  {inflight: 64,  p99: 5ms}     # leave when both hold for `for`
  for: 2s
)yaml";

// Two replicas, so quorum tests have something to count.
constexpr const char* kTwoReplicas = R"yaml(redis:
  replicas:
    - {name: r1, address: 127.0.0.1:6380}
    - {name: r2, address: 127.0.0.1:6381}
)yaml";

std::string errorOf(const std::string& yaml, const std::string& source = "cx.yaml") {
  try {
    parseConfig(yaml, source);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "(no error)";
}

// Asserts the error starts with "<source>:<line>: <path>: " and mentions `problem`.
void expectError(const std::string& yaml, int line, const std::string& path, const std::string& problem) {
  const std::string message = errorOf(yaml);
  const std::string prefix = "cx.yaml:" + std::to_string(line) + ": " + path + ": ";
  EXPECT_EQ(message.rfind(prefix, 0), 0u) << "expected prefix: " << prefix << "\n got: " << message;
  EXPECT_NE(message.find(problem), std::string::npos) << "expected to mention: " << problem << "\n got: " << message;
}

// ---- defaults and the documented example ----

TEST(ConfigDefaults, EmptyFileGivesEveryDefault) {
  for (const char* text : {"", "# only a comment\n", "---\n", "\n\n"}) {
    const Config config = parseConfig(text);
    EXPECT_EQ(config.listen.data.toString(), "127.0.0.1:8080");
    EXPECT_EQ(config.listen.admin.toString(), "127.0.0.1:9100");
    EXPECT_EQ(config.workers, 1);
    EXPECT_EQ(config.redis.primary.name, "primary");
    EXPECT_EQ(config.redis.primary.address.toString(), "127.0.0.1:6379");
    EXPECT_TRUE(config.redis.replicas.empty());
    EXPECT_EQ(config.redis.passwordEnv, "");
    EXPECT_EQ(config.redis.replicaStickiness, 64u);
    EXPECT_EQ(config.tracking.interval, milliseconds{50});
    EXPECT_EQ(config.session.keysEnv, "CXPROXY_SESSION_KEYS");
    EXPECT_EQ(config.consistency.defaultPolicy.level, Level::Session);
    EXPECT_EQ(config.consistency.defaultPolicy.override, Override::Any);
    EXPECT_EQ(config.consistency.defaultPolicy.onStale, OnStale::Primary);
    EXPECT_FALSE(config.consistency.defaultPolicy.downgradeEnabled);
    EXPECT_EQ(config.consistency.maxStaleness, milliseconds{1000});
    EXPECT_EQ(config.consistency.waitTimeout, milliseconds{100});
    EXPECT_EQ(config.consistency.writeQuorum.kind, WriteQuorum::Kind::Count);
    EXPECT_EQ(config.consistency.writeQuorum.replicas, 0);  // no replicas to wait for
    EXPECT_EQ(config.consistency.writeQuorum.timeout, milliseconds{500});
    EXPECT_TRUE(config.consistency.rules.empty());
    EXPECT_TRUE(config.load.enabled);
    EXPECT_EQ(config.load.high.inflight, 256);
    EXPECT_EQ(config.load.low.p99, milliseconds{5});
    EXPECT_EQ(config.load.holdFor, milliseconds{2000});
    EXPECT_EQ(config.limits.maxBodyBytes, 1024u * 1024u);
    EXPECT_FALSE(config.commands.allowScripts);
    EXPECT_EQ(config.log.level, "info");
    EXPECT_EQ(config.sourceName, "<string>");
    EXPECT_EQ(config.version.size(), 12u);
  }
}

TEST(ConfigDefaults, EmptySectionsKeepDefaults) {
  const Config config = parseConfig("listen:\nredis:\nconsistency:\n  rules: []\nload: {}\n");
  EXPECT_EQ(config.listen.data.port, 8080);
  EXPECT_TRUE(config.consistency.rules.empty());
  EXPECT_TRUE(config.load.enabled);
}

TEST(ConfigExample, DesignExampleParsesToTheDocumentedValues) {
  const Config config = parseConfig(kDesignExample, "cx.yaml");
  EXPECT_EQ(config.sourceName, "cx.yaml");
  EXPECT_EQ(config.listen.data.host, "127.0.0.1");
  EXPECT_EQ(config.listen.data.port, 8080);
  EXPECT_EQ(config.listen.admin.port, 9100);
  EXPECT_EQ(config.workers, 1);
  ASSERT_EQ(config.redis.replicas.size(), 2u);
  EXPECT_EQ(config.redis.replicas[0].name, "replica-1");
  EXPECT_EQ(config.redis.replicas[1].address.toString(), "127.0.0.1:6381");
  EXPECT_EQ(config.tracking.interval, milliseconds{50});
  EXPECT_EQ(config.consistency.writeQuorum.kind, WriteQuorum::Kind::Count);
  EXPECT_EQ(config.consistency.writeQuorum.replicas, 1);
  EXPECT_EQ(config.consistency.writeQuorum.timeout, milliseconds{500});

  ASSERT_EQ(config.consistency.rules.size(), 2u);
  const routing::Rule& accounts = config.consistency.rules[0];
  EXPECT_EQ(accounts.name, "accounts");
  EXPECT_EQ(accounts.keyGlobs, std::vector<std::string>{"account:*"});
  EXPECT_EQ(accounts.methods, (std::vector<std::string>{"GET", "PUT", "DELETE"}));
  EXPECT_EQ(accounts.policy.level, Level::Strong);
  EXPECT_EQ(accounts.policy.override, Override::Stronger);
  EXPECT_TRUE(accounts.policy.downgradeEnabled);
  EXPECT_EQ(accounts.policy.floor, Level::Bounded);
  EXPECT_EQ(accounts.line, 20);
  const routing::Rule& feed = config.consistency.rules[1];
  EXPECT_EQ(feed.policy.level, Level::Eventual);
  EXPECT_TRUE(feed.methods.empty());
  EXPECT_FALSE(feed.policy.downgradeEnabled);
  EXPECT_EQ(feed.line, 26);

  EXPECT_EQ(config.load.high.p99, milliseconds{20});
  EXPECT_EQ(config.load.low.inflight, 64);
  EXPECT_EQ(config.load.holdFor, milliseconds{2000});
}

TEST(ConfigExample, ShippedExampleFileLoads) {
  // The repository root, from this file's path (absolute under CMake, relative otherwise).
  std::string root = __FILE__;
  root.erase(root.size() - std::string("tests/unit/proxy/config/config_test.cpp").size());
  const Config config = loadConfigFile(root + "config.example.yaml");
  EXPECT_EQ(config.redis.primary.address.toString(), "127.0.0.1:6379");
  ASSERT_EQ(config.redis.replicas.size(), 2u);
  EXPECT_EQ(config.redis.replicas[0].address.port, 6380);
  EXPECT_EQ(config.redis.replicas[1].address.port, 6381);
  EXPECT_EQ(config.listen.data.port, 8080);
  EXPECT_EQ(config.listen.admin.port, 9100);
  EXPECT_EQ(config.consistency.rules.size(), 2u);
}

TEST(ConfigExample, EveryExtensionKeyIsRead) {
  const Config config = parseConfig(R"yaml(workers: 0
redis:
  primary: {name: main, address: "[::1]:7000"}
  replicas: [{address: "10.0.0.2:6379"}]
  password_env: REDIS_PASSWORD
  connect_timeout: 2s
  command_timeout: 750ms
  connections_per_worker: 4
  replica_stickiness: 0
tracking: {interval: 20ms, down_after: 3s}
session: {keys_env: "", keys_file: /run/keys}
limits:
  max_header_bytes: 8KiB
  max_body_bytes: 2MiB
  max_key_bytes: 512
  max_batch_commands: 50
  max_connections: 100
  header_timeout: 5s
  body_timeout: 6s
  idle_timeout: 1m
  drain_timeout: 0
commands: {allow_scripts: true, allow: [object, "CLIENT|LIST"], deny: [KEYS]}
log: {level: DEBUG}
)yaml");
  EXPECT_EQ(config.workers, 0);
  EXPECT_EQ(config.redis.primary.name, "main");
  EXPECT_EQ(config.redis.primary.address.host, "::1");
  EXPECT_EQ(config.redis.primary.address.port, 7000);
  ASSERT_EQ(config.redis.replicas.size(), 1u);
  EXPECT_EQ(config.redis.replicas[0].name, "replica-1");  // named by position when unnamed
  EXPECT_EQ(config.redis.passwordEnv, "REDIS_PASSWORD");
  EXPECT_EQ(config.redis.connectTimeout, milliseconds{2000});
  EXPECT_EQ(config.redis.commandTimeout, milliseconds{750});
  EXPECT_EQ(config.redis.connectionsPerWorker, 4);
  EXPECT_EQ(config.redis.replicaStickiness, 0u);
  EXPECT_EQ(config.tracking.interval, milliseconds{20});
  EXPECT_EQ(config.tracking.downAfter, milliseconds{3000});
  EXPECT_EQ(config.session.keysEnv, "");
  EXPECT_EQ(config.session.keysFile, "/run/keys");
  EXPECT_EQ(config.limits.maxHeaderBytes, 8192u);
  EXPECT_EQ(config.limits.maxBodyBytes, 2u * 1024 * 1024);
  EXPECT_EQ(config.limits.maxKeyBytes, 512u);
  EXPECT_EQ(config.limits.maxBatchCommands, 50u);
  EXPECT_EQ(config.limits.maxConnections, 100u);
  EXPECT_EQ(config.limits.headerTimeout, milliseconds{5000});
  EXPECT_EQ(config.limits.bodyTimeout, milliseconds{6000});
  EXPECT_EQ(config.limits.idleTimeout, milliseconds{60000});
  EXPECT_EQ(config.limits.drainTimeout, milliseconds{0});
  EXPECT_TRUE(config.commands.allowScripts);
  EXPECT_EQ(config.commands.allow, (std::vector<std::string>{"OBJECT", "CLIENT|LIST"}));
  EXPECT_EQ(config.commands.deny, std::vector<std::string>{"KEYS"});
  EXPECT_EQ(config.log.level, "debug");
}

// ---- rules and policies ----

TEST(ConfigRules, RuleInheritsDefaultPolicyButNotDowngrade) {
  const Config config = parseConfig(R"yaml(consistency:
  rules:
    - {name: plain, keys: "user:*"}
  default:
    level: bounded
    max_staleness: 300ms
    override: none
    on_stale: wait
    downgrade: {floor: prefix}
)yaml");
  const auto& policy = config.consistency.defaultPolicy;
  EXPECT_EQ(policy.level, Level::Bounded);
  EXPECT_EQ(policy.maxStaleness, milliseconds{300});
  EXPECT_TRUE(policy.downgradeEnabled);  // a downgrade block turns it on
  EXPECT_EQ(policy.floor, Level::Prefix);
  ASSERT_EQ(config.consistency.rules.size(), 1u);
  const auto& rule = config.consistency.rules[0];
  EXPECT_EQ(rule.keyGlobs, std::vector<std::string>{"user:*"});  // a single pattern
  EXPECT_EQ(rule.policy.level, Level::Bounded);
  EXPECT_EQ(rule.policy.maxStaleness, milliseconds{300});
  EXPECT_EQ(rule.policy.override, Override::None);
  EXPECT_EQ(rule.policy.onStale, OnStale::Wait);
  EXPECT_FALSE(rule.policy.downgradeEnabled);
}

TEST(ConfigRules, DowngradeForms) {
  const Config config = parseConfig(R"yaml(consistency:
  rules:
    - {name: a, keys: [a], level: strong, downgrade: true}
    - {name: b, keys: [b], level: strong, downgrade: {enabled: false, floor: bounded}}
    - {name: c, keys: [c], level: linearizable, downgrade: {floor: strong}}
    - {name: d, keys: [d, "e*"], level: prefix, methods: [POST, HGETALL, "CLIENT|LIST"]}
)yaml");
  const auto& rules = config.consistency.rules;
  ASSERT_EQ(rules.size(), 4u);
  EXPECT_TRUE(rules[0].policy.downgradeEnabled);
  EXPECT_EQ(rules[0].policy.floor, Level::Eventual);
  EXPECT_FALSE(rules[1].policy.downgradeEnabled);
  EXPECT_EQ(rules[2].policy.level, Level::Strong);
  EXPECT_EQ(rules[2].policy.floor, Level::Strong);
  EXPECT_EQ(rules[3].methods, (std::vector<std::string>{"POST", "HGETALL", "CLIENT|LIST"}));
  EXPECT_EQ(rules[3].keyGlobs.size(), 2u);
}

TEST(ConfigQuorum, AcceptsCountMajorityAndAll) {
  const std::string replicas = kTwoReplicas;
  auto quorumOf = [&](const std::string& value) {
    return parseConfig(replicas + "consistency:\n  write_quorum: {replicas: " + value + ", timeout: 2s}\n")
        .consistency.writeQuorum;
  };
  EXPECT_EQ(quorumOf("0").kind, WriteQuorum::Kind::Count);
  EXPECT_EQ(quorumOf("0").replicas, 0);
  EXPECT_EQ(quorumOf("2").replicas, 2);
  EXPECT_EQ(quorumOf("majority").kind, WriteQuorum::Kind::Majority);
  EXPECT_EQ(quorumOf("ALL").kind, WriteQuorum::Kind::All);
  EXPECT_EQ(quorumOf("all").timeout, milliseconds{2000});
  EXPECT_EQ(parseConfig(replicas).consistency.writeQuorum.replicas, 1);
}

TEST(ConfigQuorum, RejectsBadValues) {
  const std::string replicas = kTwoReplicas;
  expectError(replicas + "consistency:\n  write_quorum: {replicas: 3}\n", 6, "consistency.write_quorum.replicas",
              "only 2");
  expectError(replicas + "consistency:\n  write_quorum: {replicas: -1}\n", 6, "consistency.write_quorum.replicas",
              "negative");
  expectError(replicas + "consistency:\n  write_quorum: {replicas: most}\n", 6, "consistency.write_quorum.replicas",
              "majority or all");
  expectError(replicas + "consistency:\n  write_quorum: {replicas: 1, timeout: 0}\n", 6,
              "consistency.write_quorum.timeout", "longer than 0ms");
  expectError("consistency:\n  write_quorum: {replicas: 1}\n", 2, "consistency.write_quorum.replicas", "only 0");
}

// ---- durations ----

TEST(ParseDuration, AcceptsUnitsAndBareMilliseconds) {
  EXPECT_EQ(parseDuration("250ms"), milliseconds{250});
  EXPECT_EQ(parseDuration("2s"), milliseconds{2000});
  EXPECT_EQ(parseDuration("1m"), milliseconds{60000});
  EXPECT_EQ(parseDuration("1h"), milliseconds{3'600'000});
  EXPECT_EQ(parseDuration("1500"), milliseconds{1500});
  EXPECT_EQ(parseDuration("0"), milliseconds{0});
  EXPECT_EQ(parseDuration("0s"), milliseconds{0});
  EXPECT_EQ(parseDuration("1.5s"), milliseconds{1500});
  EXPECT_EQ(parseDuration("250MS"), milliseconds{250});
}

TEST(ParseDuration, RoundsSubMillisecondUp) {
  EXPECT_EQ(parseDuration("500us"), milliseconds{1});
  EXPECT_EQ(parseDuration("1us"), milliseconds{1});
  EXPECT_EQ(parseDuration("1000us"), milliseconds{1});
  EXPECT_EQ(parseDuration("1500us"), milliseconds{2});
  EXPECT_EQ(parseDuration("0us"), milliseconds{0});
  EXPECT_EQ(parseDuration("0.1"), milliseconds{1});
  EXPECT_EQ(parseDuration("0.0001s"), milliseconds{1});
  EXPECT_EQ(parseDuration("0.0000000001s"), milliseconds{1});
}

TEST(ParseDuration, RejectsNegativeGarbageAndOverflow) {
  for (const char* text : {"",
                           "-1",
                           "-5ms",
                           "+5ms",
                           "ms",
                           "5 ms",
                           " 5ms",
                           "5ms ",
                           "5x",
                           "5sec",
                           "1.s",
                           ".5s",
                           "1..5s",
                           "abc",
                           "5m5s",
                           "0x10",
                           "1e3",
                           "99999999999999999999",
                           "9223372036854775807s",
                           "9999999999999h"}) {
    EXPECT_EQ(parseDuration(text), std::nullopt) << text;
  }
  EXPECT_EQ(parseDuration("9223372036854ms"), milliseconds{9223372036854});
}

TEST(ConfigDurations, BadDurationNamesKeyAndLine) {
  expectError("tracking:\n  interval: soon\n", 2, "tracking.interval", "invalid duration \"soon\"");
  expectError("tracking:\n  interval: -50ms\n", 2, "tracking.interval", "invalid duration");
  expectError("tracking:\n  interval: 0\n", 2, "tracking.interval", "longer than 0ms");
  expectError("tracking:\n  interval: 2s\n", 2, "tracking.interval", "(1s, the default) is shorter");
  expectError("tracking:\n  interval: 2s\n  down_after: 1s\n", 3, "tracking.down_after",
              "shorter than tracking.interval");
  expectError("consistency:\n  max_staleness: [1s]\n", 2, "consistency.max_staleness",
              "expected a duration, got a list");
  EXPECT_EQ(parseConfig("tracking: {interval: 500us}\n").tracking.interval, milliseconds{1});
  EXPECT_EQ(parseConfig("tracking: {interval: 75}\n").tracking.interval, milliseconds{75});
}

// ---- errors name the key and the line ----

TEST(ConfigErrors, UnknownKeyNamesPathLineAndSuggestion) {
  const std::string yaml =
      std::string(kDesignExample)
          .replace(std::string(kDesignExample).find("      level: strong"), 19, "      levle: strong");
  expectError(yaml, 23, "consistency.rules[0].levle", "unknown key");
  EXPECT_NE(errorOf(yaml).find("did you mean \"level\""), std::string::npos) << errorOf(yaml);
  expectError("listen:\n  data: 127.0.0.1:1\n  metrics: 127.0.0.1:2\n", 3, "listen.metrics", "unknown key");
  expectError("workers: 2\nthreads: 4\n", 2, "threads", "unknown key");
  expectError("load:\n  high: {inflight: 3, p95: 2ms}\n", 2, "load.high.p95", "unknown key");
  expectError("redis:\n  password: hunter2\n", 2, "redis.password", "password_env");
}

TEST(ConfigErrors, WrongTypes) {
  expectError("workers: many\n", 1, "workers", "expected an integer, got \"many\"");
  expectError("workers: [1]\n", 1, "workers", "expected an integer, got a list");
  expectError("workers: 1.5\n", 1, "workers", "expected an integer");
  expectError("listen: 127.0.0.1:8080\n", 1, "listen", "expected a mapping");
  expectError("load:\n  enabled: maybe\n", 2, "load.enabled", "true or false");
  expectError("redis:\n  replicas: {name: x}\n", 2, "redis.replicas", "expected a list");
  expectError("consistency:\n  rules:\n    - accounts\n", 3, "consistency.rules[0]", "expected a rule");
  expectError("- a\n- b\n", 1, "(top level)", "expected a mapping");
  expectError("workers:\n", 1, "workers", "got nothing");
}

TEST(ConfigErrors, YamlSyntaxErrorNamesLine) {
  const std::string message = errorOf("listen:\n  data: [127.0.0.1:8080\nworkers: 1\n");
  EXPECT_EQ(message.rfind("cx.yaml:", 0), 0u) << message;
  EXPECT_NE(message.find("(yaml)"), std::string::npos) << message;
}

TEST(ConfigErrors, DuplicateKey) {
  expectError("workers: 1\nworkers: 2\n", 2, "workers", "duplicate key (first given at line 1)");
}

TEST(ConfigErrors, BadLevelsAndPolicyValues) {
  expectError("consistency:\n  default: {level: strongest}\n", 2, "consistency.default.level",
              "unknown level \"strongest\"");
  expectError("consistency:\n  default: {override: sometimes}\n", 2, "consistency.default.override",
              "any, stronger or none");
  expectError("consistency:\n  default: {on_stale: retry}\n", 2, "consistency.default.on_stale",
              "primary, wait or error");
  expectError("consistency:\n  rules:\n    - name: r\n      keys: [x]\n      level: fast\n", 5,
              "consistency.rules[0].level", "unknown level");
}

TEST(ConfigErrors, FloorStrongerThanLevelNamesRule) {
  expectError(R"yaml(consistency:
  rules:
    - name: feed
      keys: ["feed:*"]
      level: eventual
      downgrade:
        enabled: true
        floor: bounded
)yaml",
              8, "consistency.rules[0].downgrade.floor", "rule \"feed\"");
  expectError("consistency:\n  default: {level: prefix, downgrade: {floor: session}}\n", 2,
              "consistency.default.downgrade.floor", "stronger than the level prefix");
}

TEST(ConfigErrors, RuleNeedsNameAndKeys) {
  expectError("consistency:\n  rules:\n    - keys: [x]\n      level: strong\n", 3, "consistency.rules[0].name",
              "missing");
  expectError("consistency:\n  rules:\n    - name: a\n      level: strong\n", 3, "consistency.rules[0].keys",
              "missing");
  expectError("consistency:\n  rules:\n    - name: a\n      keys: []\n", 4, "consistency.rules[0].keys",
              "at least one");
  expectError("consistency:\n  rules:\n    - name: a\n      keys: [\"\"]\n", 4, "consistency.rules[0].keys[0]",
              "empty key pattern");
  expectError("consistency:\n  rules:\n    - {name: \"has space\", keys: [x]}\n", 3, "consistency.rules[0].name",
              "invalid rule name");
}

TEST(ConfigErrors, BadGlobNamesPattern) {
  expectError("consistency:\n  rules:\n    - name: a\n      keys: [\"ok:*\", \"shard:[0-9\"]\n", 4,
              "consistency.rules[0].keys[1]", "unterminated");
  expectError("consistency:\n  rules:\n    - name: a\n      keys: ['x\\']\n", 4, "consistency.rules[0].keys[0]",
              "trailing");
}

TEST(ConfigErrors, DuplicateRuleNames) {
  expectError(R"yaml(consistency:
  rules:
    - {name: a, keys: [x]}
    - {name: b, keys: [y]}
    - {name: a, keys: [z]}
)yaml",
              5, "consistency.rules[2].name", "duplicate rule name \"a\" (first defined at line 3)");
}

TEST(ConfigErrors, DuplicateBackendNamesAndAddresses) {
  expectError(R"yaml(redis:
  replicas:
    - {name: r1, address: 127.0.0.1:6380}
    - {name: r1, address: 127.0.0.1:6381}
)yaml",
              4, "redis.replicas[1].name", "duplicate backend name \"r1\"");
  expectError(R"yaml(redis:
  replicas:
    - {name: primary, address: 127.0.0.1:6380}
)yaml",
              3, "redis.replicas[0].name", "duplicate backend name \"primary\"");
  expectError(R"yaml(redis:
  replicas:
    - {name: r1, address: 127.0.0.1:6379}
)yaml",
              3, "redis.replicas[0].address", "already used");
  expectError("redis:\n  replicas:\n    - {name: r1}\n", 3, "redis.replicas[0].address", "missing");
}

TEST(ConfigErrors, BadMethods) {
  expectError("consistency:\n  rules:\n    - {name: a, keys: [x], methods: [GET, get]}\n", 3,
              "consistency.rules[0].methods[1]", "invalid method \"get\"");
  expectError("consistency:\n  rules:\n    - {name: a, keys: [x], methods: [\"GET /\"]}\n", 3,
              "consistency.rules[0].methods[0]", "invalid method");
}

TEST(ConfigErrors, WorkersAndPortsOutOfRange) {
  expectError("workers: -1\n", 1, "workers", "negative");
  expectError("workers: 100000\n", 1, "workers", "out of range");
  expectError("listen:\n  data: 127.0.0.1:0\n", 2, "listen.data", "out of range");
  expectError("listen:\n  admin: 127.0.0.1:70000\n", 2, "listen.admin", "out of range");
  expectError("redis:\n  primary: {address: localhost:http}\n", 2, "redis.primary.address", "invalid port");
  expectError("listen:\n  data: 127.0.0.1:9100\n", 2, "listen.data", "share the address");
}

TEST(ConfigErrors, BadAddresses) {
  expectError("listen:\n  data: 8080\n", 2, "listen.data", "missing :port");
  expectError("listen:\n  data: \":8080\"\n", 2, "listen.data", "missing host");
  expectError("listen:\n  data: \"::1:8080\"\n", 2, "listen.data", "brackets");
  expectError("listen:\n  data: \"[::1:8080\"\n", 2, "listen.data", "missing ']'");
  expectError("listen:\n  data: \"[::1]8080\"\n", 2, "listen.data", "missing :port");
  expectError("redis:\n  primary: {address: \"redis://h:1\"}\n", 2, "redis.primary.address", "without a scheme");
  expectError("listen:\n  data: \"local host:1\"\n", 2, "listen.data", "invalid host");
  const Config config = parseConfig("listen:\n  data: \"[::1]:8081\"\n  admin: localhost:9101\n");
  EXPECT_EQ(config.listen.data.host, "::1");
  EXPECT_EQ(config.listen.data.port, 8081);
  EXPECT_EQ(config.listen.admin.host, "localhost");
}

TEST(ConfigErrors, LowWatermarkAboveHigh) {
  expectError("load:\n  high: {inflight: 100}\n  low: {inflight: 200}\n", 3, "load.low.inflight",
              "above load.high.inflight");
  expectError("load:\n  high: {inflight: 32}\n", 2, "load.high.inflight", "default low");
  expectError("load:\n  high: {p99: 10ms}\n  low: {p99: 11ms}\n", 3, "load.low.p99", "above load.high.p99");
  expectError("load:\n  high: {inflight: 0}\n", 2, "load.high.inflight", "out of range");
}

TEST(ConfigErrors, OtherExtensionValues) {
  expectError("redis:\n  password_env: \"MY PASS\"\n", 2, "redis.password_env", "environment variable");
  expectError("redis:\n  connections_per_worker: 0\n", 2, "redis.connections_per_worker", "out of range");
  expectError("redis:\n  replica_stickiness: -1\n", 2, "redis.replica_stickiness", "0 or more");
  expectError("redis:\n  replica_stickiness: 1000001\n", 2, "redis.replica_stickiness", "out of range");
  expectError("redis:\n  replica_stickiness: many\n", 2, "redis.replica_stickiness", "");
  expectError("limits:\n  max_body_bytes: lots\n", 2, "limits.max_body_bytes", "invalid size");
  expectError("limits:\n  max_key_bytes: 0\n", 2, "limits.max_key_bytes", "more than 0");
  expectError("limits:\n  max_batch_commands: 0\n", 2, "limits.max_batch_commands", "out of range");
  expectError("commands:\n  allow: [GET]\n  deny: [get]\n", 3, "commands.deny", "both");
  expectError("log:\n  level: loud\n", 2, "log.level", "unknown log level");
}

// ---- identity and description ----

TEST(ConfigVersion, IsAShortHashOfTheText) {
  const Config a = parseConfig("workers: 2\n");
  const Config b = parseConfig("workers: 2\n", "other.yaml");
  const Config c = parseConfig("workers: 2  # changed\n");
  EXPECT_EQ(a.version, b.version);
  EXPECT_NE(a.version, c.version);
  EXPECT_EQ(a.version.size(), 12u);
  EXPECT_EQ(a.version.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(parseConfig("").version, "e3b0c44298fc");  // SHA-256 of nothing
}

TEST(ConfigFile, LoadsFromDiskAndNamesTheFileInErrors) {
  const std::string path = ::testing::TempDir() + "cxproxy_config_test.yaml";
  {
    std::ofstream out(path);
    out << "workers: 3\n";
  }
  const Config config = loadConfigFile(path);
  EXPECT_EQ(config.workers, 3);
  EXPECT_EQ(config.sourceName, path);
  {
    std::ofstream out(path);
    out << "workers: 3\nwrokers: 4\n";
  }
  try {
    loadConfigFile(path);
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(std::string(error.what()).rfind(path + ":2: wrokers: unknown key", 0), 0u) << error.what();
  }
  std::remove(path.c_str());
  EXPECT_THROW(loadConfigFile(path), ConfigError);
}

TEST(ConfigDescribe, ListsBackendsDefaultAndEveryRule) {
  const std::string text = describe(parseConfig(kDesignExample, "cx.yaml"));
  for (const char* expected :
       {"cx.yaml", "127.0.0.1:8080", "127.0.0.1:9100", "replica-1", "127.0.0.1:6381", "accounts", "account:*",
        "GET,PUT,DELETE", "stronger", "to bounded", "feed", "eventual", "(default)", "session"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
  // One line per rule, in order, then the default.
  const auto accounts = text.find("accounts");
  const auto feed = text.find("feed:*");
  const auto fallback = text.find("(default)");
  EXPECT_LT(accounts, feed);
  EXPECT_LT(feed, fallback);
  const auto lineEnd = text.find('\n', accounts);
  const std::string accountsLine = text.substr(accounts, lineEnd - accounts);
  EXPECT_NE(accountsLine.find("strong"), std::string::npos) << accountsLine;
  EXPECT_NE(accountsLine.find("primary"), std::string::npos) << accountsLine;  // on_stale
}

}  // namespace
}  // namespace cx::proxy

namespace cx::proxy {
namespace {

TEST(ConfigSentinel, ParsesTheSentinelSectionAndFailoverWait) {
  Config c = parseConfig(
      "redis:\n"
      "  sentinel:\n"
      "    master: mymaster\n"
      "    addresses: [10.0.0.5:26379, 10.0.0.6:26379]\n"
      "    username: watcher\n"
      "    password_env: SENTINEL_PASSWORD\n"
      "  failover_wait: 2s\n");
  ASSERT_TRUE(c.redis.sentinel);
  EXPECT_EQ(c.redis.sentinel->master, "mymaster");
  ASSERT_EQ(c.redis.sentinel->addresses.size(), 2u);
  EXPECT_EQ(c.redis.sentinel->addresses[1].toString(), "10.0.0.6:26379");
  EXPECT_EQ(c.redis.sentinel->username, "watcher");
  EXPECT_EQ(c.redis.sentinel->passwordEnv, "SENTINEL_PASSWORD");
  EXPECT_EQ(c.redis.failoverWait, std::chrono::milliseconds{2000});
  // Strong writes' quorum is checked against the discovered replicas, not the config.
  EXPECT_EQ(c.consistency.writeQuorum.replicas, 1);
  const std::string text = describe(c);
  EXPECT_NE(text.find("discovered through Sentinel (master mymaster"), std::string::npos) << text;
  EXPECT_NE(text.find("wait up to 2s"), std::string::npos) << text;
  EXPECT_EQ(parseConfig("").redis.failoverWait, std::chrono::milliseconds{0});
  EXPECT_FALSE(parseConfig("").redis.sentinel);
}

TEST(ConfigSentinel, RejectsStaticBackendsNextToSentinelAndIncompleteSections) {
  const std::string sentinel = "  sentinel: {master: m, addresses: [127.0.0.1:26379]}\n";
  expectError("redis:\n  primary: {address: 127.0.0.1:6379}\n" + sentinel, 2, "redis.primary", "redis.sentinel is set");
  // (yaml-cpp places a block sequence at its first item.)
  expectError("redis:\n" + sentinel + "  replicas:\n    - {address: 127.0.0.1:6380}\n", 4, "redis.replicas",
              "redis.sentinel is set");
  expectError("redis:\n  sentinel: {addresses: [127.0.0.1:26379]}\n", 2, "redis.sentinel.master", "missing");
  expectError("redis:\n  sentinel: {master: m}\n", 2, "redis.sentinel.addresses", "missing or empty");
  expectError("redis:\n  sentinel: {master: m, addresses: [nope]}\n", 2, "redis.sentinel.addresses[0]",
              "invalid address");
  expectError("redis:\n  sentinel: {master: m, addresses: [127.0.0.1:1], extra: 1}\n", 2, "redis.sentinel.extra", "");
  expectError("redis:\n  failover_wait: soon\n", 2, "redis.failover_wait", "invalid duration");
}

// ---- audit ----

TEST(ConfigAudit, DefaultsAndValues) {
  const Config defaults = parseConfig("");
  EXPECT_DOUBLE_EQ(defaults.audit.sampleRate, 0.001);
  EXPECT_EQ(defaults.audit.maxInFlight, 16);
  const Config set = parseConfig("audit: {sample_rate: 0.25, max_in_flight: 4}\n");
  EXPECT_DOUBLE_EQ(set.audit.sampleRate, 0.25);
  EXPECT_EQ(set.audit.maxInFlight, 4);
  const Config off = parseConfig("audit:\n  sample_rate: 0\n");
  EXPECT_DOUBLE_EQ(off.audit.sampleRate, 0.0);
  EXPECT_NE(describe(off).find("audit: off"), std::string::npos) << describe(off);
  EXPECT_NE(describe(set).find("25% of reads"), std::string::npos) << describe(set);
}

TEST(ConfigAudit, RejectsUnknownKeysAndBadValues) {
  expectError("audit:\n  sample_rat: 0.1\n", 2, "audit.sample_rat", "unknown key");
  expectError("audit:\n  sample_rate: 1.5\n", 2, "audit.sample_rate", "between 0 and 1");
  expectError("audit:\n  sample_rate: often\n", 2, "audit.sample_rate", "between 0 and 1");
  expectError("audit:\n  max_in_flight: 0\n", 2, "audit.max_in_flight", "out of range");
}

}  // namespace
}  // namespace cx::proxy
