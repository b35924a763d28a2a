// Rules, load-driven downgrading and hot reload end to end (README "Rules", README "HTTP API", README "Metrics", README
// "Configuration"): a real Redis primary and two replicas behind the real cxproxy binary. Rules are checked through the
// headers a client sees (X-Consistency-Rule, X-Consistency, X-Consistency-Overridden); downgrading by making the
// primary slow with a loop of DEBUG SLEEP while clients read and write; reloads by rewriting the config file and
// sending SIGHUP while clients keep reading.
//
// No assertion here is about how long something took: every wait is a poll with a
// generous deadline, and each check is on what the responses and metrics say.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;

std::string cmdBody(const std::vector<std::string>& argv) {
  json::array array;
  for (const auto& arg : argv) array.emplace_back(json::string(arg));
  return json::serialize(array);
}

std::string describe(const HttpResponse& r) {
  std::ostringstream out;
  out << r.status << " rule=" << r.header("x-consistency-rule") << " level=" << r.header("x-consistency")
      << " role=" << r.header("x-served-role") << " downgraded=" << r.header("x-consistency-downgraded")
      << " overridden=" << r.header("x-consistency-overridden") << " body=" << r.body.substr(0, 200);
  return out.str();
}

json::object statusJson(int adminPort) {
  HttpClient admin(adminPort, 10s);
  HttpResponse response = admin.get("/v1/status");
  if (response.status != 200) throw std::runtime_error("GET /v1/status: " + describe(response));
  return json::parse(response.body).as_object();
}

std::string configVersion(int adminPort) {
  return std::string(statusJson(adminPort).at("config").as_object().at("version").as_string());
}

// Replaces the file in one step (write a sibling, rename over it), so that neither the
// file watcher nor SIGHUP can ever read half a config.
void replaceFile(const std::filesystem::path& path, const std::string& text) {
  auto temp = path;
  temp += ".next";
  writeFile(temp, text);
  std::filesystem::rename(temp, path);
}

// Waits until the proxy serves eventual reads from replicas and /v1/cmd knows the
// command table: the tracker and the command loader have caught up.
void waitWarm(CxproxyProcess& proxy, const std::string& readableKey) {
  HttpClient http(proxy.dataPort());
  ASSERT_TRUE(waitUntil(
      [&] {
        auto r = http.get("/v1/kv/" + readableKey, {{"X-Consistency", "eventual"}});
        return r.status == 200 && r.header("x-served-role") == "replica";
      },
      20s, 20ms))
      << "eventual reads never reached a replica";
  ASSERT_TRUE(waitUntil([&] { return http.post("/v1/cmd", cmdBody({"PING"})).status != 503; }, 20s, 20ms))
      << "the command table never loaded";
}

// ---------------------------------------------------------------------------------------
// Rules

const std::string kRulesConfig = R"(workers: 2
load:
  enabled: false
consistency:
  default: {level: session, override: any}
  rules:
    - name: accounts
      keys: ["account:*"]
      level: strong
      override: stronger
    - name: feed
      keys: ["feed:*"]
      level: eventual
      override: none
    - name: profile-reads
      keys: ["profile:*"]
      methods: [GET]
      level: prefix
    - name: counters
      keys: ["counter:*"]
      methods: [INCR]
      level: strong
)";

