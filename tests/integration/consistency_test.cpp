// Consistency guarantees end to end (README "Consistency levels", README "HTTP API", ARCHITECTURE.md "Session tokens",
// README "Metrics"): a real Redis primary and two replicas, made to lag with CLIENT PAUSE WRITE (reads still answered
// from old data, applied offset frozen) and SIGSTOP/SIGCONT, behind the real cxproxy binary. Every check is on what a
// client sees: values, statuses, headers, error bodies and metrics.
//
// No assertion here is about how long something took. Freshness checks (bounded reads)
// compare the data a read returned with writes acknowledged before the read was *sent*,
// which only gets easier for the proxy when the machine is slow.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "session/token.h"
#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Token keys shared by every cxproxy in this file, so tokens survive restarts and are
// accepted by a second instance. kOtherKeySpec signs "foreign" tokens.
const std::string kKeySpec = "k1:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const std::string kOtherKeySpec = "k9:ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
// Same key id as kKeySpec, different secret: a token signed by an impostor.
const std::string kImpostorKeySpec = "k1:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

CxproxyOptions withKeys(const std::string& spec = kKeySpec) {
  CxproxyOptions options;
  options.env["CXPROXY_SESSION_KEYS"] = spec;
  return options;
}

// Extra config for every proxy here: two workers (sessions cross workers), no load-driven
// downgrading (ASan makes latencies look like overload and would relax levels).
std::string proxyConfig(const std::string& consistency = "") {
  return "workers: 2\nload:\n  enabled: false\n" + consistency;
}

std::unique_ptr<CxproxyProcess> startProxy(const RedisCluster& cluster, const std::string& consistency = "",
                                           const std::string& keySpec = kKeySpec) {
  return std::make_unique<CxproxyProcess>(cluster, proxyConfig(consistency), withKeys(keySpec));
}

std::string cmdBody(const std::vector<std::string>& argv) {
  json::array array;
  for (const auto& arg : argv) array.emplace_back(json::string(arg));
  return json::serialize(array);
}

std::optional<json::value> parseJson(const std::string& text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) return std::nullopt;
  return value;
}

// The "error" code of a JSON error body, "" if the body is not one.
std::string errorCode(const HttpResponse& response) {
  auto value = parseJson(response.body);
  if (!value || !value->is_object()) return "";
  const auto* code = value->as_object().if_contains("error");
  if (code == nullptr || !code->is_string()) return "";
  return std::string(code->as_string());
}

std::string describe(const HttpResponse& response) {
  std::ostringstream out;
  out << response.status << " role=" << response.header("x-served-role")
      << " level=" << response.header("x-consistency") << " body=" << response.body.substr(0, 300);
  return out.str();
}

// {"result": ["a", "b"]} → {"a", "b"}; nullopt when the body is anything else.
std::optional<std::vector<std::string>> listResult(const HttpResponse& response) {
  if (response.status != 200) return std::nullopt;
  auto value = parseJson(response.body);
  if (!value || !value->is_object()) return std::nullopt;
  const auto* result = value->as_object().if_contains("result");
  if (result == nullptr || !result->is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& element : result->as_array()) {
    if (!element.is_string()) return std::nullopt;
    out.emplace_back(element.as_string());
  }
  return out;
}

// One client session: its own connection and the latest token it was given.
class Session {
 public:
  explicit Session(int port) : http_(port, 30s) {}

  HttpResponse request(std::string_view method, std::string_view target, std::string_view body = {},
                       HttpHeaders headers = {}) {
    if (!token_.empty() && !headers.contains("X-Session-Token")) headers["X-Session-Token"] = token_;
    HttpResponse response = http_.request(method, target, body, headers);
    if (response.status / 100 == 2 && response.hasHeader("x-session-token")) {
      token_ = response.header("x-session-token");
    }
    return response;
  }
  HttpResponse cmd(const std::vector<std::string>& argv, HttpHeaders headers = {}) {
    return request("POST", "/v1/cmd", cmdBody(argv), std::move(headers));
  }

  const std::string& token() const { return token_; }
  void setToken(std::string token) { token_ = std::move(token); }

 private:
  HttpClient http_;
  std::string token_;
};

// Collects violations from worker threads; the main thread asserts on them.
class Violations {
 public:
  void add(const std::string& what) {
    std::lock_guard lock(mutex_);
    if (messages_.size() < 20) messages_.push_back(what);
    ++count_;
  }
  int count() const {
    std::lock_guard lock(mutex_);
    return count_;
  }
  std::string summary() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& m : messages_) out += "  " + m + "\n";
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> messages_;
  int count_ = 0;
};

// Makes replicas lag at random until stopped: mostly CLIENT PAUSE WRITE on one replica
// for 50–400 ms (it keeps serving its old data), sometimes on both, sometimes a short
// SIGSTOP; with `everyReplica`, always CLIENT PAUSE WRITE on all of them at once. Replicas
// are healthy more than half of the time. Owns the cluster's lifecycle calls while it runs.
class ReplicaLagger {
 public:
  ReplicaLagger(RedisCluster& cluster, std::uint32_t seed, bool everyReplica = false)
      : cluster_(cluster), rng_(seed), everyReplica_(everyReplica) {
    thread_ = std::thread([this] { run(); });
  }
  ~ReplicaLagger() { stop(); }

  void stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
    for (std::size_t r : cluster_.replicaIndices()) {
      if (cluster_.node(r).paused()) cluster_.resume(r);
      try {
        cluster_.command(r, {"CLIENT", "UNPAUSE"});
      } catch (const std::exception&) {
      }
    }
  }
  int writePauses() const { return writePauses_; }
  int stops() const { return stops_; }

 private:
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  void sleepMs(int ms) {
    for (int slept = 0; slept < ms && !stop_; slept += 10) std::this_thread::sleep_for(10ms);
  }

  void run() {
    const auto replicas = cluster_.replicaIndices();
    while (!stop_) {
      const int kind = everyReplica_ ? 6 : uniform(0, 9);
      const std::size_t replica = replicas[static_cast<std::size_t>(uniform(0, 1)) % replicas.size()];
      try {
        if (kind < 6) {
          cluster_.clientPauseWrite(replica, milliseconds(uniform(50, 400)));
          ++writePauses_;
        } else if (kind < 8) {
          const milliseconds pause(uniform(100, 400));
          for (std::size_t r : replicas) cluster_.clientPauseWrite(r, pause);
          ++writePauses_;
        } else {
          cluster_.pause(replica);
          ++stops_;
          sleepMs(uniform(50, 250));
          cluster_.resume(replica);
        }
      } catch (const std::exception& e) {
        std::cerr << "replica lagger: " << e.what() << "\n";
      }
      sleepMs(uniform(50, 300));
    }
  }

  RedisCluster& cluster_;
  std::mt19937 rng_;
  bool everyReplica_;
  std::atomic<bool> stop_{false};
  std::atomic<int> writePauses_{0};
  std::atomic<int> stops_{0};
  std::thread thread_;
};

