// Following failover through a real cxproxy in sentinel mode (README "Failover"): a real
// primary, two replicas and three redis-sentinel processes; the tests drive a manual
// failover, a killed primary, a frozen primary and a write lost in a failover, and check
// what HTTP clients see: writes resume on the new primary, no 502 and no 200 from a dead
// or fenced node, eventual reads keep being served, and a session whose acknowledged
// write was lost is told so (409 session_history_lost) instead of being served without it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string nodeName(int port) { return "127.0.0.1:" + std::to_string(port); }
std::string kvPath(std::string_view key) { return "/v1/kv/" + std::string(key); }

double millisBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

std::string describe(const HttpResponse& r) {
  std::string out = "HTTP " + std::to_string(r.status);
  for (const auto& [k, v] : r.headers) out += "\n  " + k + ": " + v;
  out += "\n  body: " + r.body.substr(0, 400);
  return out;
}

// One session: sends back the latest token it was given.
class Session {
 public:
  explicit Session(int port) : http_(port, 10s) {}
  HttpResponse request(std::string_view method, std::string_view target, std::string_view body = {},
                       HttpHeaders headers = {}) {
    if (!token_.empty()) headers["X-Session-Token"] = token_;
    HttpResponse r = http_.request(method, target, body, headers);
    if (auto t = r.header("x-session-token"); !t.empty()) token_ = t;
    return r;
  }
  HttpResponse put(std::string_view key, std::string_view value, HttpHeaders headers = {}) {
    return request("PUT", kvPath(key), value, std::move(headers));
  }
  HttpResponse get(std::string_view key, HttpHeaders headers = {}) {
    return request("GET", kvPath(key), {}, std::move(headers));
  }
  const std::string& token() const { return token_; }
  void forget() { token_.clear(); }  // what an app does on a 409: continue without the token

 private:
  HttpClient http_;
  std::string token_;
};

class FailoverProxyTest : public ::testing::Test {
 protected:
  FailoverProxyTest() : cluster_(2), sentinels_(cluster_) {}

  void startProxy(const std::string& extraRedis = "") {
    proxy_ = std::make_unique<CxproxyProcess>([this, extraRedis](int dataPort, int adminPort) {
      std::string yaml = "listen:\n  data: 127.0.0.1:" + std::to_string(dataPort) +
                         "\n  admin: 127.0.0.1:" + std::to_string(adminPort) +
                         "\nredis:\n  sentinel:\n    master: " + sentinels_.master() + "\n    addresses: [";
      const auto addresses = sentinels_.addresses();
      for (std::size_t i = 0; i < addresses.size(); ++i) yaml += (i ? ", " : "") + addresses[i];
      yaml += "]\n" + extraRedis + "tracking:\n  interval: 20ms\n  down_after: 500ms\n";
      return yaml;
    });
  }

  // /v1/status's JSON once it satisfies `pred` (polled); empty on timeout.
  std::string waitStatus(const std::function<bool(const std::string&)>& pred, std::chrono::milliseconds timeout) {
    HttpClient admin(proxy_->adminPort(), 5s);
    std::string body;
    const bool ok = waitUntil(
        [&] {
          body = admin.get("/v1/status").body;
          return pred(body);
        },
        timeout, 10ms);
    return ok ? body : std::string();
  }

  // Every replica known to the proxy as a replica, the primary confirmed.
  void waitDiscovered() {
    const std::string primary = nodeName(cluster_.primaryPort());
    auto status = waitStatus(
        [&](const std::string& s) {
          std::size_t replicas = 0;
          for (std::size_t pos = 0; (pos = s.find("\"standing\":\"replica\"", pos)) != std::string::npos; ++pos) {
            ++replicas;
          }
          return s.find("\"name\":\"" + primary + "\",\"confirmed\":true") != std::string::npos && replicas == 2;
        },
        30s);
    ASSERT_FALSE(status.empty()) << "cxproxy did not discover the primary and both replicas";
  }