TEST(RulesLoadTest, RulesPickTheLevelAndNameThemselves) {
  RedisCluster cluster;
  CxproxyProcess proxy(cluster, kRulesConfig);
  HttpClient http(proxy.dataPort());
  for (const char* key : {"account:1", "feed:1", "profile:1", "other:1"}) {
    ASSERT_EQ(cluster.command(0, {"SET", key, std::string("v-") + key}), "OK");
  }
  ASSERT_EQ(cluster.command(0, {"RPUSH", "feed:list", "a", "b"}), "2");
  cluster.waitSynced();
  waitWarm(proxy, "feed:1");

  // accounts: strong, the header may only strengthen it.
  auto r = http.get("/v1/kv/account:1");
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.body, "v-account:1");
  EXPECT_EQ(r.header("x-consistency-rule"), "accounts");
  EXPECT_EQ(r.header("x-consistency"), "strong");
  EXPECT_EQ(r.header("x-served-role"), "primary");
  EXPECT_FALSE(r.hasHeader("x-consistency-overridden")) << describe(r);

  r = http.get("/v1/kv/account:1", {{"X-Consistency", "eventual"}});
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.header("x-consistency-rule"), "accounts");
  EXPECT_EQ(r.header("x-consistency"), "strong") << "a weaker header must be refused under override: stronger";
  EXPECT_EQ(r.header("x-served-role"), "primary");
  const std::string overridden = r.header("x-consistency-overridden");
  EXPECT_NE(overridden.find("eventual"), std::string::npos) << overridden;
  EXPECT_NE(overridden.find("strong"), std::string::npos) << overridden;
  EXPECT_NE(overridden.find("accounts"), std::string::npos) << overridden;

  r = http.get("/v1/kv/account:1", {{"X-Consistency", "LINEARIZABLE"}});
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.header("x-consistency"), "strong");
  EXPECT_FALSE(r.hasHeader("x-consistency-overridden")) << "an equal level is not an override: " << describe(r);

  r = http.put("/v1/kv/account:2", "w");
  ASSERT_EQ(r.status, 204) << describe(r);
  EXPECT_EQ(r.header("x-consistency-rule"), "accounts");
  EXPECT_EQ(r.header("x-consistency"), "strong");
  EXPECT_EQ(r.header("x-served-role"), "primary");

  // feed: eventual, the header is ignored (override: none) and that is said.
  r = http.get("/v1/kv/feed:1");
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.body, "v-feed:1");
  EXPECT_EQ(r.header("x-consistency-rule"), "feed");
  EXPECT_EQ(r.header("x-consistency"), "eventual");
  EXPECT_EQ(r.header("x-served-role"), "replica");
  EXPECT_FALSE(r.hasHeader("x-consistency-overridden"));

  r = http.get("/v1/kv/feed:1", {{"X-Consistency", "strong"}});
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.header("x-consistency-rule"), "feed");
  EXPECT_EQ(r.header("x-consistency"), "eventual") << "override: none ignores even a stronger header";
  EXPECT_EQ(r.header("x-served-role"), "replica");
  EXPECT_TRUE(r.hasHeader("x-consistency-overridden")) << describe(r);
  EXPECT_NE(r.header("x-consistency-overridden").find("feed"), std::string::npos) << describe(r);

  r = http.get("/v1/kv/feed:1", {{"X-Consistency", "eventual"}});
  EXPECT_EQ(r.header("x-consistency"), "eventual");
  EXPECT_FALSE(r.hasHeader("x-consistency-overridden")) << describe(r);

  // profile-reads: limited to GET; other methods fall through to the default.
  r = http.get("/v1/kv/profile:1");
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.header("x-consistency-rule"), "profile-reads");
  EXPECT_EQ(r.header("x-consistency"), "prefix");
  r = http.put("/v1/kv/profile:1", "v2");
  ASSERT_EQ(r.status, 204) << describe(r);
  EXPECT_EQ(r.header("x-consistency-rule"), "default");
  EXPECT_EQ(r.header("x-consistency"), "session");
  r = http.del("/v1/kv/profile:1");
  ASSERT_EQ(r.status, 204) << describe(r);
  EXPECT_EQ(r.header("x-consistency-rule"), "default");

  // No rule: the default, whose override: any lets the header choose either way.
  r = http.get("/v1/kv/other:1");
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.header("x-consistency-rule"), "default");
  EXPECT_EQ(r.header("x-consistency"), "session");
  r = http.get("/v1/kv/other:1", {{"X-Consistency", "eventual"}});
  EXPECT_EQ(r.header("x-consistency"), "eventual");
  EXPECT_FALSE(r.hasHeader("x-consistency-overridden")) << describe(r);
  r = http.get("/v1/kv/other:1", {{"X-Consistency", "strong"}});
  EXPECT_EQ(r.header("x-consistency"), "strong");
  EXPECT_EQ(r.header("x-served-role"), "primary");
  EXPECT_FALSE(r.hasHeader("x-consistency-overridden")) << describe(r);
}