std::uint32_t testSeed() {
  std::uint32_t seed = std::random_device{}();
  std::cout << "[ seed     ] " << seed << "\n";
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

void reportShare(const std::string& what, long replica, long primary) {
  const long total = replica + primary;
  const double share = total == 0 ? 0.0 : 100.0 * static_cast<double>(replica) / static_cast<double>(total);
  std::cout << "[ share    ] " << what << ": " << replica << " reads from replicas, " << primary
            << " from the primary (" << share << "% replicas)\n";
  ::testing::Test::RecordProperty(what + "_replica_reads", std::to_string(replica));
  ::testing::Test::RecordProperty(what + "_primary_reads", std::to_string(primary));
}

// Holds every replica's writes (CLIENT PAUSE WRITE) until released: they keep answering
// reads with the data they had, while the primary moves on.
class ReplicasFrozen {
 public:
  explicit ReplicasFrozen(RedisCluster& cluster, milliseconds duration = 20s) : cluster_(cluster) {
    for (std::size_t r : cluster_.replicaIndices()) cluster_.clientPauseWrite(r, duration);
  }
  ~ReplicasFrozen() { release(); }
  void release() {
    if (released_) return;
    released_ = true;
    for (std::size_t r : cluster_.replicaIndices()) {
      try {
        cluster_.command(r, {"CLIENT", "UNPAUSE"});
      } catch (const std::exception&) {
      }
    }
  }

 private:
  RedisCluster& cluster_;
  bool released_ = false;
};

// Waits until every replica has applied everything the primary has.
void waitReplicasSynced(RedisCluster& cluster) { cluster.waitSynced(20s); }

// --- the token a read returns holds the position that read saw --------------------------

TEST(ConsistencyTest, EachSessionReadsTokenCarriesThePositionOfItsOwnRead) {
  // Two reads a moment apart, with the same token in, on replicas that moved on in
  // between: the second token must name the later position, or a next read could go
  // back in time. (Catches a token memo or shortcut that hands out the earlier token.)
  RedisCluster cluster(2);
  auto proxy = startProxy(cluster);
  const session::KeyRing ours = session::KeyRing::fromSpec(kKeySpec);
  Session session(proxy->dataPort());
  ASSERT_EQ(session.request("PUT", "/v1/kv/pos", "v").status, 204);
  waitReplicasSynced(cluster);
  const std::string afterWrite = session.token();

  auto readPosition = [&](const std::string& tokenIn) {
    HttpResponse r = session.request("GET", "/v1/kv/pos", {}, {{"X-Session-Token", tokenIn}});
    EXPECT_EQ(r.status, 200) << describe(r);
    const auto decoded = ours.decode(r.header("x-session-token"));
    EXPECT_TRUE(decoded.token) << describe(r);
    return decoded.token ? decoded.token->readOffset : 0;
  };
  for (int round = 0; round < 5; ++round) {
    const std::uint64_t before = readPosition(afterWrite);
    ASSERT_EQ(cluster.command(0, {"SET", "unrelated:" + std::to_string(round), "x"}), "OK");
    waitReplicasSynced(cluster);
    const auto replicaOffset = static_cast<std::uint64_t>(std::min(cluster.replOffset(1), cluster.replOffset(2)));
    ASSERT_GT(replicaOffset, before);
    const std::uint64_t after = readPosition(afterWrite);
    EXPECT_GE(after, replicaOffset) << "round " << round << ": the token names position " << after
                                    << ", but the replicas had applied " << replicaOffset << " before the read";
  }
}

// --- eventual reads can see staleness -------------------------------------------------

TEST(ConsistencyTest, EventualReadsFromALaggingReplicaReturnStaleValues) {
  RedisCluster cluster(2);
  auto proxy = startProxy(cluster);
  HttpClient client(proxy->dataPort());
  ASSERT_EQ(client.put("/v1/kv/stale", "old").status, 204);
  waitReplicasSynced(cluster);

  ReplicasFrozen frozen(cluster);
  ASSERT_EQ(client.put("/v1/kv/stale", "new").status, 204);
  EXPECT_EQ(cluster.command(0, {"GET", "stale"}), "new");

  int staleFromReplica = 0;
  for (int i = 0; i < 20; ++i) {
    HttpResponse r = client.get("/v1/kv/stale", {{"X-Consistency", "eventual"}});
    ASSERT_EQ(r.status, 200) << describe(r);
    EXPECT_EQ(r.header("x-served-role"), "replica") << describe(r);
    EXPECT_EQ(r.header("x-consistency"), "eventual");
    if (r.body == "old") ++staleFromReplica;
  }
  // Both replicas are frozen behind the write: every eventual read was stale. This is
  // what the stronger levels below must never show.
  EXPECT_EQ(staleFromReplica, 20);

  // A SIGSTOPped replica stops answering; eventual reads go on from the other one.
  frozen.release();
  cluster.waitSynced(20s);
  cluster.clientPauseWrite(2, 20s);
  ASSERT_EQ(client.put("/v1/kv/stale", "newer").status, 204);
  cluster.pause(1);
  bool servedStale = waitUntil(
      [&] {
        HttpResponse r = client.get("/v1/kv/stale", {{"X-Consistency", "eventual"}});
        return r.status == 200 && r.header("x-served-by") == "replica-2" && r.body == "new";
      },
      15s, 20ms);
  EXPECT_TRUE(servedStale) << "replica-2 (writes paused) never served its stale value";
  cluster.resume(1);
  cluster.command(2, {"CLIENT", "UNPAUSE"});
}

// --- session ---------------------------------------------------------------------------

TEST(ConsistencyTest, SessionReadSeesOwnWriteWhileReplicasLagButOthersMayNot) {
  RedisCluster cluster(2);
  auto proxy = startProxy(cluster);
  Session a(proxy->dataPort());
  Session b(proxy->dataPort());
  ASSERT_EQ(a.request("PUT", "/v1/kv/ryw", "v0").status, 204);
  waitReplicasSynced(cluster);
  // B's token is fresh enough for the replicas as they are now.
  HttpResponse first = b.request("GET", "/v1/kv/ryw");
  ASSERT_EQ(first.status, 200) << describe(first);
  EXPECT_EQ(first.body, "v0");
  ASSERT_FALSE(b.token().empty());

  ReplicasFrozen frozen(cluster);
  for (int i = 1; i <= 10; ++i) {
    const std::string value = "v" + std::to_string(i);
    HttpResponse w = a.request("PUT", "/v1/kv/ryw", value);
    ASSERT_EQ(w.status, 204) << describe(w);
    ASSERT_FALSE(a.token().empty());
    HttpResponse r = a.request("GET", "/v1/kv/ryw");
    ASSERT_EQ(r.status, 200) << describe(r);
    EXPECT_EQ(r.body, value) << "read-your-writes broken: " << describe(r);
    EXPECT_EQ(r.header("x-consistency"), "session");
    EXPECT_EQ(r.header("x-served-role"), "primary") << "only the primary has the write";
  }
  // B has not seen A's writes: its session may be (and soon is) served by a frozen replica.
  const std::string tokenB = b.token();
  HttpResponse other;
  EXPECT_TRUE(waitUntil(
      [&] {
        b.setToken(tokenB);
        other = b.request("GET", "/v1/kv/ryw");
        return other.status == 200 && other.header("x-served-role") == "replica";
      },
      10s, 20ms))
      << describe(other);
  EXPECT_EQ(other.body, "v0");
}

TEST(ConsistencyTest, ForwardedTokenCarriesCausalityAcrossSessions) {
  RedisCluster cluster(2);
  auto proxy = startProxy(cluster);
  Session a(proxy->dataPort());
  Session b(proxy->dataPort());
  ASSERT_EQ(b.cmd({"RPUSH", "chat", "hello"}).status, 200);
  waitReplicasSynced(cluster);
  HttpResponse seen = b.cmd({"LRANGE", "chat", "0", "-1"});
  ASSERT_EQ(listResult(seen), std::vector<std::string>{"hello"}) << describe(seen);
  const std::string tokenB = b.token();

  ReplicasFrozen frozen(cluster);
  HttpResponse w = a.cmd({"RPUSH", "chat", "reply-from-a"});
  ASSERT_EQ(w.status, 200) << describe(w);
  const std::string tokenA = a.token();
  ASSERT_FALSE(tokenA.empty());

  // Without A's token, B's session may be served by a frozen replica (once the tracker
  // has seen the replicas reach B's position): A's write is missing there.
  HttpResponse without;
  EXPECT_TRUE(waitUntil(
      [&] {
        b.setToken(tokenB);
        without = b.cmd({"LRANGE", "chat", "0", "-1"});
        return without.status == 200 && without.header("x-served-role") == "replica";
      },
      10s, 20ms))
      << describe(without);
  EXPECT_EQ(listResult(without), std::vector<std::string>{"hello"}) << describe(without);

  // With A's token forwarded next to its own, B must see A's write.
  for (const std::string& header : {tokenB + "," + tokenA, tokenA + ", " + tokenB}) {
    b.setToken(tokenB);
    HttpResponse with = b.cmd({"LRANGE", "chat", "0", "-1"}, {{"X-Session-Token", header}});
    ASSERT_EQ(with.status, 200) << describe(with);
    EXPECT_EQ(listResult(with), (std::vector<std::string>{"hello", "reply-from-a"}))
        << "a forwarded token did not carry A's write: " << describe(with);
    // The merged token B gets back keeps the causality on its own.
    HttpResponse again = b.cmd({"LRANGE", "chat", "0", "-1"});
    EXPECT_EQ(listResult(again), (std::vector<std::string>{"hello", "reply-from-a"})) << describe(again);
  }
}

// Monotonic reads: a session that has read from the fresher of two lagging replicas must
// not be served by the staler one afterwards, even after the fresher one goes away.
TEST(ConsistencyTest, SessionReadsNeverGoBackInTimeWhenTheFresherReplicaGoesAway) {
  RedisCluster cluster(2);
  // Stickiness 0: idle replicas take turns, so the first read can reach the fresher one.
  auto proxy = startProxy(cluster, redisSection(cluster, "  replica_stickiness: 0\n"));
  Session writer(proxy->dataPort());
  Session reader(proxy->dataPort());
  ASSERT_EQ(writer.cmd({"RPUSH", "feed", "a"}).status, 200);
  waitReplicasSynced(cluster);
  cluster.clientPauseWrite(1, 30s);  // replica-1 holds [a]
  ASSERT_EQ(writer.cmd({"RPUSH", "feed", "b"}).status, 200);
  ASSERT_TRUE(waitUntil([&] { return cluster.command(2, {"LLEN", "feed"}) == "2"; }, 10s));
  cluster.clientPauseWrite(2, 30s);                           // replica-2 holds [a, b]
  ASSERT_EQ(writer.cmd({"RPUSH", "feed", "c"}).status, 200);  // only the primary has c

  // The reader has written nothing; its first read may come from either replica, so read
  // until replica-2 (the fresher one) has served it.
  HttpResponse first;
  const std::string noToken;
  ASSERT_TRUE(waitUntil(
      [&] {
        reader.setToken(noToken);
        first = reader.cmd({"LRANGE", "feed", "0", "-1"});
        return first.status == 200 && first.header("x-served-by") == "replica-2";
      },
      10s, 5ms))
      << describe(first);
  ASSERT_EQ(listResult(first), (std::vector<std::string>{"a", "b"}));

  // replica-2 goes away; replica-1 still answers, with [a] only.
  cluster.pause(2);
  ASSERT_TRUE(waitUntil(
      [&] { return metricValue(proxy->adminPort(), "cxproxy_backend_up", "backend=\"replica-2\"") == 0; }, 20s, 50ms));
  for (int i = 0; i < 5; ++i) {
    HttpResponse next = reader.cmd({"LRANGE", "feed", "0", "-1"});
    ASSERT_EQ(next.status, 200) << describe(next);
    auto values = listResult(next);
    ASSERT_TRUE(values) << describe(next);
    ASSERT_GE(values->size(), 2u) << "the session went back in time: " << describe(next);
    EXPECT_EQ((std::vector<std::string>(values->begin(), values->begin() + 2)), (std::vector<std::string>{"a", "b"}));
    EXPECT_NE(next.header("x-served-by"), "replica-1") << describe(next);
  }
  // A session without history may still be served by replica-1: it is not broken.
  HttpClient plain(proxy->dataPort());
  HttpResponse stale = plain.post("/v1/cmd", cmdBody({"LRANGE", "feed", "0", "-1"}));
  EXPECT_EQ(stale.header("x-served-by"), "replica-1") << describe(stale);
  EXPECT_EQ(listResult(stale), std::vector<std::string>{"a"}) << describe(stale);
  cluster.resume(2);
}

// Several concurrent sessions append to their own and to shared lists and read them back
// while replicas lag at random. Checked for every read:
// - it is a prefix of the list's final content (no phantom or reordered entries);
// - it extends the previous read of the same list by the same session (monotonic reads);
// - it holds every acknowledged append the session knows of: its own (read-your-writes)
//   and every earlier append by a session whose later append it has already seen
//   (session j's appends are sequential, so seeing j's append n implies that j's appends
//   before n were acknowledged before n was sent: monotonic reads across lists).
TEST(ConsistencyTest, SessionGuaranteesHoldUnderRandomReplicaLag) {
  constexpr int kSessions = 6;
  constexpr int kOpsPerSession = 200;
  const std::vector<std::string> kShared = {"list:shared:0", "list:shared:1"};

  RedisCluster cluster(2);
  auto proxy = startProxy(cluster);
  const std::uint32_t seed = testSeed();

  struct Append {
    std::string list;
    bool acked = false;
  };
  std::mutex registryMutex;
  std::vector<std::vector<Append>> registry(kSessions);  // [session][seq - 1]

  struct ReadRecord {
    std::string list;
    std::vector<std::string> values;
  };
  std::mutex readsMutex;
  std::vector<ReadRecord> reads;

  Violations violations;
  std::atomic<long> replicaReads{0}, primaryReads{0}, writes{0}, errors{0};

  auto parseValue = [](const std::string& v) -> std::optional<std::pair<int, int>> {
    // "s<session>:<seq>"
    auto colon = v.find(':');
    if (v.size() < 4 || v[0] != 's' || colon == std::string::npos) return std::nullopt;
    try {
      return std::make_pair(std::stoi(v.substr(1, colon - 1)), std::stoi(v.substr(colon + 1)));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  };

  ReplicaLagger lagger(cluster, seed);
  std::vector<std::thread> threads;
  for (int s = 0; s < kSessions; ++s) {
    threads.emplace_back([&, s] {
      std::mt19937 rng(seed + static_cast<std::uint32_t>(s) * 7919u);
      auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
      Session session(proxy->dataPort());
      const std::string own = "list:own:" + std::to_string(s);
      std::vector<int> seen(kSessions, 0);  // highest seq of each session this one knows of
      std::map<std::string, std::vector<std::string>> lastRead;
      int seq = 0;
      for (int op = 0; op < kOpsPerSession; ++op) {
        const std::string& list = uniform(0, 1) == 0 ? own : kShared[static_cast<std::size_t>(uniform(0, 1))];
        try {
          if (uniform(0, 9) < 4) {
            const std::string value = "s" + std::to_string(s) + ":" + std::to_string(++seq);
            {
              std::lock_guard lock(registryMutex);
              registry[static_cast<std::size_t>(s)].push_back({list, false});
            }
            HttpResponse r = session.cmd({"RPUSH", list, value});
            if (r.status != 200) {
              ++errors;
              violations.add("RPUSH failed: " + describe(r));
              continue;
            }
            {
              std::lock_guard lock(registryMutex);
              registry[static_cast<std::size_t>(s)][static_cast<std::size_t>(seq - 1)].acked = true;
            }
            seen[static_cast<std::size_t>(s)] = seq;
            ++writes;
          } else {
            // What this read must contain, fixed before it is sent.
            std::set<std::string> required;
            {
              std::lock_guard lock(registryMutex);
              for (int j = 0; j < kSessions; ++j) {
                const auto& appends = registry[static_cast<std::size_t>(j)];
                for (int n = 1; n <= seen[static_cast<std::size_t>(j)]; ++n) {
                  const Append& a = appends[static_cast<std::size_t>(n - 1)];
                  if (a.acked && a.list == list) required.insert("s" + std::to_string(j) + ":" + std::to_string(n));
                }
              }
            }
            HttpResponse r = session.cmd({"LRANGE", list, "0", "-1"});
            auto values = listResult(r);
            if (!values) {
              ++errors;
              violations.add("LRANGE failed: " + describe(r));
              continue;
            }
            const std::string role = r.header("x-served-role");
            if (role == "replica") {
              ++replicaReads;
            } else if (role == "primary") {
              ++primaryReads;
            } else {
              violations.add("no X-Served-Role: " + describe(r));
            }
            if (r.header("x-consistency") != "session") violations.add("served at another level: " + describe(r));
            const auto& previous = lastRead[list];
            if (values->size() < previous.size() || !std::equal(previous.begin(), previous.end(), values->begin())) {
              violations.add("session " + std::to_string(s) + " went back in time on " + list + ": had " +
                             std::to_string(previous.size()) + " entries, now " + std::to_string(values->size()) +
                             " from " + r.header("x-served-by"));
            }
            std::set<std::string> got(values->begin(), values->end());
            for (const auto& value : required) {
              if (!got.contains(value)) {
                violations.add("session " + std::to_string(s) + " read of " + list + " (" +
                               std::to_string(values->size()) + " entries, from " + r.header("x-served-by") +
                               ") misses acknowledged " + value);
                break;
              }
            }
            for (const auto& value : *values) {
              if (auto parsed = parseValue(value)) {
                auto& known = seen[static_cast<std::size_t>(parsed->first)];
                known = std::max(known, parsed->second);
              } else {
                violations.add("unexpected list entry " + value);
              }
            }
            lastRead[list] = *values;
            std::lock_guard lock(readsMutex);
            reads.push_back({list, std::move(*values)});
          }
        } catch (const std::exception& e) {
          ++errors;
          violations.add(std::string("request failed: ") + e.what());
        }
        // Think time, as real clients have: lets the tracker see replicas catch up.
        std::this_thread::sleep_for(milliseconds(uniform(0, 12)));
      }
    });
  }
  for (auto& t : threads) t.join();
  lagger.stop();

  // Every read is a prefix of the list as the primary finally holds it.
  std::map<std::string, std::vector<std::string>> finalLists;
  for (const auto& record : reads) {
    if (finalLists.contains(record.list)) continue;
    RedisReply all = cluster.reply(0, {"LRANGE", record.list, "0", "-1"});
    std::vector<std::string> items;
    for (const auto& e : all.elements) items.push_back(e.str);
    finalLists[record.list] = std::move(items);
  }
  int notPrefix = 0;
  for (const auto& record : reads) {
    const auto& full = finalLists[record.list];
    if (record.values.size() > full.size() || !std::equal(record.values.begin(), record.values.end(), full.begin())) {
      ++notPrefix;
    }
  }
  EXPECT_EQ(notPrefix, 0) << "reads that are not a prefix of the final list";

  std::cout << "[ workload ] " << writes << " acknowledged appends, " << reads.size() << " reads, "
            << lagger.writePauses() << " CLIENT PAUSE WRITE, " << lagger.stops() << " SIGSTOP\n";
  reportShare("session", replicaReads, primaryReads);
  EXPECT_EQ(violations.count(), 0) << violations.summary();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GE(writes + static_cast<long>(reads.size()), 1000);
  EXPECT_GT(lagger.writePauses(), 0);
  // A proxy that sends every session read to the primary keeps the guarantees trivially;
  // replicas are healthy most of the time here, so a real share must go to them.
  const long total = replicaReads + primaryReads;
  EXPECT_GT(replicaReads * 10, total) << "fewer than 10% of session reads were served by replicas";
}

// --- bounded ---------------------------------------------------------------------------

// Writers bump counters and note when each write was acknowledged; readers ask for
// bounded staleness of 200 ms while replicas lag at random. A response's
// X-Staleness-Bound-Ms never exceeds 200, and the value read is never older than a write
// acknowledged more than that bound before the read was sent.
TEST(ConsistencyTest, BoundedReadsNeverExceedTheRequestedStaleness) {
  constexpr int kWriters = 2;
  constexpr int kReaders = 3;
  constexpr int kReadsPerReader = 250;
  constexpr long kMaxStalenessMs = 200;

  RedisCluster cluster(2);
  auto proxy = startProxy(cluster);
  const std::uint32_t seed = testSeed();

  std::mutex acksMutex;
  std::vector<std::vector<Clock::time_point>> acks(kWriters);  // [writer][seq]: ack time
  {
    HttpClient setup(proxy->dataPort());
    for (int w = 0; w < kWriters; ++w) {
      ASSERT_EQ(setup.put("/v1/kv/bounded:" + std::to_string(w), "0").status, 204);
      acks[static_cast<std::size_t>(w)].push_back(Clock::now());
    }
  }
  waitReplicasSynced(cluster);

  Violations violations;
  std::atomic<long> replicaReads{0}, primaryReads{0}, errors{0};
  std::atomic<bool> readersDone{false};
  long maxBoundSeen = 0;
  std::mutex maxMutex;

  ReplicaLagger lagger(cluster, seed);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      HttpClient client(proxy->dataPort());
      for (long seq = 1; !readersDone; ++seq) {
        try {
          HttpResponse r = client.put("/v1/kv/bounded:" + std::to_string(w), std::to_string(seq));
          auto ackedAt = Clock::now();
          if (r.status != 204) {
            ++errors;
            violations.add("write failed: " + describe(r));
            return;
          }
          std::lock_guard lock(acksMutex);
          acks[static_cast<std::size_t>(w)].push_back(ackedAt);
        } catch (const std::exception& e) {
          ++errors;
          violations.add(std::string("write failed: ") + e.what());
          return;
        }
        std::this_thread::sleep_for(2ms);
      }
    });
  }
  std::vector<std::thread> readers;
  for (int rd = 0; rd < kReaders; ++rd) {
    readers.emplace_back([&, rd] {
      std::mt19937 rng(seed + 31u * static_cast<std::uint32_t>(rd));
      HttpClient client(proxy->dataPort());
      for (int i = 0; i < kReadsPerReader; ++i) {
        const int w = std::uniform_int_distribution<int>(0, kWriters - 1)(rng);
        const auto sentAt = Clock::now();
        try {
          HttpResponse r = client.get("/v1/kv/bounded:" + std::to_string(w),
                                      {{"X-Consistency", "bounded"}, {"X-Max-Staleness", "200ms"}});
          if (r.status != 200) {
            ++errors;
            violations.add("bounded read failed: " + describe(r));
            continue;
          }
          const std::string role = r.header("x-served-role");
          (role == "replica" ? replicaReads : primaryReads)++;
          if (r.header("x-consistency") != "bounded") violations.add("served at another level: " + describe(r));
          long bound = -1;
          try {
            bound = std::stol(r.header("x-staleness-bound-ms"));
          } catch (const std::exception&) {
            violations.add("no numeric X-Staleness-Bound-Ms: '" + r.header("x-staleness-bound-ms") + "'");
            continue;
          }
          if (bound < 0 || bound > kMaxStalenessMs) {
            violations.add("X-Staleness-Bound-Ms " + std::to_string(bound) + " > requested " +
                           std::to_string(kMaxStalenessMs) + " from " + r.header("x-served-by"));
          }
          if (role == "primary" && bound != 0) violations.add("primary read with a non-zero bound: " + describe(r));
          {
            std::lock_guard lock(maxMutex);
            maxBoundSeen = std::max(maxBoundSeen, bound);
          }
          const long value = std::stol(r.body);
          // Every write acknowledged before sentAt - bound must be visible (the proxy's
          // bound was computed after sentAt, so this is weaker than what it promises).
          const auto horizon = sentAt - milliseconds(std::min(std::max(bound, 0L), kMaxStalenessMs));
          long required = 0;
          {
            std::lock_guard lock(acksMutex);
            const auto& times = acks[static_cast<std::size_t>(w)];
            auto it = std::lower_bound(times.begin(), times.end(), horizon);
            required = static_cast<long>(it - times.begin()) - 1;  // last seq acked before horizon
          }
          if (value < required) {
            violations.add("bounded read of bounded:" + std::to_string(w) + " from " + r.header("x-served-by") +
                           " (bound " + std::to_string(bound) + " ms) returned " + std::to_string(value) + " but " +
                           std::to_string(required) + " was acknowledged before the bound");
          }
        } catch (const std::exception& e) {
          ++errors;
          violations.add(std::string("bounded read failed: ") + e.what());
        }
      }
    });
  }
  for (auto& t : readers) t.join();
  readersDone = true;
  for (auto& t : threads) t.join();
  lagger.stop();

  long writes = 0;
  for (const auto& a : acks) writes += static_cast<long>(a.size()) - 1;
  std::cout << "[ workload ] " << writes << " writes, " << kReaders * kReadsPerReader << " bounded reads, "
            << lagger.writePauses() << " CLIENT PAUSE WRITE, " << lagger.stops() << " SIGSTOP, largest bound "
            << maxBoundSeen << " ms\n";
  reportShare("bounded", replicaReads, primaryReads);
  EXPECT_EQ(violations.count(), 0) << violations.summary();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(writes, 50);
  const long total = replicaReads + primaryReads;
  EXPECT_GT(replicaReads * 10, total) << "fewer than 10% of bounded reads were served by replicas";
}

