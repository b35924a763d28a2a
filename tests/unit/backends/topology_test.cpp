// Unit tests for the staleness arithmetic: OffsetHistory (primary offset samples keyed by
// poll send time) and Topology::stalenessBound. Time is a parameter: every time point is
// a fixed base plus a duration, so nothing here reads a real clock.
#include "backends/topology.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>

namespace cx::backends {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

const Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours{1};

Clock::time_point at(milliseconds offset) { return kT0 + offset; }

// ---------------------------------------------------------------------------------------
// OffsetHistory

TEST(OffsetHistory, EmptyHistoryCannotVouchForAnyOffset) {
  OffsetHistory history;
  EXPECT_TRUE(history.empty());
  EXPECT_EQ(history.freshAsOf(0), std::nullopt);
  EXPECT_EQ(history.freshAsOf(1'000'000), std::nullopt);
}

TEST(OffsetHistory, ReplicaAtASampledOffsetIsFreshAsOfThatSample) {
  OffsetHistory history;
  history.record(at(milliseconds{0}), 100);
  history.record(at(milliseconds{50}), 200);
  history.record(at(milliseconds{100}), 300);
  // Exactly equal to a sample qualifies (>=, not >).
  EXPECT_EQ(history.freshAsOf(100), at(milliseconds{0}));
  EXPECT_EQ(history.freshAsOf(200), at(milliseconds{50}));
  EXPECT_EQ(history.freshAsOf(300), at(milliseconds{100}));
}

// The audit's observed staleness: when the primary first moved past what a replica held.
TEST(OffsetHistory, FirstBeyondIsTheEarliestSampleAboveTheOffset) {
  OffsetHistory history;
  EXPECT_EQ(history.firstBeyond(0), std::nullopt);
  history.record(at(milliseconds{0}), 100);
  history.record(at(milliseconds{50}), 200);
  history.record(at(milliseconds{100}), 300);
  EXPECT_EQ(history.firstBeyond(99), at(milliseconds{0}));
  EXPECT_EQ(history.firstBeyond(100), at(milliseconds{50}));  // equal is not beyond
  EXPECT_EQ(history.firstBeyond(250), at(milliseconds{100}));
  EXPECT_EQ(history.firstBeyond(300), std::nullopt);  // caught up with every sample
  // An idle primary's repeated offset collapses into one sample: freshAsOf moves on with
  // it, firstBeyond keeps the first poll that saw it.
  history.record(at(milliseconds{150}), 300);
  history.record(at(milliseconds{200}), 300);
  EXPECT_EQ(history.freshAsOf(300), at(milliseconds{200}));
  EXPECT_EQ(history.firstBeyond(250), at(milliseconds{100}));
}

TEST(OffsetHistory, ReplicaBetweenSamplesIsFreshAsOfTheLatestSampleItCovers) {
  OffsetHistory history;
  history.record(at(milliseconds{0}), 100);
  history.record(at(milliseconds{50}), 200);
  history.record(at(milliseconds{100}), 300);
  EXPECT_EQ(history.freshAsOf(199), at(milliseconds{0}));
  EXPECT_EQ(history.freshAsOf(201), at(milliseconds{50}));
  EXPECT_EQ(history.freshAsOf(299), at(milliseconds{50}));
  // Ahead of every sample (the primary moved after its last poll): the newest sample.
  EXPECT_EQ(history.freshAsOf(10'000), at(milliseconds{100}));
}

TEST(OffsetHistory, ReplicaBehindEverySampleHasNoFreshness) {
  OffsetHistory history;
  history.record(at(milliseconds{0}), 100);
  history.record(at(milliseconds{50}), 200);
  EXPECT_EQ(history.freshAsOf(99), std::nullopt);
  EXPECT_EQ(history.freshAsOf(0), std::nullopt);
}

TEST(OffsetHistory, IdlePrimaryKeepsAdvancingFreshnessOfCaughtUpReplica) {
  OffsetHistory history;
  history.record(at(milliseconds{0}), 500);                                      // the last write
  for (int i = 1; i <= 200; ++i) history.record(at(milliseconds{50 * i}), 500);  // 10 s idle
  EXPECT_EQ(history.freshAsOf(500), at(milliseconds{10'000}));
}

TEST(OffsetHistory, IdleSamplesDoNotEvictOlderDistinctOffsets) {
  // Runs of equal offsets collapse into their latest sample, so a long idle period
  // cannot push the history of earlier offsets out of a bounded buffer.
  OffsetHistory history(2);
  history.record(at(milliseconds{0}), 50);
  history.record(at(milliseconds{10}), 100);
  history.record(at(milliseconds{20}), 100);
  history.record(at(milliseconds{30}), 100);
  EXPECT_EQ(history.freshAsOf(60), at(milliseconds{0}));
  EXPECT_EQ(history.freshAsOf(100), at(milliseconds{30}));
}

TEST(OffsetHistory, DecreasingOffsetStartsANewHistory) {
  OffsetHistory history;
  history.record(at(milliseconds{0}), 100);
  history.record(at(milliseconds{50}), 200);
  history.record(at(milliseconds{100}), 50);  // a different primary, a different history
  // Offsets of the old history no longer vouch for anything.
  EXPECT_EQ(history.freshAsOf(49), std::nullopt);
  EXPECT_EQ(history.freshAsOf(50), at(milliseconds{100}));
  EXPECT_EQ(history.freshAsOf(150), at(milliseconds{100}));
  EXPECT_EQ(history.freshAsOf(250), at(milliseconds{100}));
  EXPECT_FALSE(history.empty());
}

TEST(OffsetHistory, SampleSentEarlierThanTheLastIsIgnored) {
  OffsetHistory history;
  history.record(at(milliseconds{100}), 100);
  history.record(at(milliseconds{50}), 200);  // out of order: must not be recorded
  EXPECT_EQ(history.freshAsOf(200), at(milliseconds{100}));
  EXPECT_EQ(history.freshAsOf(100), at(milliseconds{100}));
}

TEST(OffsetHistory, OutOfOrderSampleWithLowerOffsetDoesNotResetHistory) {
  OffsetHistory history;
  history.record(at(milliseconds{0}), 100);
  history.record(at(milliseconds{100}), 200);
  history.record(at(milliseconds{50}), 10);  // late reply of an old poll: ignore
  EXPECT_EQ(history.freshAsOf(150), at(milliseconds{0}));
  EXPECT_EQ(history.freshAsOf(10), std::nullopt);
}

TEST(OffsetHistory, OutOfOrderSampleWithEqualOffsetDoesNotMoveTimeBackwards) {
  OffsetHistory history;
  history.record(at(milliseconds{100}), 100);
  history.record(at(milliseconds{50}), 100);
  EXPECT_EQ(history.freshAsOf(100), at(milliseconds{100}));
}

TEST(OffsetHistory, OldestSamplesAreEvictedBeyondCapacity) {
  OffsetHistory history(3);
  history.record(at(milliseconds{0}), 100);
  history.record(at(milliseconds{10}), 200);
  history.record(at(milliseconds{20}), 300);
  EXPECT_EQ(history.freshAsOf(150), at(milliseconds{0}));
  history.record(at(milliseconds{30}), 400);
  // The 100 sample is gone: a replica at 150 can no longer be vouched for.
  EXPECT_EQ(history.freshAsOf(150), std::nullopt);
  EXPECT_EQ(history.freshAsOf(250), at(milliseconds{10}));
  EXPECT_EQ(history.freshAsOf(400), at(milliseconds{30}));
}

TEST(OffsetHistory, ClearForgetsEverySample) {
  OffsetHistory history;
  history.record(at(milliseconds{0}), 100);
  ASSERT_FALSE(history.empty());
  history.clear();
  EXPECT_TRUE(history.empty());
  EXPECT_EQ(history.freshAsOf(100), std::nullopt);
}

// ---------------------------------------------------------------------------------------
// Topology::stalenessBound

BackendStatus primaryStatus() {
  BackendStatus b;
  b.name = "primary";
  b.configuredPrimary = true;
  b.up = true;
  b.role = NodeRole::Primary;
  return b;
}

BackendStatus replicaStatus(std::optional<Clock::time_point> freshAsOf, bool tracked = true) {
  BackendStatus b;
  b.name = "replica";
  b.up = true;
  b.role = NodeRole::Replica;
  b.linkUp = true;
  b.tracked = tracked;
  b.freshAsOf = freshAsOf;
  return b;
}

Topology topologyWith(BackendStatus replica) {
  Topology t;
  t.backends.push_back(primaryStatus());
  t.backends.push_back(std::move(replica));
  return t;
}

TEST(StalenessBound, PrimaryIsNeverStale) {
  Topology t = topologyWith(replicaStatus(at(milliseconds{0})));
  EXPECT_EQ(t.stalenessBound(0, at(seconds{60})), milliseconds{0});
}

TEST(StalenessBound, TrackedReplicaIsStaleByTimeSinceFreshAsOf) {
  Topology t = topologyWith(replicaStatus(at(milliseconds{1000})));
  EXPECT_EQ(t.stalenessBound(1, at(milliseconds{1250})), milliseconds{250});
  EXPECT_EQ(t.stalenessBound(1, at(milliseconds{1000})), milliseconds{0});
}

TEST(StalenessBound, PartialMillisecondRoundsUp) {
  Topology t = topologyWith(replicaStatus(at(milliseconds{1000})));
  EXPECT_EQ(t.stalenessBound(1, at(milliseconds{1250}) + nanoseconds{1}), milliseconds{251});
  EXPECT_EQ(t.stalenessBound(1, at(milliseconds{1000}) + nanoseconds{1}), milliseconds{1});
}

TEST(StalenessBound, FreshAsOfInTheFutureIsZeroNotNegative) {
  Topology t = topologyWith(replicaStatus(at(milliseconds{1000})));
  EXPECT_EQ(t.stalenessBound(1, at(milliseconds{900})), milliseconds{0});
}

TEST(StalenessBound, UntrackedReplicaHasNoBound) {
  Topology t = topologyWith(replicaStatus(at(milliseconds{1000}), /*tracked=*/false));
  EXPECT_EQ(t.stalenessBound(1, at(milliseconds{1250})), std::nullopt);
}

TEST(StalenessBound, TrackedReplicaWithoutFreshnessHasNoBound) {
  Topology t = topologyWith(replicaStatus(std::nullopt));
  EXPECT_EQ(t.stalenessBound(1, at(milliseconds{1250})), std::nullopt);
}

TEST(StalenessBound, IdlePrimaryDoesNotMakeCaughtUpReplicaLookStale) {
  // The last write was 10 s ago; the primary has been polled every 50 ms since.
  OffsetHistory history;
  for (int i = 0; i <= 200; ++i) history.record(at(milliseconds{50 * i}), 4242);
  Topology t = topologyWith(replicaStatus(history.freshAsOf(4242)));
  EXPECT_EQ(t.stalenessBound(1, at(milliseconds{10'030})), milliseconds{30});
}

TEST(StalenessBound, LaggingReplicaBoundGrowsFromTheSampleItCovers) {
  OffsetHistory history;
  history.record(at(milliseconds{0}), 100);
  history.record(at(milliseconds{50}), 200);
  history.record(at(milliseconds{100}), 300);
  Topology t = topologyWith(replicaStatus(history.freshAsOf(250)));
  EXPECT_EQ(t.stalenessBound(1, at(milliseconds{120})), milliseconds{70});
  EXPECT_EQ(t.stalenessBound(1, at(milliseconds{1050})), milliseconds{1000});
}

}  // namespace
}  // namespace cx::backends

namespace cx::backends {
namespace {

BackendStatus node(bool up, NodeRole role, bool member = true) {
  BackendStatus s;
  s.up = up;
  s.role = role;
  s.member = member;
  return s;
}

TEST(Standing, OnlyTheNamedNodeSayingMasterIsThePrimary) {
  EXPECT_EQ(standingOf(node(true, NodeRole::Primary), true), Standing::Primary);
  // Named but not (yet) saying master, or down: a failover is under way, no writes.
  EXPECT_EQ(standingOf(node(true, NodeRole::Replica), true), Standing::PrimaryPending);
  EXPECT_EQ(standingOf(node(false, NodeRole::Primary), true), Standing::PrimaryPending);
}

TEST(Standing, ANodeSayingMasterWithoutBeingNamedIsFenced) {
  EXPECT_EQ(standingOf(node(true, NodeRole::Primary), false), Standing::Fenced);
  // Down, it is not fenced (it answers nothing), nor a replica.
  EXPECT_EQ(standingOf(node(false, NodeRole::Primary), false), Standing::Unknown);
}

TEST(Standing, ReplicasAndDepartedNodes) {
  EXPECT_EQ(standingOf(node(true, NodeRole::Replica), false), Standing::Replica);
  EXPECT_EQ(standingOf(node(false, NodeRole::Unknown), false), Standing::Unknown);
  EXPECT_EQ(standingOf(node(true, NodeRole::Primary, false), true), Standing::Departed);
}

TEST(TopologySlots, NoPrimaryBeforeDiscoveryIsAPlaceholderNotACrash) {
  Topology t;
  t.primaryIndex = Topology::kNoPrimary;
  EXPECT_FALSE(t.hasPrimary());
  EXPECT_FALSE(t.primaryConfirmed());
  EXPECT_FALSE(t.primary().up);
  EXPECT_TRUE(t.primary().replid.empty());
  BackendStatus a = node(true, NodeRole::Primary);
  a.name = "10.0.0.1:6379";
  a.standing = Standing::Primary;
  t.backends.push_back(a);
  t.primaryIndex = 0;
  EXPECT_TRUE(t.primaryConfirmed());
  EXPECT_EQ(t.indexOf("10.0.0.1:6379"), 0u);
  EXPECT_EQ(t.indexOf("10.0.0.2:6379"), std::nullopt);
}

}  // namespace
}  // namespace cx::backends
