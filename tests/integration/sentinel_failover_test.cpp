// Sentinel discovery and failover at the backends level: the tracker and its Sentinel
// client run in-process against a real primary, two replicas and three redis-sentinel
// processes. Each test drives a failover (or a Sentinel fault) and checks what the
// published topology snapshots say: who is primary (named by the Sentinels and saying
// master), who is fenced, which slots the nodes keep, what the lineage lets a session
// position carry over.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "backends/history.h"
#include "backends/tracker.h"
#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

using backends::Clock;
using backends::Standing;
using backends::Topology;
using namespace std::chrono_literals;

std::string nodeName(int port) { return "127.0.0.1:" + std::to_string(port); }

double millisBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

class SentinelFailoverTest : public ::testing::Test {
 protected:
  SentinelFailoverTest() : cluster_(2), sentinels_(cluster_) {}
  ~SentinelFailoverTest() override {
    if (tracker_) tracker_->stop();
  }

  void startTracker(std::function<void(backends::SentinelSettings&)> tweak = {}) {
    backends::TrackerOptions options;
    backends::SentinelSettings s;
    s.master = sentinels_.master();
    s.addresses = sentinels_.addresses();
    s.refreshInterval = 500ms;
    if (tweak) tweak(s);
    options.sentinel = s;
    options.interval = 50ms;
    options.downAfter = 1000ms;
    tracker_ = std::make_unique<backends::ReplicationTracker>(options, nullptr);
    tracker_->start();
  }

  // The first snapshot (polled every millisecond) that satisfies `pred`; null on timeout.
  std::shared_ptr<const Topology> waitFor(const std::function<bool(const Topology&)>& pred,
                                          std::chrono::milliseconds timeout = 30s) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto t = tracker_->snapshot();
      if (pred(*t)) return t;
      std::this_thread::sleep_for(1ms);
    }
    return nullptr;
  }

  static bool confirmedPrimaryIs(const Topology& t, const std::string& name) {
    return t.primaryConfirmed() && t.primary().name == name;
  }
  static bool confirmedPrimaryIsNot(const Topology& t, const std::string& name) {
    return t.primaryConfirmed() && t.primary().name != name;
  }

  // Discovery finished: the primary confirmed, both replicas tracked, every Sentinel up.
  std::shared_ptr<const Topology> waitDiscovered() {
    const std::string primary = nodeName(cluster_.primaryPort());
    return waitFor([&](const Topology& t) {
      if (!confirmedPrimaryIs(t, primary) || t.backends.size() != 3) return false;
      for (std::size_t i = 0; i < t.backends.size(); ++i) {
        if (i != t.primaryIndex && (t.backends[i].standing != Standing::Replica || !t.backends[i].tracked)) {
          return false;
        }
      }
      for (const auto& s : t.sentinels) {
        if (!s.up || !s.subscribed) return false;
      }
      return true;
    });
  }

  // What the failover took until the tracker confirmed the new primary, and where that
  // lies against the +switch-master the tracker's subscription heard (waited for here
  // when the confirmation came first: the leader names the promoted replica through
  // get-master-addr-by-name before it publishes +switch-master).
  void report(const char* what, const Topology& t, Clock::time_point faultAt, bool expectSwitch = true) {
    std::cout << "[ figures  ] " << what << ": new primary " << t.primary().name << " confirmed "
              << millisBetween(faultAt, t.primaryConfirmedAt) << " ms after the fault";
    if (expectSwitch) {
      auto heard = waitFor([](const Topology& x) { return x.lastSwitchMasterAt != Clock::time_point::max(); }, 10s);
      if (heard) {
        std::cout << "; +switch-master heard " << millisBetween(faultAt, heard->lastSwitchMasterAt)
                  << " ms after the fault; confirmed " << millisBetween(heard->lastSwitchMasterAt, t.primaryConfirmedAt)
                  << " ms after +switch-master (negative: before it)";
      } else {
        std::cout << "; no +switch-master heard";
      }
    }
    std::cout << std::endl;
  }

  RedisCluster cluster_;
  SentinelSet sentinels_;
  std::unique_ptr<backends::ReplicationTracker> tracker_;
};