TEST(RulesLoadTest, CommandsPickRulesByTheirFirstKey) {
  RedisCluster cluster;
  CxproxyProcess proxy(cluster, kRulesConfig);
  HttpClient http(proxy.dataPort());
  ASSERT_EQ(cluster.command(0, {"SET", "account:1", "a"}), "OK");
  ASSERT_EQ(cluster.command(0, {"SET", "feed:1", "f"}), "OK");
  ASSERT_EQ(cluster.command(0, {"SET", "profile:1", "p"}), "OK");
  ASSERT_EQ(cluster.command(0, {"RPUSH", "feed:list", "a", "b"}), "2");
  cluster.waitSynced();
  waitWarm(proxy, "feed:1");

  struct Case {
    std::vector<std::string> argv;
    std::string rule;
    std::string level;
  };
  const std::vector<Case> cases = {
      {{"GET", "account:1"}, "accounts", "strong"},
      {{"LRANGE", "feed:list", "0", "-1"}, "feed", "eventual"},
      {{"MGET", "feed:1", "account:1"}, "feed", "eventual"},  // the first key decides
      {{"MGET", "account:1", "feed:1"}, "accounts", "strong"},
      {{"GET", "profile:1"}, "profile-reads", "prefix"},  // a read matches methods: [GET]
      {{"STRLEN", "profile:1"}, "profile-reads", "prefix"},
      {{"SET", "profile:2", "x"}, "default", "session"},  // a write does not
      {{"INCR", "counter:1"}, "counters", "strong"},      // a command name in methods
      {{"GET", "counter:1"}, "default", "session"},
      {{"HSET", "other:h", "f", "v"}, "default", "session"},
  };
  for (const auto& c : cases) {
    const std::string body = cmdBody(c.argv);
    auto r = http.post("/v1/cmd", body);
    ASSERT_EQ(r.status, 200) << body << ": " << describe(r);
    EXPECT_EQ(r.header("x-consistency-rule"), c.rule) << body << ": " << describe(r);
    EXPECT_EQ(r.header("x-consistency"), c.level) << body << ": " << describe(r);
  }

  // Header handling is the same as for /v1/kv.
  auto r = http.post("/v1/cmd", cmdBody({"GET", "account:1"}), {{"X-Consistency", "eventual"}});
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.header("x-consistency"), "strong");
  EXPECT_TRUE(r.hasHeader("x-consistency-overridden")) << describe(r);
  r = http.post("/v1/cmd", cmdBody({"LRANGE", "feed:list", "0", "-1"}), {{"X-Consistency", "strong"}});
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.header("x-consistency"), "eventual");
  EXPECT_TRUE(r.hasHeader("x-consistency-overridden")) << describe(r);
}

// ---------------------------------------------------------------------------------------
// Load-driven downgrading

const std::string kLoadConfig = R"(workers: 2
load:
  enabled: true
  high: {inflight: 1000, p99: 2ms}
  low: {inflight: 500, p99: 1ms}
  for: 300ms
consistency:
  default: {level: session, override: any}
  max_staleness: 5s
  write_quorum: {replicas: 1, timeout: 2s}
  rules:
    - name: relaxable
      keys: ["relax:*"]
      level: strong
      override: none
      downgrade: {enabled: true, floor: bounded}
    - name: rigid
      keys: ["rigid:*"]
      level: strong
      override: none
)";

constexpr const char* kDowngradeHeader = "strong->bounded; reason=primary_overloaded";

// What the load generators saw, checked after they stop.
struct LoadObservations {
  std::mutex mutex;
  std::vector<std::string> problems;  // first few only
  std::size_t problemCount = 0;
  std::atomic<std::size_t> downgraded{0};
  std::atomic<std::size_t> relaxableReads{0};
  std::atomic<std::size_t> rigidReads{0};
  std::atomic<std::size_t> writes{0};

  void problem(const std::string& what) {
    std::lock_guard lock(mutex);
    ++problemCount;
    if (problems.size() < 20) problems.push_back(what);
  }
};