  // The first write acknowledged (204) at or after now, retrying; every answer before it
  // must be a 503 primary_unavailable with Retry-After (never a 502, never another 2xx).
  struct WriteWindow {
    Clock::time_point firstAck;
    HttpResponse ack;
    int refused = 0;
    int toldLost = 0;  // 409 session_history_lost: writes of this session were lost
  };
  WriteWindow writeUntilAcknowledged(Session& s, const std::string& key, std::chrono::milliseconds timeout) {
    WriteWindow w;
    const auto deadline = Clock::now() + timeout;
    int n = 0;
    while (Clock::now() < deadline) {
      HttpResponse r = s.put(key, "v" + std::to_string(++n));
      if (r.status == 204) {
        w.firstAck = Clock::now();
        w.ack = r;
        return w;
      }
      if (r.status == 409) {
        // The session's earlier acknowledged writes (taken by the old primary after the
        // promotion point) are not in the new history: it is told, and starts over.
        EXPECT_NE(r.body.find("session_history_lost"), std::string::npos) << describe(r);
        ++w.toldLost;
        s.forget();
        continue;
      }
      EXPECT_EQ(r.status, 503) << describe(r);
      if (r.status == 503) {
        EXPECT_NE(r.body.find("primary_unavailable"), std::string::npos) << describe(r);
        EXPECT_FALSE(r.header("retry-after").empty()) << describe(r);
      }
      ++w.refused;
      std::this_thread::sleep_for(2ms);
    }
    ADD_FAILURE() << "no write was acknowledged within " << timeout.count() << " ms";
    return w;
  }

  // "; +switch-master heard X ms before `ack`", from /v1/status (the proxy's steady clock
  // is the machine's monotonic clock, as ours).
  std::string switchMasterFigure(Clock::time_point ack) {
    // The leader names the promoted replica (get-master-addr-by-name) before it publishes
    // +switch-master: the write may be acknowledged first. Wait for it a little.
    HttpClient admin(proxy_->adminPort(), 5s);
    const std::string field = "\"last_switch_master_ms_ago\":";
    Clock::time_point askedAt;
    std::string body;
    std::size_t at = std::string::npos;
    waitUntil(
        [&] {
          askedAt = Clock::now();
          body = admin.get("/v1/status").body;
          at = body.find(field);
          return at != std::string::npos && body.compare(at + field.size(), 4, "null") != 0;
        },
        5s, 10ms);
    if (at == std::string::npos || body.compare(at + field.size(), 4, "null") == 0) return "; no +switch-master heard";
    const double ago = std::stod(body.substr(at + field.size()));
    const auto heardAt = askedAt - std::chrono::microseconds(static_cast<long long>(ago * 1000));
    return "; +switch-master heard by cxproxy " + std::to_string(millisBetween(heardAt, ack)) +
           " ms before that write was acknowledged (negative: after)";
  }

  RedisCluster cluster_;
  SentinelSet sentinels_;
  std::unique_ptr<CxproxyProcess> proxy_;
};

TEST_F(FailoverProxyTest, DiscoversTheNodesAndServesWritesAndSessionReads) {
  startProxy();
  waitDiscovered();
  Session s(proxy_->dataPort());
  HttpResponse put = s.put("fp:k", "hello");
  ASSERT_EQ(put.status, 204) << describe(put);
  EXPECT_EQ(put.header("x-served-by"), nodeName(cluster_.primaryPort()));
  HttpResponse get = s.get("fp:k");
  ASSERT_EQ(get.status, 200) << describe(get);
  EXPECT_EQ(get.body, "hello");
  HttpResponse eventual = s.get("fp:k", {{"X-Consistency", "eventual"}});
  EXPECT_EQ(eventual.status, 200) << describe(eventual);

  HttpClient admin(proxy_->adminPort());
  const std::string status = admin.get("/v1/status").body;
  EXPECT_NE(status.find("\"mode\":\"sentinel\""), std::string::npos) << status;
  for (const auto& address : sentinels_.addresses()) {
    EXPECT_NE(status.find("{\"address\":\"" + address + "\",\"up\":true"), std::string::npos) << status;
  }
  EXPECT_EQ(metricValue(proxy_->adminPort(), "cxproxy_sentinel_up",
                        std::vector<std::string>{"sentinel=\"" + sentinels_.addresses()[0] + "\""}),
            1);
}