TEST_F(SentinelFailoverTest, DiscoversThePrimaryAndReplicasNamedHostPort) {
  startTracker();
  auto t = waitDiscovered();
  ASSERT_TRUE(t) << "discovery did not finish";
  EXPECT_TRUE(t->sentinelMode);
  EXPECT_EQ(t->primary().name, nodeName(cluster_.primaryPort()));
  EXPECT_TRUE(t->primary().namedPrimary);
  for (std::size_t i : cluster_.replicaIndices()) {
    auto slot = t->indexOf(nodeName(cluster_.port(i)));
    ASSERT_TRUE(slot) << cluster_.name(i) << " not discovered";
    EXPECT_EQ(t->backends[*slot].standing, Standing::Replica);
    EXPECT_FALSE(t->backends[*slot].namedPrimary);
  }
  ASSERT_EQ(t->sentinels.size(), 3u);
  EXPECT_EQ(t->sentinels[0].address, sentinels_.sentinel(0).address());
  EXPECT_EQ(t->primaryChanges, 0u);
}

TEST_F(SentinelFailoverTest, ManualFailoverMovesThePrimaryAndKeepsEverySlot) {
  startTracker();
  auto before = waitDiscovered();
  ASSERT_TRUE(before);
  const std::string oldPrimary = before->primary().name;
  const std::string oldReplid = before->primary().replid;
  cluster_.node(0).command({"SET", "k", "before"});
  cluster_.waitSynced();

  const auto faultAt = Clock::now();
  sentinels_.failover(0);
  auto after = waitFor([&](const Topology& t) { return confirmedPrimaryIsNot(t, oldPrimary); });
  ASSERT_TRUE(after) << "no new primary confirmed";
  report("SENTINEL FAILOVER", *after, faultAt);
  EXPECT_EQ(after->backends.size(), 3u);
  for (std::size_t i = 0; i < before->backends.size(); ++i) {
    EXPECT_EQ(after->backends[i].name, before->backends[i].name) << "slot " << i << " changed hands";
    EXPECT_EQ(after->backends[i].slotGeneration, before->backends[i].slotGeneration);
  }
  EXPECT_EQ(after->primaryChanges, 1u);
  EXPECT_NE(after->primaryIndex, before->primaryIndex);

  // The new primary's history continues the old one: positions below its
  // second_repl_offset carry over, positions at or past it are lost.
  auto linked = waitFor(
      [&](const Topology& t) { return confirmedPrimaryIsNot(t, oldPrimary) && t.primary().replid2 == oldReplid; });
  ASSERT_TRUE(linked);
  const auto& p = linked->primary();
  ASSERT_GT(p.secondReplOffset, 1u);
  auto carried = backends::translatePosition(oldReplid, p.secondReplOffset - 1, p.replid, linked->lineage);
  EXPECT_EQ(carried.fate, backends::PositionFate::Carried);
  auto lost = backends::translatePosition(oldReplid, p.secondReplOffset, p.replid, linked->lineage);
  EXPECT_EQ(lost.fate, backends::PositionFate::Lost);

  // The Sentinels turn the old primary into a replica of the new one.
  auto demoted = waitFor([&](const Topology& t) {
    auto slot = t.indexOf(oldPrimary);
    return slot && t.backends[*slot].standing == Standing::Replica && confirmedPrimaryIsNot(t, oldPrimary);
  });
  EXPECT_TRUE(demoted) << "the old primary never became a replica";
}