// A replica that stops answering in the middle of a read: the read times out there and
// is served by the primary (any read may go to the primary), once, and the fallback is
// counted. The tracker still sees the replicas as up (down_after is far off), so the
// reads are routed to them first.
TEST(ConsistencyTest, ReadOnAReplicaThatStopsAnsweringIsServedByThePrimary) {
  RedisCluster cluster(2);
  auto proxy = startProxy(
      cluster, redisSection(cluster, "  command_timeout: 300ms\n") + "tracking:\n  interval: 1s\n  down_after: 60s\n");
  HttpClient client(proxy->dataPort());
  ASSERT_EQ(client.put("/v1/kv/rs", "value").status, 204);
  waitReplicasSynced(cluster);
  for (std::size_t r : cluster.replicaIndices()) cluster.pause(r);
  std::vector<HttpResponse> reads;
  for (int i = 0; i < 3; ++i) reads.push_back(client.get("/v1/kv/rs", {{"X-Consistency", "eventual"}}));
  for (std::size_t r : cluster.replicaIndices()) cluster.resume(r);
  for (const auto& read : reads) {
    EXPECT_EQ(read.status, 200) << describe(read);
    EXPECT_EQ(read.body, "value") << describe(read);
    EXPECT_EQ(read.header("x-served-role"), "primary") << describe(read);
    EXPECT_EQ(read.header("x-staleness-bound-ms"), "0") << describe(read);
  }
  EXPECT_GE(metricValue(proxy->adminPort(), "cxproxy_fallbacks_total", "reason=\"replica_error\""), 3);
  EXPECT_GE(metricValue(proxy->adminPort(), "cxproxy_backend_errors_total", "reason=\"timeout\""), 3);
}