TEST_F(FailoverProxyTest, ManualFailoverWritesResumeOnTheNewPrimary) {
  startProxy();
  waitDiscovered();
  const int oldPort = cluster_.primaryPort();
  Session s(proxy_->dataPort());
  ASSERT_EQ(s.put("fp:m", "before").status, 204);

  const auto faultAt = Clock::now();
  sentinels_.failover(0);
  // Writes until one lands on a node other than the old primary; the old primary may take
  // a few before it is demoted (those are acknowledged on a node still saying master).
  WriteWindow w;
  Clock::time_point movedAt;
  for (;;) {
    w = writeUntilAcknowledged(s, "fp:m", 30s);
    if (w.ack.status != 204) return;
    if (w.ack.header("x-served-by") != nodeName(oldPort)) break;
    ASSERT_LT(millisBetween(faultAt, Clock::now()), 30000) << "writes never moved off the old primary";
  }
  movedAt = w.firstAck;
  const int newPort = sentinels_.waitForNewPrimary(oldPort);
  EXPECT_EQ(w.ack.header("x-served-by"), nodeName(newPort));
  std::cout << "[ figures  ] SENTINEL FAILOVER: first write acknowledged on the new primary "
            << millisBetween(faultAt, movedAt) << " ms after the command; " << w.refused
            << " writes refused with 503 meanwhile, the session told its writes were lost " << w.toldLost << " time(s)"
            << switchMasterFigure(movedAt) << std::endl;
  EXPECT_GE(metricValue(proxy_->adminPort(), "cxproxy_primary_changes_total"), 1);
  HttpResponse get = s.get("fp:m");
  EXPECT_EQ(get.status, 200) << describe(get);
}

TEST_F(FailoverProxyTest, KilledPrimaryWritesGet503UntilTheNewPrimaryAndEventualReadsContinue) {
  startProxy();
  waitDiscovered();
  const int oldPort = cluster_.primaryPort();
  Session writer(proxy_->dataPort());
  ASSERT_EQ(writer.put("fp:kill", "before").status, 204);
  cluster_.waitSynced();

  std::atomic<bool> stop{false};
  std::atomic<int> eventualOk{0}, eventualOther{0};
  std::thread reader([&] {
    HttpClient c(proxy_->dataPort(), 10s);
    while (!stop) {
      HttpResponse r = c.get(kvPath("fp:kill"), {{"X-Consistency", "eventual"}});
      (r.status == 200 ? eventualOk : eventualOther)++;
      std::this_thread::sleep_for(5ms);
    }
  });

  const auto faultAt = Clock::now();
  cluster_.kill(0);
  WriteWindow w = writeUntilAcknowledged(writer, "fp:kill", 40s);
  stop = true;
  reader.join();
  ASSERT_EQ(w.ack.status, 204);
  EXPECT_NE(w.ack.header("x-served-by"), nodeName(oldPort)) << "a write acknowledged by a killed node";
  EXPECT_GT(w.refused, 0) << "no write was refused while the primary was dead: the test did not see the failover";
  EXPECT_GT(eventualOk.load(), 0);
  std::cout << "[ figures  ] primary SIGKILL: first write acknowledged " << millisBetween(faultAt, w.firstAck)
            << " ms after the kill (" << w.refused << " refused with 503)" << switchMasterFigure(w.firstAck)
            << "; eventual reads during it: " << eventualOk.load() << " served, " << eventualOther.load() << " not"
            << std::endl;
}