TEST_F(SentinelFailoverTest, KilledPrimaryIsReplacedAndStaysAMemberWhileDown) {
  startTracker();
  auto before = waitDiscovered();
  ASSERT_TRUE(before);
  const std::string oldPrimary = before->primary().name;
  const auto faultAt = Clock::now();
  cluster_.kill(0);
  auto down = waitFor([&](const Topology& t) { return !t.primaryConfirmed(); }, 10s);
  ASSERT_TRUE(down) << "a killed primary stayed confirmed";
  EXPECT_EQ(down->primary().name, oldPrimary) << "nobody else is named before the Sentinels agree";
  auto after = waitFor([&](const Topology& t) { return confirmedPrimaryIsNot(t, oldPrimary); });
  ASSERT_TRUE(after) << "no new primary confirmed";
  report("primary SIGKILL", *after, faultAt);
  auto slot = after->indexOf(oldPrimary);
  ASSERT_TRUE(slot) << "the Sentinels still list the old primary (as a replica); so does the tracker";
  EXPECT_FALSE(after->backends[*slot].up);
  EXPECT_NE(after->backends[*slot].standing, Standing::Primary);
}

TEST_F(SentinelFailoverTest, FrozenPrimaryComesBackFencedWhileItStillSaysMaster) {
  startTracker();
  auto before = waitDiscovered();
  ASSERT_TRUE(before);
  const std::string oldPrimary = before->primary().name;
  const auto faultAt = Clock::now();
  cluster_.pause(0);
  auto after = waitFor([&](const Topology& t) { return confirmedPrimaryIsNot(t, oldPrimary); });
  ASSERT_TRUE(after) << "no new primary confirmed";
  report("primary SIGSTOP", *after, faultAt);
  const std::string newPrimary = after->primary().name;
  cluster_.resume(0);

  // Split brain: the old primary answers again and still says master. It is fenced, and
  // the primary stays the one the Sentinels name.
  auto fenced = waitFor([&](const Topology& t) {
    auto slot = t.indexOf(oldPrimary);
    return slot && t.backends[*slot].up && t.backends[*slot].role == backends::NodeRole::Primary;
  });
  ASSERT_TRUE(fenced) << "the old primary was never seen saying master";
  auto slot = *fenced->indexOf(oldPrimary);
  EXPECT_EQ(fenced->backends[slot].standing, Standing::Fenced);
  EXPECT_FALSE(fenced->backends[slot].tracked);
  EXPECT_TRUE(confirmedPrimaryIs(*fenced, newPrimary));
  EXPECT_EQ(cluster_.node(0).role(), "master") << "the old primary must still say master here";

  // Every snapshot until Sentinel demotes it keeps it fenced and the new one primary.
  auto demoted = waitFor([&](const Topology& t) {
    EXPECT_TRUE(confirmedPrimaryIs(t, newPrimary)) << "the primary moved during the split brain";
    const auto& b = t.backends[slot];
    if (b.up && b.role == backends::NodeRole::Primary) {
      EXPECT_EQ(b.standing, Standing::Fenced);
    }
    return b.standing == Standing::Replica;
  });
  EXPECT_TRUE(demoted) << "the old primary was never demoted";
}