TEST(ConsistencyTest, BoundedReadFallsBackToThePrimaryWhenEveryReplicaIsTooStale) {
  RedisCluster cluster(2);
  auto proxy = startProxy(cluster);
  HttpClient client(proxy->dataPort());
  ASSERT_EQ(client.put("/v1/kv/b", "old").status, 204);
  waitReplicasSynced(cluster);
  ReplicasFrozen frozen(cluster);
  ASSERT_EQ(client.put("/v1/kv/b", "new").status, 204);
  const auto ackedAt = Clock::now();
  // Once the write is older than the bound, no frozen replica qualifies any more.
  ASSERT_TRUE(waitUntil([&] { return Clock::now() - ackedAt > 150ms; }, 5s));
  for (int i = 0; i < 10; ++i) {
    HttpResponse r = client.get("/v1/kv/b", {{"X-Consistency", "bounded"}, {"X-Max-Staleness", "100"}});
    ASSERT_EQ(r.status, 200) << describe(r);
    EXPECT_EQ(r.body, "new") << describe(r);
    EXPECT_EQ(r.header("x-served-role"), "primary") << describe(r);
    EXPECT_EQ(r.header("x-staleness-bound-ms"), "0");
  }
  EXPECT_GT(metricValue(proxy->adminPort(), "cxproxy_fallbacks_total"), 0);
}