TEST(RulesLoadTest, SlowPrimaryDowngradesOnlyDowngradableReadsAndRecovers) {
  RedisCluster cluster;
  CxproxyProcess proxy(cluster, kLoadConfig);
  const int admin = proxy.adminPort();
  ASSERT_EQ(cluster.command(0, {"SET", "relax:1", "r"}), "OK");
  ASSERT_EQ(cluster.command(0, {"SET", "rigid:1", "g"}), "OK");
  ASSERT_EQ(cluster.command(0, {"SET", "warm:1", "w"}), "OK");
  cluster.waitSynced();
  waitWarm(proxy, "warm:1");
  ASSERT_EQ(metricValue(admin, "cxproxy_overloaded"), 0);
  const std::vector<std::string> kStrongToBounded = {"from=\"strong\"", "to=\"bounded\"",
                                                     "reason=\"primary_overloaded\""};
  const double downgradesBefore = metricValue(admin, "cxproxy_consistency_downgrades_total", kStrongToBounded);
  const double allDowngradesBefore = metricValue(admin, "cxproxy_consistency_downgrades_total");

  std::atomic<bool> slowPrimary{true};
  std::atomic<bool> load{true};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    // Blocks the primary 10 ms at a time; other clients' commands run in between.
    while (slowPrimary.load()) {
      try {
        cluster.reply(0, {"DEBUG", "SLEEP", "0.01"});
      } catch (const std::exception&) {
      }
    }
  });

  LoadObservations seen;
  auto checkRelaxableRead = [&](const HttpResponse& r) {
    seen.relaxableReads++;
    if (r.status != 200) return seen.problem("relaxable read failed: " + describe(r));
    if (r.header("x-consistency-rule") != "relaxable") seen.problem("relaxable read, wrong rule: " + describe(r));
    if (!r.hasHeader("x-consistency-downgraded")) {
      if (r.header("x-consistency") != "strong" || r.header("x-served-role") != "primary") {
        seen.problem("undowngraded relaxable read not strong on the primary: " + describe(r));
      }
      return;
    }
    seen.downgraded++;
    if (r.header("x-consistency-downgraded") != kDowngradeHeader) seen.problem("downgrade header: " + describe(r));
    // The floor is bounded and the rule strong: bounded is the only level it may take.
    if (r.header("x-consistency") != "bounded") seen.problem("downgraded to the wrong level: " + describe(r));
    if (r.header("x-served-role") != "replica") seen.problem("downgraded read not on a replica: " + describe(r));
  };
  auto checkRigidRead = [&](const HttpResponse& r) {
    seen.rigidReads++;
    if (r.status != 200) return seen.problem("rigid read failed: " + describe(r));
    if (r.hasHeader("x-consistency-downgraded")) seen.problem("non-downgradable rule downgraded: " + describe(r));
    if (r.header("x-consistency-rule") != "rigid" || r.header("x-consistency") != "strong" ||
        r.header("x-served-role") != "primary") {
      seen.problem("rigid read not strong on the primary: " + describe(r));
    }
  };
  auto checkWrite = [&](const HttpResponse& r) {
    seen.writes++;
    if (r.status != 204) return seen.problem("write failed: " + describe(r));
    if (r.hasHeader("x-consistency-downgraded")) seen.problem("write downgraded: " + describe(r));
    if (r.header("x-consistency") != "strong" || r.header("x-served-role") != "primary") {
      seen.problem("write not strong on the primary: " + describe(r));
    }
  };
  auto guarded = [&](auto body) {
    return [&, body] {
      try {
        HttpClient http(proxy.dataPort());
        while (load.load()) body(http);
      } catch (const std::exception& e) {
        seen.problem(std::string("load thread: ") + e.what());
      }
    };
  };
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back(guarded([&](HttpClient& http) { checkRelaxableRead(http.get("/v1/kv/relax:1")); }));
  }
  threads.emplace_back(guarded([&](HttpClient& http) { checkRigidRead(http.get("/v1/kv/rigid:1")); }));
  threads.emplace_back(guarded([&](HttpClient& http) {
    checkWrite(http.put("/v1/kv/relax:2", "x"));
    checkWrite(http.put("/v1/kv/rigid:2", "y"));
  }));
  auto stopAll = [&] {
    load = false;
    slowPrimary = false;
    for (auto& t : threads) t.join();
    threads.clear();
  };

  const bool overloaded = waitUntil([&] { return metricValue(admin, "cxproxy_overloaded") == 1; }, 45s, 50ms);
  // Keep the load on until some downgraded reads came back (and rigid reads and writes
  // went on meanwhile).
  const std::size_t rigidAtOverload = seen.rigidReads.load();
  const std::size_t writesAtOverload = seen.writes.load();
  const bool downgradedSome = overloaded && waitUntil(
                                                [&] {
                                                  return seen.downgraded.load() >= 20 &&
                                                         seen.rigidReads.load() >= rigidAtOverload + 5 &&
                                                         seen.writes.load() >= writesAtOverload + 5;
                                                },
                                                30s, 20ms);
  stopAll();
  // Read after the load stopped, so both numbers come from the same moment.
  const double downgradesDuring = metricValue(admin, "cxproxy_consistency_downgrades_total", kStrongToBounded);
  const double allDowngradesDuring = metricValue(admin, "cxproxy_consistency_downgrades_total");

  ASSERT_TRUE(overloaded) << "cxproxy_overloaded never became 1 while the primary slept in a loop; status: "
                          << json::serialize(statusJson(admin));
  EXPECT_TRUE(downgradedSome) << "downgraded reads: " << seen.downgraded.load()
                              << ", rigid reads: " << seen.rigidReads.load() << ", writes: " << seen.writes.load();
  {
    std::lock_guard lock(seen.mutex);
    EXPECT_EQ(seen.problemCount, 0u);
    for (const auto& p : seen.problems) ADD_FAILURE() << p;
  }
  EXPECT_GT(downgradesDuring, downgradesBefore);
  // Every downgrade counted was strong → bounded for that reason: none went below the floor.
  EXPECT_EQ(allDowngradesDuring - allDowngradesBefore, downgradesDuring - downgradesBefore);

  // Load and slowness gone: the controller leaves overloaded, and strong reads on the
  // downgradable rule are strong reads on the primary again.
  ASSERT_TRUE(waitUntil([&] { return metricValue(admin, "cxproxy_overloaded") == 0; }, 45s, 50ms))
      << "cxproxy_overloaded stayed 1 after the load stopped; status: " << json::serialize(statusJson(admin));
  HttpClient http(proxy.dataPort());
  for (int i = 0; i < 5; ++i) {
    auto r = http.get("/v1/kv/relax:1");
    ASSERT_EQ(r.status, 200) << describe(r);
    EXPECT_EQ(r.header("x-consistency-rule"), "relaxable");
    EXPECT_EQ(r.header("x-consistency"), "strong") << describe(r);
    EXPECT_EQ(r.header("x-served-role"), "primary") << describe(r);
    EXPECT_FALSE(r.hasHeader("x-consistency-downgraded")) << describe(r);
  }
  EXPECT_EQ(std::string(statusJson(admin).at("load").as_object().at("state").as_string()), "normal");
}