// The split-brain case: the primary is frozen past down-after, a replica is promoted, then
// the old primary resumes still saying master. cxproxy never sends it a write.
TEST_F(FailoverProxyTest, FrozenPrimaryComesBackAndGetsNoWrites) {
  startProxy();
  waitDiscovered();
  const int oldPort = cluster_.primaryPort();
  Session s(proxy_->dataPort());
  ASSERT_EQ(s.put("fp:frozen", "before").status, 204);
  cluster_.pause(0);
  const int newPort = sentinels_.waitForNewPrimary(oldPort);
  WriteWindow w = writeUntilAcknowledged(s, "fp:frozen", 30s);
  ASSERT_EQ(w.ack.status, 204);
  EXPECT_EQ(w.ack.header("x-served-by"), nodeName(newPort));
  cluster_.resume(0);
  // For a while the old primary still says master: every write goes elsewhere.
  const auto until = Clock::now() + 3s;
  int n = 0;
  while (Clock::now() < until) {
    HttpResponse r = s.put("fp:frozen", "after" + std::to_string(++n));
    if (r.status == 204) {
      EXPECT_NE(r.header("x-served-by"), nodeName(oldPort)) << "a write on the old, fenced primary";
    } else {
      EXPECT_EQ(r.status, 503) << describe(r);
    }
    HttpResponse g = s.get("fp:frozen");
    if (g.status == 200) {
      EXPECT_NE(g.header("x-served-by"), nodeName(oldPort)) << describe(g);
    }
    std::this_thread::sleep_for(10ms);
  }
}

// An acknowledged write that never reached a replica (they were detached from the
// primary for it), then the primary dies and a replica is promoted without it: the session that
// made the write is told on its next read (409 session_history_lost), never served a 200
// without its write.
TEST_F(FailoverProxyTest, SessionWhoseWriteWasLostInTheFailoverGets409) {
  startProxy();
  waitDiscovered();
  const int oldPort = cluster_.primaryPort();
  Session s(proxy_->dataPort());
  ASSERT_EQ(s.put("fp:lost", "kept").status, 204);
  cluster_.waitSynced();
  // The replicas are pointed at a port nobody listens on: they keep their data and their
  // history, but the next write reaches the primary alone. The primary dies with it, and
  // the replicas go back to naming it (as the Sentinels know them), so one is promoted
  // without the write.
  const int nowhere = freePort();
  for (std::size_t i : cluster_.replicaIndices()) cluster_.node(i).replicaOf(nowhere);
  HttpResponse lost = s.put("fp:lost", "lost");
  ASSERT_EQ(lost.status, 204) << describe(lost);
  cluster_.kill(0);
  for (std::size_t i : cluster_.replicaIndices()) cluster_.node(i).replicaOf(oldPort);
  const int newPort = sentinels_.waitForNewPrimary(oldPort);
  ASSERT_NE(newPort, oldPort);
  // Until cxproxy has confirmed the new primary the read may be refused (503); it must
  // never be a 200 without the write, and then a 409.
  HttpResponse r;
  ASSERT_TRUE(waitUntil(
      [&] {
        r = s.get("fp:lost");
        if (r.status == 200) {
          EXPECT_EQ(r.body, "lost") << "a session read without the session's own write";
        }
        return r.status == 409;
      },
      30s, 20ms))
      << describe(r);
  EXPECT_NE(r.body.find("session_history_lost"), std::string::npos) << describe(r);
  EXPECT_NE(r.body.find("lost in a failover"), std::string::npos) << describe(r);
  EXPECT_GE(metricValue(proxy_->adminPort(), "cxproxy_consistency_violations_total", "type=\"session_history_lost\""),
            1);
  // A new session (no token) is served by the new history.
  Session fresh(proxy_->dataPort());
  HttpResponse g = fresh.get("fp:lost");
  EXPECT_EQ(g.status, 200) << describe(g);
  EXPECT_EQ(g.body, "kept");
}