// --- strong ----------------------------------------------------------------------------

TEST(ConsistencyTest, StrongReadsAlwaysSeeTheLatestAcknowledgedWrite) {
  RedisCluster cluster(2);
  auto proxy = startProxy(cluster);
  const std::uint32_t seed = testSeed();
  {
    HttpClient setup(proxy->dataPort());
    ASSERT_EQ(setup.put("/v1/kv/strong", "0").status, 204);
  }
  std::atomic<long> latestAcked{0};
  std::atomic<bool> done{false};
  Violations violations;
  std::atomic<long> staleEventual{0};

  // Eventual reads prefer the fresher replica: lag them all at once so that the
  // eventual reads below can show what a wrongly served strong read would return.
  ReplicaLagger lagger(cluster, seed, /*everyReplica=*/true);
  std::thread writer([&] {
    HttpClient client(proxy->dataPort());
    for (long seq = 1; !done; ++seq) {
      try {
        HttpResponse r = client.put("/v1/kv/strong", std::to_string(seq));
        if (r.status != 204) {
          violations.add("write failed: " + describe(r));
          return;
        }
        latestAcked = seq;
      } catch (const std::exception& e) {
        violations.add(std::string("write failed: ") + e.what());
        return;
      }
    }
  });
  std::vector<std::thread> readers;
  for (int rd = 0; rd < 2; ++rd) {
    readers.emplace_back([&] {
      HttpClient client(proxy->dataPort());
      for (int i = 0; i < 200; ++i) {
        try {
          const long before = latestAcked;
          HttpResponse r = client.get("/v1/kv/strong", {{"X-Consistency", "strong"}});
          if (r.status != 200) {
            violations.add("strong read failed: " + describe(r));
            continue;
          }
          if (r.header("x-served-role") != "primary" || r.header("x-consistency") != "strong" ||
              r.header("x-staleness-bound-ms") != "0") {
            violations.add("strong read not served as strong by the primary: " + describe(r));
          }
          if (std::stol(r.body) < before) {
            violations.add("strong read returned " + r.body + " after " + std::to_string(before) + " was acknowledged");
          }
          // The same moment, at eventual: shows the replicas really are behind at times.
          const long now = latestAcked;
          HttpResponse e = client.get("/v1/kv/strong", {{"X-Consistency", "eventual"}});
          if (e.status == 200 && e.header("x-served-role") == "replica" && std::stol(e.body) < now) ++staleEventual;
        } catch (const std::exception& e) {
          violations.add(std::string("strong read failed: ") + e.what());
        }
      }
    });
  }
  for (auto& t : readers) t.join();
  done = true;
  writer.join();
  lagger.stop();
  std::cout << "[ workload ] " << latestAcked << " writes, 400 strong reads, " << staleEventual
            << " stale eventual reads at the same moments\n";
  EXPECT_EQ(violations.count(), 0) << violations.summary();
  EXPECT_GT(latestAcked.load(), 10);
  EXPECT_GT(staleEventual.load(), 0) << "replicas never lagged: the test could not tell strong from eventual";
}

TEST(ConsistencyTest, StrongWriteWithEveryReplicaStoppedFailsWithQuorumNotReached) {
  RedisCluster cluster(2);
  auto proxy = startProxy(cluster, "consistency:\n  write_quorum: {replicas: 1, timeout: 300ms}\n");
  HttpClient client(proxy->dataPort());
  HttpResponse ok = client.put("/v1/kv/q", "one", {{"X-Consistency", "strong"}});
  ASSERT_EQ(ok.status, 204) << describe(ok);
  EXPECT_EQ(ok.header("x-consistency"), "strong");
  const double before = metricValue(proxy->adminPort(), "cxproxy_quorum_failures_total");

  for (std::size_t r : cluster.replicaIndices()) cluster.pause(r);
  HttpResponse failed = client.put("/v1/kv/q", "two", {{"X-Consistency", "strong"}});
  for (std::size_t r : cluster.replicaIndices()) cluster.resume(r);

  EXPECT_EQ(failed.status, 504) << describe(failed);
  auto body = parseJson(failed.body);
  ASSERT_TRUE(body && body->is_object()) << failed.body;
  const auto& object = body->as_object();
  EXPECT_EQ(errorCode(failed), "quorum_not_reached") << failed.body;
  ASSERT_TRUE(object.contains("acked")) << failed.body;
  ASSERT_TRUE(object.contains("required")) << failed.body;
  ASSERT_TRUE(object.contains("applied_on_primary")) << failed.body;
  EXPECT_EQ(object.at("acked").to_number<long>(), 0) << failed.body;
  EXPECT_EQ(object.at("required").to_number<long>(), 1) << failed.body;
  EXPECT_EQ(object.at("applied_on_primary"), json::value(true)) << failed.body;
  EXPECT_TRUE(object.contains("message")) << failed.body;
  // Applied on the primary, as the body says.
  EXPECT_EQ(cluster.command(0, {"GET", "q"}), "two");
  EXPECT_GE(metricValue(proxy->adminPort(), "cxproxy_quorum_failures_total"), before + 1);

  // With replicas back, a strong write reaches its quorum again.
  HttpResponse again = client.put("/v1/kv/q", "three", {{"X-Consistency", "strong"}});
  EXPECT_EQ(again.status, 204) << describe(again);
}