// ---------------------------------------------------------------------------------------
// Hot reload

std::string reloadConfig(const std::string& ruleName, const std::string& level) {
  return "workers: 2\n"
         "load:\n"
         "  enabled: false\n"
         "consistency:\n"
         "  default: {level: session, override: any}\n"
         "  rules:\n"
         "    - name: " +
         ruleName +
         "\n"
         "      keys: [\"reload:*\"]\n"
         "      level: " +
         level + "\n";
}

TEST(RulesLoadTest, ReloadUnderLoadSwitchesRulesWithoutFailingARequest) {
  RedisCluster cluster;
  CxproxyProcess proxy(cluster, reloadConfig("rule-a", "eventual"));
  const int admin = proxy.adminPort();
  ASSERT_EQ(cluster.command(0, {"SET", "reload:1", "value"}), "OK");
  cluster.waitSynced();
  waitWarm(proxy, "reload:1");

  const std::string versionBefore = configVersion(admin);
  const double successBefore = metricValue(admin, "cxproxy_config_reload_total", {"result=\"success\""});
  const double errorBefore = metricValue(admin, "cxproxy_config_reload_total", {"result=\"error\""});

  // Readers: every response must be 200 with one of the two rules, the old one only until
  // the thread has seen the new one (requests on one connection are sequential, so a later
  // request never starts under an older config snapshot).
  std::atomic<bool> run{true};
  std::atomic<std::size_t> requests{0};
  std::atomic<std::size_t> newRuleResponses{0};
  std::mutex mutex;
  std::vector<std::string> problems;
  std::size_t problemCount = 0;
  auto problem = [&](const std::string& what) {
    std::lock_guard lock(mutex);
    ++problemCount;
    if (problems.size() < 20) problems.push_back(what);
  };
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      try {
        HttpClient http(proxy.dataPort());
        bool sawNew = false;
        while (run.load()) {
          auto r = http.get("/v1/kv/reload:1");
          requests++;
          if (r.status != 200 || r.body != "value") {
            problem("failed request: " + describe(r));
            continue;
          }
          const std::string rule = r.header("x-consistency-rule");
          if (rule == "rule-b-strong") {
            sawNew = true;
            newRuleResponses++;
            if (r.header("x-consistency") != "strong" || r.header("x-served-role") != "primary") {
              problem("new rule not served strong from the primary: " + describe(r));
            }
          } else if (rule == "rule-a") {
            if (sawNew) problem("old rule after the new one: " + describe(r));
            if (r.header("x-consistency") != "eventual") problem("old rule not eventual: " + describe(r));
          } else {
            problem("unexpected rule: " + describe(r));
          }
        }
      } catch (const std::exception& e) {
        problem(std::string("reader: ") + e.what());
      }
    });
  }
  auto stopReaders = [&] {
    run = false;
    for (auto& t : readers) t.join();
    readers.clear();
  };

  // Some traffic under the old rule first.
  const bool warmed = waitUntil([&] { return requests.load() >= 50; }, 30s);

  // Rename the rule and make it strong; SIGHUP.
  replaceFile(proxy.configPath(),
              basicConfig(cluster, proxy.dataPort(), admin, reloadConfig("rule-b-strong", "strong")));
  proxy.signal(SIGHUP);
  HttpClient http(proxy.dataPort());
  const bool switched =
      waitUntil([&] { return http.get("/v1/kv/reload:1").header("x-consistency-rule") == "rule-b-strong"; }, 30s, 20ms);
  // Keep reading for a while under the new rule.
  const std::size_t atSwitch = requests.load();
  const bool continued = switched && waitUntil([&] { return requests.load() >= atSwitch + 100; }, 30s);
  const std::string versionAfter = configVersion(admin);

  // An invalid file: the reload fails and the last good rules stay.
  replaceFile(proxy.configPath(),
              basicConfig(cluster, proxy.dataPort(), admin, reloadConfig("rule-c", "eventual") + "no_such_key: 1\n"));
  proxy.signal(SIGHUP);
  const bool errorCounted = waitUntil(
      [&] { return metricValue(admin, "cxproxy_config_reload_total", {"result=\"error\""}) > errorBefore; }, 30s, 20ms);
  const std::size_t atError = requests.load();
  const bool continuedAfterError = errorCounted && waitUntil([&] { return requests.load() >= atError + 100; }, 30s);
  stopReaders();

  ASSERT_TRUE(proxy.running()) << "cxproxy exited";
  EXPECT_TRUE(warmed);
  ASSERT_TRUE(switched) << "responses never showed the reloaded rule";
  EXPECT_TRUE(continued);
  EXPECT_GT(newRuleResponses.load(), 0u);
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(problemCount, 0u) << "of " << requests.load() << " requests";
    for (const auto& p : problems) ADD_FAILURE() << p;
  }
  EXPECT_NE(versionAfter, versionBefore);
  EXPECT_GE(metricValue(admin, "cxproxy_config_reload_total", {"result=\"success\""}), successBefore + 1);

  EXPECT_TRUE(errorCounted) << "the invalid file was not counted as a failed reload";
  EXPECT_TRUE(continuedAfterError);
  EXPECT_EQ(configVersion(admin), versionAfter) << "a failed reload must keep the running config";
  auto r = http.get("/v1/kv/reload:1");
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.header("x-consistency-rule"), "rule-b-strong") << describe(r);
  EXPECT_EQ(r.header("x-consistency"), "strong") << describe(r);
}

}  // namespace
}  // namespace cx::testing