// The old primary dies, a replica is promoted, and the old primary comes back empty (a
// restarted pod without persistence), saying master until the Sentinels demote it. No
// write goes to it, and no session read is answered from its empty dataset.
TEST_F(FailoverProxyTest, OldPrimaryRestartedEmptyGetsNoWritesAndServesNoStaleSessionRead) {
  startProxy();
  waitDiscovered();
  const int oldPort = cluster_.primaryPort();
  Session s(proxy_->dataPort());
  ASSERT_EQ(s.put("fp:empty", "before").status, 204);
  cluster_.kill(0);
  const int newPort = sentinels_.waitForNewPrimary(oldPort);
  WriteWindow w = writeUntilAcknowledged(s, "fp:empty", 40s);
  ASSERT_EQ(w.ack.status, 204);
  EXPECT_EQ(w.ack.header("x-served-by"), nodeName(newPort));
  cluster_.restart(0);  // empty, and a master of its own history
  const auto until = Clock::now() + 5s;
  int n = 0, servedByOld = 0;
  // writeUntilAcknowledged wrote "v<k>": what the session reads now is its latest write.
  std::string latest = s.get("fp:empty").body;
  while (Clock::now() < until) {
    const std::string value = "after" + std::to_string(++n);
    HttpResponse r = s.put("fp:empty", value);
    if (r.status == 204) {
      EXPECT_NE(r.header("x-served-by"), nodeName(oldPort)) << "a write on the restarted, empty old primary";
      latest = value;
    } else {
      EXPECT_EQ(r.status, 503) << describe(r);
    }
    HttpResponse g = s.get("fp:empty");
    if (g.status != 503) {
      EXPECT_EQ(g.status, 200) << "a session read from an empty node? " << describe(g);
      EXPECT_EQ(g.body, latest) << describe(g);
    }
    if (g.header("x-served-by") == nodeName(oldPort)) ++servedByOld;
    std::this_thread::sleep_for(10ms);
  }
  std::cout << "[ figures  ] old primary restarted empty: " << n << " writes in 5 s, " << servedByOld
            << " session reads served by it (after it resynced as a replica)" << std::endl;
}

// Every Sentinel lost: cxproxy keeps the membership it last saw and keeps serving the
// confirmed primary (its ROLE still says master), and says the Sentinels are down.
TEST_F(FailoverProxyTest, EverySentinelLostKeepsServingTheConfirmedPrimary) {
  startProxy();
  waitDiscovered();
  for (std::size_t i = 0; i < sentinels_.size(); ++i) sentinels_.sentinel(i).kill();
  const std::string down =
      waitStatus([](const std::string& st) { return st.find("\"up\":true,\"subscribed\"") == std::string::npos; }, 30s);
  ASSERT_FALSE(down.empty()) << "the Sentinels were never reported down";
  Session s(proxy_->dataPort());
  for (int i = 0; i < 50; ++i) {
    HttpResponse put = s.put("fp:blind", "v" + std::to_string(i));
    ASSERT_EQ(put.status, 204) << describe(put);
    EXPECT_EQ(put.header("x-served-by"), nodeName(cluster_.primaryPort()));
    HttpResponse get = s.get("fp:blind");
    ASSERT_EQ(get.status, 200) << describe(get);
    EXPECT_EQ(get.body, "v" + std::to_string(i));
  }
  EXPECT_EQ(metricValue(proxy_->adminPort(), "cxproxy_sentinel_up",
                        std::vector<std::string>{"sentinel=\"" + sentinels_.addresses()[0] + "\""}),
            0);
}

// +switch-master never heard (every subscription is killed again and again through the
// failover): the periodic re-read of the Sentinels still moves writes to the new primary.
TEST_F(FailoverProxyTest, MissedSwitchMasterIsCaughtByThePeriodicReRead) {
  startProxy();
  waitDiscovered();
  const int oldPort = cluster_.primaryPort();
  std::atomic<bool> stop{false};
  std::thread killer([&] {
    while (!stop) {
      sentinels_.killSubscriptions();
      std::this_thread::sleep_for(20ms);
    }
  });
  sentinels_.failover(0);
  const int newPort = sentinels_.waitForNewPrimary(oldPort);
  Session s(proxy_->dataPort());
  HttpResponse last;
  const bool moved = waitUntil(
      [&] {
        last = s.put("fp:missed", "x");
        return last.status == 204 && last.header("x-served-by") == nodeName(newPort);
      },
      30s, 20ms);
  stop = true;
  killer.join();
  EXPECT_TRUE(moved) << describe(last);
}

}  // namespace
}  // namespace cx::testing