// --- tokens ----------------------------------------------------------------------------

session::SessionToken tokenAt(const std::string& replid, std::uint64_t writeOffset, std::uint64_t readOffset = 0) {
  session::SessionToken token;
  token.replid = replid;
  token.writeOffset = writeOffset;
  token.readOffset = readOffset;
  token.issuedAt = std::chrono::system_clock::now();
  return token;
}

std::string randomBase64Url(std::mt19937& rng, std::size_t length) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  for (std::size_t i = 0; i < length; ++i) out.push_back(kAlphabet[rng() % 64]);
  return out;
}

TEST(ConsistencyTest, BadTokensAreRefusedAndTokensFromAnotherHistoryAreReported) {
  RedisCluster cluster(2);
  auto proxy = startProxy(cluster);
  Session session(proxy->dataPort());
  ASSERT_EQ(session.request("PUT", "/v1/kv/t", "v").status, 204);
  const std::string good = session.token();
  ASSERT_GT(good.size(), 8u);
  HttpClient client(proxy->dataPort());
  auto getWith = [&](const std::string& token) { return client.get("/v1/kv/t", {{"X-Session-Token", token}}); };
  auto putWith = [&](const std::string& token) { return client.put("/v1/kv/t", "w", {{"X-Session-Token", token}}); };
  ASSERT_EQ(getWith(good).status, 200);

  std::vector<std::pair<std::string, std::string>> refused;  // what, token
  std::mt19937 rng(12345);
  for (std::size_t length : {16u, 86u, 87u, 88u, 120u}) refused.emplace_back("forged", randomBase64Url(rng, length));
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (std::size_t pos : {std::size_t{0}, std::size_t{1}, std::size_t{4}, good.size() / 2, good.size() - 12,
                          good.size() - 2, good.size() - 1}) {
    for (std::size_t bit : {1u, 32u}) {
      std::string flipped = good;
      flipped[pos] = kAlphabet[(kAlphabet.find(good[pos]) ^ bit) % 64];
      refused.emplace_back("bit-flipped at " + std::to_string(pos), flipped);
    }
  }
  refused.emplace_back("truncated by 1", good.substr(0, good.size() - 1));
  refused.emplace_back("truncated by 4", good.substr(0, good.size() - 4));
  refused.emplace_back("truncated by half", good.substr(0, good.size() / 2));
  refused.emplace_back("extended", good + "AAAA");
  refused.emplace_back("not base64", good.substr(0, 10) + "!" + good.substr(11));

  const std::string replid = cluster.replId(0);
  const std::uint64_t offset = static_cast<std::uint64_t>(cluster.replOffset(0));
  refused.emplace_back("foreign key", session::KeyRing::fromSpec(kOtherKeySpec).encode(tokenAt(replid, offset)));
  refused.emplace_back("impostor with our key id",
                       session::KeyRing::fromSpec(kImpostorKeySpec).encode(tokenAt(replid, offset)));
  refused.emplace_back("bad one in a list", good + "," + randomBase64Url(rng, 87));
  const session::KeyRing ours = session::KeyRing::fromSpec(kKeySpec);
  refused.emplace_back("beyond the primary (write)", ours.encode(tokenAt(replid, offset + 1'000'000'000)));
  refused.emplace_back("beyond the primary (read)", ours.encode(tokenAt(replid, 0, offset + 1'000'000'000)));

  // A token we sign ourselves with the real key and a reachable position is accepted:
  // the refusals below are about the tokens, not about how they were made.
  HttpResponse minted = getWith(ours.encode(tokenAt(replid, offset)));
  EXPECT_EQ(minted.status, 200) << describe(minted);

  const double rejectedBefore =
      metricValue(proxy->adminPort(), "cxproxy_consistency_violations_total", "type=\"session_history_lost\"");
  for (const auto& [what, token] : refused) {
    if (token == good) continue;
    HttpResponse r = getWith(token);
    EXPECT_EQ(r.status, 400) << what << ": " << describe(r);
    EXPECT_EQ(errorCode(r), "invalid_session_token") << what << ": " << describe(r);
    HttpResponse w = putWith(token);
    EXPECT_EQ(w.status, 400) << what << " (write): " << describe(w);
    EXPECT_EQ(errorCode(w), "invalid_session_token") << what << " (write): " << describe(w);
  }
  EXPECT_EQ(cluster.command(0, {"GET", "t"}), "v") << "a write with a refused token was executed";

  // Another replication history: a well-signed token the current primary cannot vouch for.
  std::string otherReplid;
  for (int i = 0; i < 40; ++i) otherReplid.push_back("0123456789abcdef"[rng() % 16]);
  const std::string lost = ours.encode(tokenAt(otherReplid, 10, 10));
  HttpResponse r = getWith(lost);
  EXPECT_EQ(r.status, 409) << describe(r);
  EXPECT_EQ(errorCode(r), "session_history_lost") << describe(r);
  HttpResponse w = putWith(lost);
  EXPECT_EQ(w.status, 409) << describe(w);
  EXPECT_EQ(errorCode(w), "session_history_lost") << describe(w);
  HttpResponse mixed = client.get("/v1/kv/t", {{"X-Session-Token", good + "," + lost}});
  EXPECT_EQ(mixed.status, 409) << describe(mixed);
  EXPECT_GE(metricValue(proxy->adminPort(), "cxproxy_consistency_violations_total", "type=\"session_history_lost\""),
            rejectedBefore + 3);
  EXPECT_EQ(cluster.command(0, {"GET", "t"}), "v");
}

// A primary that restarts empty (no persistence) starts a new replication history: the
// writes a session saw are gone. A token from before must get 409 session_history_lost,
// never a silent answer from the new, empty history — also in the first moments after the
// restart, before the tracker has polled the new primary.
TEST(ConsistencyTest, TokensFromBeforeAPrimaryRestartGetSessionHistoryLost) {
  RedisCluster cluster(2);
  auto proxy = startProxy(cluster);
  Session session(proxy->dataPort());
  ASSERT_EQ(session.request("PUT", "/v1/kv/h", "lost-soon").status, 204);
  waitReplicasSynced(cluster);
  const std::string token = session.token();
  const double before =
      metricValue(proxy->adminPort(), "cxproxy_consistency_violations_total", "type=\"session_history_lost\"");

  cluster.kill(0);
  cluster.restart(0);
  HttpClient client(proxy->dataPort(), 10s);
  int served = 0;
  int lost = 0;
  std::vector<std::string> silent;
  const auto deadline = Clock::now() + 20s;
  // Read with the old token until the new history has reached the replicas too.
  while (Clock::now() < deadline && lost < 20) {
    HttpResponse r = client.get("/v1/kv/h", {{"X-Session-Token", token}});
    if (r.status == 409) {
      EXPECT_EQ(errorCode(r), "session_history_lost") << describe(r);
      ++lost;
    } else if (r.status == 200 || r.status == 404) {
      // 200 "lost-soon" from a replica still in the old history is honest; anything from
      // the new history (404 here) is the lost history served silently.
      ++served;
      if (r.status == 404 || r.body != "lost-soon") silent.push_back(describe(r) + " by " + r.header("x-served-by"));
    }
  }
  EXPECT_GE(lost, 20);
  EXPECT_TRUE(silent.empty()) << silent.size() << " reads with a token from the lost history were answered from "
                              << "the new one, e.g. " << silent.front();
  EXPECT_GE(metricValue(proxy->adminPort(), "cxproxy_consistency_violations_total", "type=\"session_history_lost\""),
            before + 20);
  std::cout << "[ restart  ] " << served << " reads served from the old history, " << lost << " got 409\n";
  // A write with the old token is refused too, and a new session works.
  HttpResponse w = client.put("/v1/kv/h", "x", {{"X-Session-Token", token}});
  EXPECT_EQ(w.status, 409) << describe(w);
  EXPECT_EQ(client.put("/v1/kv/h", "fresh").status, 204);
}

TEST(ConsistencyTest, TokensSurviveACxproxyRestart) {
  RedisCluster cluster(2);
  auto proxy = startProxy(cluster);
  Session session(proxy->dataPort());
  ASSERT_EQ(session.request("PUT", "/v1/kv/r", "before").status, 204);
  waitReplicasSynced(cluster);

  ReplicasFrozen frozen(cluster, 60s);
  HttpResponse w = session.request("PUT", "/v1/kv/r", "after");
  ASSERT_EQ(w.status, 204) << describe(w);
  const std::string token = session.token();

  proxy->restart();
  Session again(proxy->dataPort());
  again.setToken(token);
  for (int i = 0; i < 5; ++i) {
    HttpResponse r = again.request("GET", "/v1/kv/r");
    ASSERT_EQ(r.status, 200) << "a token from before the restart was refused: " << describe(r);
    EXPECT_EQ(r.body, "after") << "read-your-writes lost across a restart: " << describe(r);
    EXPECT_EQ(r.header("x-served-role"), "primary") << describe(r);
  }
  // Without the token the (frozen) replicas answer with the old value.
  HttpClient plain(proxy->dataPort());
  HttpResponse stale;
  EXPECT_TRUE(waitUntil(
      [&] {
        stale = plain.get("/v1/kv/r", {{"X-Consistency", "eventual"}});
        return stale.status == 200 && stale.header("x-served-role") == "replica";
      },
      10s, 20ms))
      << describe(stale);
  EXPECT_EQ(stale.body, "before");
}

TEST(ConsistencyTest, InstancesSharingKeysAcceptEachOthersTokens) {
  RedisCluster cluster(2);
  auto first = startProxy(cluster);
  auto second = startProxy(cluster);
  auto stranger = startProxy(cluster, "", kOtherKeySpec);
  waitReplicasSynced(cluster);
  ReplicasFrozen frozen(cluster, 60s);

  Session onFirst(first->dataPort());
  Session onSecond(second->dataPort());
  for (int i = 0; i < 20; ++i) {
    const std::string value = "from-first-" + std::to_string(i);
    HttpResponse w = onFirst.request("PUT", "/v1/kv/shared", value);
    ASSERT_EQ(w.status, 204) << describe(w);
    // At once, before the second instance has polled the primary's new offset: it must
    // confirm the position with the primary rather than refuse the token.
    onSecond.setToken(onFirst.token());
    HttpResponse r = onSecond.request("GET", "/v1/kv/shared");
    ASSERT_EQ(r.status, 200) << "the second instance refused the first's token: " << describe(r);
    EXPECT_EQ(r.body, value) << describe(r);

    const std::string value2 = "from-second-" + std::to_string(i);
    ASSERT_EQ(onSecond.request("PUT", "/v1/kv/shared", value2).status, 204);
    onFirst.setToken(onSecond.token());
    HttpResponse back = onFirst.request("GET", "/v1/kv/shared");
    ASSERT_EQ(back.status, 200) << "the first instance refused the second's token: " << describe(back);
    EXPECT_EQ(back.body, value2) << describe(back);
  }
  HttpClient strangerClient(stranger->dataPort());
  HttpResponse refused = strangerClient.get("/v1/kv/shared", {{"X-Session-Token", onFirst.token()}});
  EXPECT_EQ(refused.status, 400) << describe(refused);
  EXPECT_EQ(errorCode(refused), "invalid_session_token");
}

// --- the primary down ------------------------------------------------------------------

void expectWritesAndStrongReadsRefused(HttpClient& client, const std::string& when) {
  auto acceptable = [](const HttpResponse& r) {
    const std::string code = errorCode(r);
    return (r.status == 503 && code == "primary_unavailable") || (r.status == 504 && code == "backend_timeout");
  };
  HttpResponse w = client.put("/v1/kv/down", "x");
  EXPECT_TRUE(acceptable(w)) << when << ", write: " << describe(w);
  HttpResponse c = client.post("/v1/cmd", cmdBody({"RPUSH", "downlist", "x"}));
  EXPECT_TRUE(acceptable(c)) << when << ", RPUSH: " << describe(c);
  HttpResponse s = client.get("/v1/kv/down", {{"X-Consistency", "strong"}});
  EXPECT_TRUE(acceptable(s)) << when << ", strong read: " << describe(s);
  if (w.status == 503) {
    EXPECT_TRUE(w.hasHeader("retry-after"));
  }
}

void expectWeakReadsServedByReplicas(HttpClient& client, const std::string& when) {
  for (int i = 0; i < 10; ++i) {
    for (const char* level : {"eventual", "prefix"}) {
      HttpResponse r = client.get("/v1/kv/down", {{"X-Consistency", level}});
      EXPECT_EQ(r.status, 200) << when << ", " << level << ": " << describe(r);
      EXPECT_EQ(r.body, "value") << when << ", " << level;
      EXPECT_EQ(r.header("x-served-role"), "replica") << when << ", " << level << ": " << describe(r);
      EXPECT_EQ(r.header("x-consistency"), level);
    }
  }
}

TEST(ConsistencyTest, StoppedPrimaryRefusesWritesButReplicasKeepServingWeakReads) {
  RedisCluster cluster(2);
  auto proxy = startProxy(cluster);
  HttpClient client(proxy->dataPort());
  ASSERT_EQ(client.put("/v1/kv/down", "value").status, 204);
  waitReplicasSynced(cluster);

  cluster.pause(0);
  expectWeakReadsServedByReplicas(client, "just stopped");
  expectWritesAndStrongReadsRefused(client, "stopped");
  // Long after the tracker has given up on the primary too.
  ASSERT_TRUE(waitUntil(
      [&] { return metricValue(proxy->adminPort(), "cxproxy_backend_up", "backend=\"primary\"") == 0; }, 15s, 50ms));
  expectWeakReadsServedByReplicas(client, "marked down");
  expectWritesAndStrongReadsRefused(client, "marked down");
  cluster.resume(0);
  EXPECT_TRUE(waitUntil([&] { return client.put("/v1/kv/down", "again").status == 204; }, 15s, 50ms));
}

TEST(ConsistencyTest, KilledPrimaryRefusesWritesButReplicasKeepServingWeakReads) {
  RedisCluster cluster(2);
  auto proxy = startProxy(cluster);
  Session session(proxy->dataPort());
  ASSERT_EQ(session.request("PUT", "/v1/kv/down", "value").status, 204);
  waitReplicasSynced(cluster);
  HttpClient client(proxy->dataPort());

  cluster.kill(0);
  // The replicas see their link drop and the tracker sees the primary refuse connections,
  // in either order: give it a moment, then every weak read must be served.
  EXPECT_TRUE(waitUntil(
      [&] {
        return client.get("/v1/kv/down", {{"X-Consistency", "prefix"}}).status == 200 &&
               client.get("/v1/kv/down", {{"X-Consistency", "eventual"}}).status == 200;
      },
      15s, 20ms));
  expectWeakReadsServedByReplicas(client, "killed");
  expectWritesAndStrongReadsRefused(client, "killed");
}

// Session is weaker than strong: with the primary unreachable, a session read must still
// be served by a replica that has applied the token's position (README "Consistency levels": weaker reads
// keep being served by replicas where the level allows it). The token is used at once
// after its write, before the tracker has polled the primary's new offset (a slow
// tracking interval makes that window wide), so the proxy cannot compare it with the
// primary's polled offset and cannot ask the stopped primary either: a replica that has
// applied the position proves it is real.
TEST(ConsistencyTest, SessionReadsWithAStoppedPrimaryAreServedByAReplicaThatHasTheirPosition) {
  RedisCluster cluster(2);
  auto proxy = startProxy(cluster, "tracking:\n  interval: 1s\n  down_after: 3s\n");
  Session session(proxy->dataPort());
  ASSERT_EQ(session.request("PUT", "/v1/kv/sp", "first").status, 204);
  waitReplicasSynced(cluster);
  ASSERT_EQ(session.request("PUT", "/v1/kv/sp", "second").status, 204);
  cluster.pause(0);
  for (std::size_t r : cluster.replicaIndices()) {
    ASSERT_TRUE(waitUntil([&] { return cluster.command(r, {"GET", "sp"}) == "second"; }, 10s));
  }
  HttpResponse read;
  EXPECT_TRUE(waitUntil(
      [&] {
        read = session.request("GET", "/v1/kv/sp");
        return read.status == 200;
      },
      10s, 50ms))
      << describe(read);
  EXPECT_EQ(read.body, "second");
  EXPECT_EQ(read.header("x-served-role"), "replica") << describe(read);
  cluster.resume(0);
}

TEST(ConsistencyTest, SessionReadsWithAKilledPrimaryAreServedByAReplicaThatHasTheirPosition) {
  RedisCluster cluster(2);
  auto proxy = startProxy(cluster);
  Session session(proxy->dataPort());
  ASSERT_EQ(session.request("PUT", "/v1/kv/kp", "value").status, 204);
  waitReplicasSynced(cluster);
  cluster.kill(0);
  HttpResponse read;
  EXPECT_TRUE(waitUntil(
      [&] {
        read = session.request("GET", "/v1/kv/kp");
        return read.status == 200;
      },
      10s, 50ms))
      << describe(read);
  EXPECT_EQ(read.body, "value");
  EXPECT_EQ(read.header("x-served-role"), "replica") << describe(read);
}

// A replica restarted empty (no persistence) that cannot resync (its primary is stopped)
// answers reads, with none of the data: fine for eventual, never for prefix, bounded or
// session, which need a replica in the primary's history (README "Consistency levels").
TEST(ConsistencyTest, RestartedEmptyReplicaServesOnlyEventualReads) {
  RedisCluster cluster(2);
  auto proxy = startProxy(cluster);
  Session session(proxy->dataPort());
  ASSERT_EQ(session.request("PUT", "/v1/kv/rk", "v").status, 204);
  waitReplicasSynced(cluster);
  ASSERT_EQ(session.request("GET", "/v1/kv/rk").status, 200);

  cluster.pause(0);
  cluster.pause(2);
  cluster.restart(1);
  ASSERT_EQ(cluster.command(1, {"GET", "rk"}), "(nil)");
  const int admin = proxy->adminPort();
  ASSERT_TRUE(waitUntil(
      [&] {
        return metricValue(admin, "cxproxy_backend_up", "backend=\"primary\"") == 0 &&
               metricValue(admin, "cxproxy_backend_up", "backend=\"replica-2\"") == 0 &&
               metricValue(admin, "cxproxy_backend_up", "backend=\"replica-1\"") == 1;
      },
      20s, 50ms));

  HttpClient client(proxy->dataPort());
  // The empty replica is reachable and serves eventual reads: it really is empty.
  HttpResponse eventual = client.get("/v1/kv/rk", {{"X-Consistency", "eventual"}});
  EXPECT_EQ(eventual.status, 404) << describe(eventual);
  EXPECT_EQ(eventual.header("x-served-by"), "replica-1") << describe(eventual);
  for (int i = 0; i < 5; ++i) {
    for (const char* level : {"prefix", "bounded"}) {
      HttpResponse r = client.get("/v1/kv/rk", {{"X-Consistency", level}, {"X-Max-Staleness", "10s"}});
      EXPECT_NE(r.status, 404) << level << " read served from the empty replica: " << describe(r);
      EXPECT_NE(r.header("x-served-by"), "replica-1") << level << ": " << describe(r);
      EXPECT_TRUE(r.status == 503 || r.status == 504) << level << ": " << describe(r);
    }
    for (bool withToken : {false, true}) {
      HttpResponse r =
          withToken ? session.request("GET", "/v1/kv/rk") : client.get("/v1/kv/rk", {{"X-Consistency", "session"}});
      EXPECT_NE(r.status, 404) << "session read served from the empty replica: " << describe(r);
      EXPECT_NE(r.header("x-served-by"), "replica-1") << describe(r);
    }
  }
  cluster.resume(2);
  cluster.resume(0);
}

// --- on_stale: wait --------------------------------------------------------------------

// A session read no replica can serve waits for one to catch up (while the tracker
// publishes new snapshots, which the request moves through) and is then served by it
// with a token that works; when none catches up in wait_timeout, the primary serves it.
TEST(ConsistencyTest, OnStaleWaitServesFromAReplicaThatCatchesUpOrElseThePrimary) {
  RedisCluster cluster(2);
  auto proxy = startProxy(cluster, "consistency:\n  default: {level: session, on_stale: wait}\n  wait_timeout: 5s\n");
  Session session(proxy->dataPort());
  ASSERT_EQ(session.request("PUT", "/v1/kv/ow", "old").status, 204);
  waitReplicasSynced(cluster);

  {  // The replicas catch up while the read waits.
    ReplicasFrozen frozen(cluster, 60s);
    ASSERT_EQ(session.request("PUT", "/v1/kv/ow", "new").status, 204);
    std::jthread releaser([&] {
      std::this_thread::sleep_for(300ms);  // lets the read start waiting; not a timing check
      frozen.release();
    });
    HttpResponse r = session.request("GET", "/v1/kv/ow");
    releaser.join();
    EXPECT_EQ(r.status, 200) << describe(r);
    EXPECT_EQ(r.body, "new");
    EXPECT_EQ(r.header("x-served-role"), "replica") << describe(r);
    ASSERT_TRUE(r.hasHeader("x-session-token"));
    HttpResponse again = session.request("GET", "/v1/kv/ow");  // with the token just issued
    EXPECT_EQ(again.status, 200) << describe(again);
    EXPECT_EQ(again.body, "new");
  }
  {  // Nobody catches up: after wait_timeout the primary answers.
    ReplicasFrozen frozen(cluster, 60s);
    ASSERT_EQ(session.request("PUT", "/v1/kv/ow", "newer").status, 204);
    const double before = metricValue(proxy->adminPort(), "cxproxy_fallbacks_total");
    HttpResponse r = session.request("GET", "/v1/kv/ow");
    EXPECT_EQ(r.status, 200) << describe(r);
    EXPECT_EQ(r.body, "newer");
    EXPECT_EQ(r.header("x-served-role"), "primary") << describe(r);
    EXPECT_GT(metricValue(proxy->adminPort(), "cxproxy_fallbacks_total"), before);
  }
}

// --- on_stale: error -------------------------------------------------------------------

TEST(ConsistencyTest, OnStaleErrorRefusesSessionReadsNoReplicaCanServe) {
  RedisCluster cluster(2);
  auto proxy = startProxy(cluster, "consistency:\n  default: {level: session, on_stale: error}\n");
  Session session(proxy->dataPort());
  ASSERT_EQ(session.request("PUT", "/v1/kv/os", "old").status, 204);
  waitReplicasSynced(cluster);
  HttpResponse fine;
  ASSERT_TRUE(waitUntil(
      [&] {
        fine = session.request("GET", "/v1/kv/os");
        return fine.status == 200;
      },
      10s, 20ms))
      << describe(fine);
  EXPECT_EQ(fine.header("x-served-role"), "replica");

  ReplicasFrozen frozen(cluster, 60s);
  ASSERT_EQ(session.request("PUT", "/v1/kv/os", "new").status, 204);
  const double before =
      metricValue(proxy->adminPort(), "cxproxy_consistency_violations_total", "type=\"no_fresh_replica\"");
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = session.request("GET", "/v1/kv/os");
    EXPECT_EQ(r.status, 503) << describe(r);
    EXPECT_EQ(errorCode(r), "no_fresh_replica") << describe(r);
    EXPECT_TRUE(r.hasHeader("retry-after"));
  }
  EXPECT_GE(metricValue(proxy->adminPort(), "cxproxy_consistency_violations_total", "type=\"no_fresh_replica\""),
            before + 3);
  // A session that has not written is served by a (frozen) replica as usual.
  Session fresh(proxy->dataPort());
  HttpResponse other = fresh.request("GET", "/v1/kv/os");
  EXPECT_EQ(other.status, 200) << describe(other);
  EXPECT_EQ(other.body, "old");

  frozen.release();
  HttpResponse caughtUp;
  EXPECT_TRUE(waitUntil(
      [&] {
        caughtUp = session.request("GET", "/v1/kv/os");
        return caughtUp.status == 200;
      },
      15s, 20ms));
  EXPECT_EQ(caughtUp.body, "new");
  EXPECT_EQ(caughtUp.header("x-served-role"), "replica");
}

}  // namespace
}  // namespace cx::testing