TEST_F(SentinelFailoverTest, OneSentinelDownAndThenStaleDoesNotMisleadIt) {
  sentinels_.sentinel(0).kill();
  startTracker();
  const std::string oldPrimary = nodeName(cluster_.primaryPort());
  auto before = waitFor([&](const Topology& t) {
    return confirmedPrimaryIs(t, oldPrimary) && t.sentinels.size() == 3 && !t.sentinels[0].up && t.sentinels[1].up &&
           t.sentinels[2].up;
  });
  ASSERT_TRUE(before) << "discovery with one Sentinel down did not finish";
  const auto faultAt = Clock::now();
  sentinels_.failover(1);
  auto after = waitFor([&](const Topology& t) { return confirmedPrimaryIsNot(t, oldPrimary); });
  ASSERT_TRUE(after);
  report("SENTINEL FAILOVER, one Sentinel down", *after, faultAt);
  const std::string newPrimary = after->primary().name;

  // The Sentinel comes back with its old view (old primary, old epoch) until it hears
  // its peers: the tracker keeps following the higher epoch throughout.
  sentinels_.sentinel(0).restart();
  const auto epoch = after->configEpoch;
  auto backUp = waitFor([&](const Topology& t) {
    EXPECT_TRUE(!t.primaryConfirmed() || t.primary().name == newPrimary) << "followed a stale Sentinel";
    EXPECT_GE(t.configEpoch, epoch);
    return t.sentinels[0].up && t.sentinels[0].configEpoch >= epoch;
  });
  const auto last = tracker_->snapshot();
  EXPECT_TRUE(backUp) << "the restarted Sentinel never caught up: up=" << last->sentinels[0].up
                      << " config_epoch=" << last->sentinels[0].configEpoch << " (want >= " << epoch
                      << ") last_error=" << last->sentinels[0].lastError;
  EXPECT_TRUE(confirmedPrimaryIs(*tracker_->snapshot(), newPrimary));
}

TEST_F(SentinelFailoverTest, AllSentinelsDownKeepsTheLastMembership) {
  startTracker();
  auto before = waitDiscovered();
  ASSERT_TRUE(before);
  for (std::size_t i = 0; i < sentinels_.size(); ++i) sentinels_.sentinel(i).kill();
  auto blind = waitFor([&](const Topology& t) {
    for (const auto& s : t.sentinels) {
      if (s.up || s.subscribed) return false;
    }
    return true;
  });
  ASSERT_TRUE(blind) << "the Sentinels were never marked down";
  EXPECT_TRUE(confirmedPrimaryIs(*blind, before->primary().name));
  ASSERT_EQ(blind->backends.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(blind->backends[i].name, before->backends[i].name);
    EXPECT_TRUE(blind->backends[i].member);
  }
  // The data nodes are still polled: replicas stay tracked.
  auto tracked = waitFor([&](const Topology& t) {
    return t.generation > blind->generation + 10 && t.backends[(t.primaryIndex + 1) % 3].tracked;
  });
  EXPECT_TRUE(tracked);
}

TEST_F(SentinelFailoverTest, FailoverIsFollowedWithSubscriptionsKilledThroughout) {
  startTracker();
  auto before = waitDiscovered();
  ASSERT_TRUE(before);
  const std::string oldPrimary = before->primary().name;
  std::atomic<bool> stop{false};
  std::thread killer([&] {
    while (!stop) {
      sentinels_.killSubscriptions();
      std::this_thread::sleep_for(20ms);
    }
  });
  const auto faultAt = Clock::now();
  sentinels_.failover(0);
  auto after = waitFor([&](const Topology& t) { return confirmedPrimaryIsNot(t, oldPrimary); });
  stop = true;
  killer.join();
  ASSERT_TRUE(after) << "the failover was missed";
  report("SENTINEL FAILOVER, subscriptions killed every 20 ms", *after, faultAt, false);
}

TEST_F(SentinelFailoverTest, ThePeriodicReReadAloneFollowsAFailover) {
  startTracker([](backends::SentinelSettings& s) { s.subscribe = false; });
  const std::string oldPrimary = nodeName(cluster_.primaryPort());
  ASSERT_TRUE(waitFor([&](const Topology& t) { return confirmedPrimaryIs(t, oldPrimary); }));
  const auto faultAt = Clock::now();
  sentinels_.failover(0);
  auto after = waitFor([&](const Topology& t) { return confirmedPrimaryIsNot(t, oldPrimary); });
  ASSERT_TRUE(after) << "the re-read did not find the new primary";
  EXPECT_EQ(after->lastSwitchMasterAt, Clock::time_point::max()) << "no subscription, no event";
  report("SENTINEL FAILOVER, no subscription (re-read every 500 ms)", *after, faultAt, false);
}

}  // namespace
}  // namespace cx::testing
