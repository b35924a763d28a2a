// Unit tests for the router: where each read and write goes given a hand-built topology
// snapshot, this worker's in-flight counts and a time (README "Consistency levels"); the level chosen from
// a rule and the client's header; and session tokens merged into one requirement.
#include "routing/router.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/unit/support/topology_builders.h"

namespace cx::routing {
namespace {

using backends::BackendStatus;
using backends::NodeRole;
using backends::Topology;
using std::chrono::milliseconds;
using testing::departed;
using testing::down;
using testing::kNow;
using testing::kReplidA;
using testing::policy;
using testing::primary;
using testing::read;
using testing::replica;
using testing::sentinelTopology;
using testing::topology;
using testing::untracked;
using namespace std::string_view_literals;

const std::string kReplidB = "425e65b2c5b86a93fd6257fc168f2372d3b54633";
const std::string kReplidC = "1ba8de85f9624209846659953414409cab16cd24";

RouteDecision routeAt(const RouteRequest& r, const Topology& t, std::vector<std::uint32_t> waiting = {},
                      std::vector<bool> batchOpen = {}) {
  std::vector<BackendLoad> loads(waiting.size());
  for (std::size_t i = 0; i < waiting.size(); ++i) loads[i].waiting = waiting[i];
  for (std::size_t i = 0; i < batchOpen.size() && i < loads.size(); ++i) loads[i].batchOpen = batchOpen[i];
  return route(r, t, loads, kNow);
}

// ---------------------------------------------------------------------------------------
// Writes and strong reads

TEST(Route, WritesGoToThePrimaryWhateverTheLevel) {
  Topology t = topology({primary(), replica("r1", 1000), replica("r2", 1000)});
  for (Level level : {Level::Strong, Level::Bounded, Level::Session, Level::Prefix, Level::Eventual}) {
    RouteRequest r = read(level);
    r.isWrite = true;
    RouteDecision d = routeAt(r, t);
    EXPECT_EQ(d.kind, RouteKind::Primary) << toString(level);
    EXPECT_EQ(d.backend, 0u);
    EXPECT_EQ(d.stalenessBound, milliseconds{0});
    EXPECT_TRUE(d.fallbackReason.empty());
  }
}

TEST(Route, WritesGoToThePrimaryEvenWhenTheSnapshotSaysItIsDown) {
  // The connection judges the primary, not a possibly stale snapshot.
  Topology t = topology({primary(1000, /*up=*/false), replica("r1", 1000)});
  RouteRequest r = read(Level::Eventual);
  r.isWrite = true;
  EXPECT_EQ(routeAt(r, t).kind, RouteKind::Primary);
}

TEST(Route, StrongReadGoesToThePrimaryEvenWithFreshReplicas) {
  Topology t = topology({primary(), replica("r1", 1000, milliseconds{0})});
  RouteDecision d = routeAt(read(Level::Strong), t, {100, 0});
  EXPECT_EQ(d.kind, RouteKind::Primary);
  EXPECT_EQ(d.stalenessBound, milliseconds{0});
  EXPECT_TRUE(d.fallbackReason.empty());
}

// ---------------------------------------------------------------------------------------
// Eventual

TEST(Route, EventualReadGoesToTheLeastLoadedReplica) {
  Topology t = topology({primary(), replica("r1", 990), replica("r2", 900), replica("r3", 1000)});
  RouteDecision d = routeAt(read(Level::Eventual), t, {0, 3, 1, 2});
  EXPECT_EQ(d.kind, RouteKind::Replica);
  EXPECT_EQ(d.backend, 2u);
}

TEST(Route, EqualLoadPrefersTheReplicaWithTheHighestOffset) {
  Topology t = topology({primary(), replica("r1", 900), replica("r2", 990), replica("r3", 950)});
  RouteDecision d = routeAt(read(Level::Eventual), t, {5, 2, 2, 2});
  EXPECT_EQ(d.kind, RouteKind::Replica);
  EXPECT_EQ(d.backend, 2u);
}

TEST(Route, EqualLoadPrefersAReplicaWithAWriteForming) {
  // r2 has the highest offset, but r3 has a write about to leave: the read joins it.
  Topology t = topology({primary(), replica("r1", 900), replica("r2", 990), replica("r3", 950)});
  RouteDecision d = routeAt(read(Level::Eventual), t, {0, 2, 2, 2}, {false, false, false, true});
  EXPECT_EQ(d.backend, 3u);
  // A forming write does not outweigh fewer calls waiting.
  d = routeAt(read(Level::Eventual), t, {0, 1, 2, 2}, {false, false, false, true});
  EXPECT_EQ(d.backend, 1u);
  // Nor does it make a replica qualify: a session read skips one behind its position.
  RouteRequest r = read(Level::Session);
  r.sessionOffset = 960;
  d = routeAt(r, t, {0, 2, 2, 2}, {false, false, false, true});
  EXPECT_EQ(d.backend, 2u);
}

TEST(Route, AFullTieGoesToTheFirstReplicaFromTheRotation) {
  Topology t = topology({primary(), replica("r1", 900), replica("r2", 900), replica("r3", 900)});
  for (std::size_t rotation = 0; rotation < 6; ++rotation) {
    RouteDecision d = route(read(Level::Eventual), t, {}, kNow, {rotation});
    EXPECT_EQ(d.backend, 1 + rotation % 3) << rotation;
  }
  // Not a tie: the rotation changes nothing.
  t.backends[2].offset = 950;
  for (std::size_t rotation = 0; rotation < 3; ++rotation) {
    EXPECT_EQ(route(read(Level::Eventual), t, {}, kNow, {rotation}).backend, 2u);
  }
}

RouteDecision routeSticky(const RouteRequest& r, const Topology& t, std::size_t first, std::uint32_t stickiness,
                          std::vector<std::uint32_t> waiting) {
  std::vector<BackendLoad> loads(waiting.size());
  for (std::size_t i = 0; i < waiting.size(); ++i) loads[i].waiting = waiting[i];
  return route(r, t, loads, kNow, {first, stickiness});
}

TEST(Route, AStickyWorkerKeepsToItsReplicaWithinTheSlack) {
  // Replica number 1 (r2) is this worker's own. Neither a higher offset elsewhere nor a
  // few more calls waiting on it moves the read.
  Topology t = topology({primary(), replica("r1", 990), replica("r2", 900), replica("r3", 950)});
  EXPECT_EQ(routeSticky(read(Level::Eventual), t, 1, 8, {0, 0, 0, 0}).backend, 2u);
  EXPECT_EQ(routeSticky(read(Level::Eventual), t, 1, 8, {0, 0, 8, 0}).backend, 2u);
  EXPECT_EQ(routeSticky(read(Level::Eventual), t, 1, 8, {0, 3, 11, 5}).backend, 2u);
  // Stickiness 0 is least loaded, as without it.
  EXPECT_EQ(routeSticky(read(Level::Eventual), t, 1, 0, {0, 3, 4, 5}).backend, 1u);
}

TEST(Route, AStickyWorkerSpillsToTheLeastLoadedBeyondTheSlack) {
  Topology t = topology({primary(), replica("r1", 900), replica("r2", 900), replica("r3", 900)});
  // Its order is r2, r3, r1. r2 has 9 more waiting than r3 (slack 8): r3. The next one
  // in the order takes the read unless a later one is clear of the slack below it too.
  EXPECT_EQ(routeSticky(read(Level::Eventual), t, 1, 8, {0, 5, 9, 0}).backend, 3u);
  EXPECT_EQ(routeSticky(read(Level::Eventual), t, 1, 8, {0, 1, 20, 4}).backend, 3u);
  EXPECT_EQ(routeSticky(read(Level::Eventual), t, 1, 8, {0, 1, 20, 12}).backend, 1u);
}

TEST(Route, AStickyWorkersReplicaMustStillQualify) {
  // Its own replica is behind the session's position: another that has applied it serves.
  Topology t = topology({primary(), replica("r1", 990), replica("r2", 900)});
  RouteRequest r = read(Level::Session);
  r.sessionOffset = 950;
  EXPECT_EQ(routeSticky(r, t, 1, 64, {0, 40, 0}).backend, 1u);
  t.backends[2] = down(t.backends[2]);
  EXPECT_EQ(routeSticky(read(Level::Eventual), t, 1, 64, {0, 40, 0}).backend, 1u);
}

TEST(Route, AStallingStickyReplicaLosesItsHold) {
  // The worker's order is r2, r1. r2's oldest call has waited 50 ms: it is stalling, and
  // r1 takes the read although it has more calls waiting.
  Topology t = topology({primary(), replica("r1", 900), replica("r2", 900)});
  std::vector<BackendLoad> loads(3);
  loads[1].waiting = 10;
  loads[1].waitingSince = kNow - milliseconds{1};
  loads[2].waiting = 3;
  loads[2].waitingSince = kNow - milliseconds{50};
  EXPECT_EQ(route(read(Level::Eventual), t, loads, kNow, {1, 64}).backend, 1u);
  // 5 ms is not a stall (the default limit is 10 ms): r2 keeps it.
  loads[2].waitingSince = kNow - milliseconds{5};
  EXPECT_EQ(route(read(Level::Eventual), t, loads, kNow, {1, 64}).backend, 2u);
  // Both stalling: the slack decides again.
  loads[1].waitingSince = kNow - milliseconds{50};
  loads[2].waitingSince = kNow - milliseconds{50};
  EXPECT_EQ(route(read(Level::Eventual), t, loads, kNow, {1, 64}).backend, 2u);
  // Stickiness 0 is least loaded, stalls or not (a stalled queue only grows).
  loads[1].waitingSince = kNow - milliseconds{1};
  EXPECT_EQ(route(read(Level::Eventual), t, loads, kNow, {1, 0}).backend, 2u);
}

TEST(Route, MissingInFlightCountsCountAsIdle) {
  Topology t = topology({primary(), replica("r1", 900), replica("r2", 990)});
  EXPECT_EQ(routeAt(read(Level::Eventual), t, {}).backend, 2u);
  // r1 busy, r2 beyond the span: r2 counts as idle.
  EXPECT_EQ(routeAt(read(Level::Eventual), t, {0, 4}).backend, 2u);
}

TEST(Route, EventualReadMayUseAnUntrackedReplicaButCannotBoundIt) {
  Topology t = topology({primary(), untracked(replica("r1", 500))});
  t.backends[1].linkUp = false;
  RouteDecision d = routeAt(read(Level::Eventual), t);
  EXPECT_EQ(d.kind, RouteKind::Replica);
  EXPECT_EQ(d.backend, 1u);
  EXPECT_EQ(d.stalenessBound, std::nullopt);
}

TEST(Route, EventualReadFromTrackedReplicaCarriesItsBound) {
  Topology t = topology({primary(), replica("r1", 1000, milliseconds{40})});
  EXPECT_EQ(routeAt(read(Level::Eventual), t).stalenessBound, milliseconds{40});
}

TEST(Route, EventualReadSkipsALoadingReplica) {
  // A loading replica answers ROLE (so the tracker sees it up) but refuses every read
  // with -LOADING: it is not a healthy replica.
  BackendStatus loading = untracked(replica("r1", 1000));
  loading.loading = true;
  loading.resyncing = true;
  Topology t = topology({primary(), loading, replica("r2", 400)});
  RouteDecision d = routeAt(read(Level::Eventual), t, {0, 0, 9});
  EXPECT_EQ(d.kind, RouteKind::Replica);
  EXPECT_EQ(d.backend, 2u);
  t.backends.pop_back();
  d = routeAt(read(Level::Eventual), t);
  EXPECT_EQ(d.kind, RouteKind::Primary);
  EXPECT_EQ(d.fallbackReason, "no_healthy_replica"sv);
}

TEST(Route, EventualReadSkipsDownReplicasAndNodesThatAreNoLongerReplicas) {
  BackendStatus promoted = replica("r2", 1000);
  promoted.role = NodeRole::Primary;  // split brain: a replica that was promoted
  Topology t = topology({primary(), down(replica("r1", 1000)), promoted, replica("r3", 100)});
  RouteDecision d = routeAt(read(Level::Eventual), t, {0, 0, 0, 50});
  EXPECT_EQ(d.kind, RouteKind::Replica);
  EXPECT_EQ(d.backend, 3u);
}

TEST(Route, EventualReadFallsBackToThePrimaryWhenNoReplicaIsUp) {
  Topology t = topology({primary(), down(replica("r1", 1000)), down(replica("r2", 1000))});
  RouteDecision d = routeAt(read(Level::Eventual), t);
  EXPECT_EQ(d.kind, RouteKind::Primary);
  EXPECT_EQ(d.stalenessBound, milliseconds{0});
  EXPECT_EQ(d.fallbackReason, "no_healthy_replica"sv);
}

TEST(Route, EventualReadIgnoresOnStale) {
  Topology t = topology({primary(), down(replica("r1", 1000))});
  for (OnStale onStale : {OnStale::Wait, OnStale::Error}) {
    RouteRequest r = read(Level::Eventual);
    r.onStale = onStale;
    RouteDecision d = routeAt(r, t);
    EXPECT_EQ(d.kind, RouteKind::Primary) << toString(onStale);
    EXPECT_EQ(d.fallbackReason, "no_healthy_replica"sv);
  }
}

TEST(Route, EventualReadIsServedByAReplicaWhileThePrimaryIsDown) {
  BackendStatus r1 = replica("r1", 1000);
  r1.linkUp = false;
  Topology t = topology({primary(1000, /*up=*/false), r1});
  RouteDecision d = routeAt(read(Level::Eventual), t);
  EXPECT_EQ(d.kind, RouteKind::Replica);
  EXPECT_EQ(d.backend, 1u);
}

// ---------------------------------------------------------------------------------------
// Prefix

TEST(Route, PrefixReadNeedsATrackedReplica) {
  Topology t = topology({primary(), untracked(replica("r1", 1000)), replica("r2", 500)});
  RouteDecision d = routeAt(read(Level::Prefix), t, {0, 0, 10});
  EXPECT_EQ(d.kind, RouteKind::Replica);
  EXPECT_EQ(d.backend, 2u);
  EXPECT_EQ(d.stalenessBound, milliseconds{100});
}

TEST(Route, PrefixReadWithOnlyUntrackedReplicasGoesToThePrimary) {
  Topology t = topology({primary(), untracked(replica("r1", 1000))});
  RouteDecision d = routeAt(read(Level::Prefix), t);
  EXPECT_EQ(d.kind, RouteKind::Primary);
  EXPECT_EQ(d.stalenessBound, milliseconds{0});
  EXPECT_EQ(d.fallbackReason, "no_fresh_replica"sv);
}

// ---------------------------------------------------------------------------------------
// Session

TEST(Route, SessionReadGoesToAReplicaThatAppliedTheSessionPosition) {
  Topology t = topology({primary(), replica("r1", 900), replica("r2", 950)});
  RouteRequest r = read(Level::Session);
  r.sessionOffset = 950;
  // r1 is idle but behind the session; r2 is busy but has the position.
  RouteDecision d = routeAt(r, t, {0, 0, 7});
  EXPECT_EQ(d.kind, RouteKind::Replica);
  EXPECT_EQ(d.backend, 2u);
}

TEST(Route, SessionPositionEqualToReplicaOffsetQualifies) {
  Topology t = topology({primary(), replica("r1", 900)});
  RouteRequest r = read(Level::Session);
  r.sessionOffset = 900;
  EXPECT_TRUE(qualifies(r, t, 1, kNow));
  r.sessionOffset = 901;
  EXPECT_FALSE(qualifies(r, t, 1, kNow));
}

TEST(Route, SessionReadWithEveryReplicaLaggingGoesToThePrimary) {
  Topology t = topology({primary(), replica("r1", 900), replica("r2", 950)});
  RouteRequest r = read(Level::Session);
  r.sessionOffset = 990;
  RouteDecision d = routeAt(r, t);
  EXPECT_EQ(d.kind, RouteKind::Primary);
  EXPECT_EQ(d.fallbackReason, "no_fresh_replica"sv);
}

TEST(Route, SessionReadNeedsATrackedReplicaEvenIfItsOffsetIsHighEnough) {
  Topology t = topology({primary(), untracked(replica("r1", 1000))});
  RouteRequest r = read(Level::Session);
  r.sessionOffset = 10;
  EXPECT_FALSE(qualifies(r, t, 1, kNow));
}

// ---------------------------------------------------------------------------------------
// Bounded

TEST(Route, BoundedReadNeedsStalenessWithinTheMaximum) {
  Topology t = topology({primary(), replica("r1", 1000, milliseconds{300})});
  RouteRequest r = read(Level::Bounded);
  r.maxStaleness = milliseconds{300};
  RouteDecision d = routeAt(r, t);
  EXPECT_EQ(d.kind, RouteKind::Replica);
  EXPECT_EQ(d.stalenessBound, milliseconds{300});
  r.maxStaleness = milliseconds{299};
  d = routeAt(r, t);
  EXPECT_EQ(d.kind, RouteKind::Primary);
  EXPECT_EQ(d.fallbackReason, "no_fresh_replica"sv);
}

TEST(Route, BoundedReadComparesTheRoundedUpBound) {
  // 299.5 ms stale is bounded by 300 ms, which is over a 299 ms maximum.
  Topology t = topology({primary(), replica("r1", 1000)});
  t.backends[1].freshAsOf = kNow - std::chrono::microseconds{299'500};
  RouteRequest r = read(Level::Bounded);
  r.maxStaleness = milliseconds{299};
  EXPECT_FALSE(qualifies(r, t, 1, kNow));
  r.maxStaleness = milliseconds{300};
  EXPECT_TRUE(qualifies(r, t, 1, kNow));
}

TEST(Route, BoundedReadPicksAmongFreshReplicasByLoad) {
  Topology t = topology({primary(), replica("r1", 1000, milliseconds{900}), replica("r2", 990, milliseconds{50}),
                         replica("r3", 995, milliseconds{60})});
  RouteRequest r = read(Level::Bounded);
  r.maxStaleness = milliseconds{100};
  RouteDecision d = routeAt(r, t, {0, 0, 3, 1});
  EXPECT_EQ(d.kind, RouteKind::Replica);
  EXPECT_EQ(d.backend, 3u);
  EXPECT_EQ(d.stalenessBound, milliseconds{60});
}

TEST(Route, BoundedReadRejectsUntrackedReplicaEvenWithARecentFreshness) {
  Topology t = topology({primary(), replica("r1", 1000, milliseconds{1})});
  t.backends[1].tracked = false;  // freshAsOf left in place
  RouteRequest r = read(Level::Bounded);
  EXPECT_FALSE(qualifies(r, t, 1, kNow));
}

TEST(Route, BoundedReadBoundGrowsWithTime) {
  Topology t = topology({primary(), replica("r1", 1000, milliseconds{100})});
  RouteRequest r = read(Level::Bounded);
  r.maxStaleness = milliseconds{500};
  EXPECT_TRUE(qualifies(r, t, 1, kNow));
  EXPECT_TRUE(qualifies(r, t, 1, kNow + milliseconds{400}));
  EXPECT_FALSE(qualifies(r, t, 1, kNow + milliseconds{401}));
}

// ---------------------------------------------------------------------------------------
// on_stale and an unreachable primary

TEST(Route, OnStaleWaitAsksTheCallerToWait) {
  Topology t = topology({primary(), replica("r1", 900)});
  RouteRequest r = read(Level::Session);
  r.sessionOffset = 1000;
  r.onStale = OnStale::Wait;
  RouteDecision d = routeAt(r, t);
  EXPECT_EQ(d.kind, RouteKind::Wait);
  EXPECT_EQ(d.fallbackReason, "no_fresh_replica"sv);
}

TEST(Route, OnStaleErrorRefusesTheRead) {
  Topology t = topology({primary(), replica("r1", 900)});
  RouteRequest r = read(Level::Session);
  r.sessionOffset = 1000;
  r.onStale = OnStale::Error;
  EXPECT_EQ(routeAt(r, t).kind, RouteKind::NoFreshReplica);
}

TEST(Route, OnStalePrimaryServesFromThePrimary) {
  Topology t = topology({primary(), replica("r1", 900)});
  RouteRequest r = read(Level::Session);
  r.sessionOffset = 1000;
  r.onStale = OnStale::Primary;
  RouteDecision d = routeAt(r, t);
  EXPECT_EQ(d.kind, RouteKind::Primary);
  EXPECT_EQ(d.stalenessBound, milliseconds{0});
}

TEST(Route, NoQualifyingReplicaAndPrimaryDownIsPrimaryUnavailable) {
  Topology t = topology({primary(1000, /*up=*/false), replica("r1", 900)});
  RouteRequest r = read(Level::Session);
  r.sessionOffset = 1000;
  EXPECT_EQ(routeAt(r, t).kind, RouteKind::PrimaryUnavailable);
  EXPECT_EQ(routeAt(read(Level::Prefix), topology({primary(1000, false), down(replica("r1", 1))})).kind,
            RouteKind::PrimaryUnavailable);
  EXPECT_EQ(routeAt(read(Level::Eventual), topology({primary(1000, false), down(replica("r1", 1))})).kind,
            RouteKind::PrimaryUnavailable);
}

TEST(Route, QualifyingReplicaServesWhileThePrimaryIsDown) {
  BackendStatus r1 = replica("r1", 1000);
  r1.linkUp = false;  // every link is down with the primary; the tracker keeps it tracked
  Topology t = topology({primary(1000, /*up=*/false), r1});
  RouteRequest r = read(Level::Session);
  r.sessionOffset = 1000;
  RouteDecision d = routeAt(r, t);
  EXPECT_EQ(d.kind, RouteKind::Replica);
  EXPECT_EQ(d.backend, 1u);
}

TEST(Route, PrimaryDownWithoutReplicasConfiguredStillTriesThePrimary) {
  // Nothing else could serve: let the connection find out.
  Topology t = topology({primary(1000, /*up=*/false)});
  for (Level level : {Level::Bounded, Level::Session, Level::Prefix, Level::Eventual}) {
    EXPECT_EQ(routeAt(read(level), t).kind, RouteKind::Primary) << toString(level);
  }
}

TEST(Route, OnStaleErrorWinsOverAnUnreachablePrimary) {
  Topology t = topology({primary(1000, /*up=*/false), replica("r1", 900)});
  RouteRequest r = read(Level::Session);
  r.sessionOffset = 1000;
  r.onStale = OnStale::Error;
  EXPECT_EQ(routeAt(r, t).kind, RouteKind::NoFreshReplica);
}

TEST(Route, PrimaryAlwaysQualifiesAndStrongNeverUsesAReplica) {
  Topology t = topology({primary(1000, /*up=*/false), replica("r1", 1000, milliseconds{0})});
  for (Level level : {Level::Strong, Level::Bounded, Level::Session, Level::Prefix, Level::Eventual}) {
    RouteRequest r = read(level);
    r.sessionOffset = 5000;
    EXPECT_TRUE(qualifies(r, t, 0, kNow)) << toString(level);
  }
  EXPECT_FALSE(qualifies(read(Level::Strong), t, 1, kNow));
}

// ---------------------------------------------------------------------------------------
// chooseLevel

TEST(ChooseLevel, WithoutAHeaderTheRuleDecides) {
  for (Override o : {Override::Any, Override::Stronger, Override::None}) {
    LevelChoice c = chooseLevel(policy(Level::Prefix, o), std::nullopt);
    EXPECT_EQ(c.level, Level::Prefix);
    EXPECT_FALSE(c.headerOverridden);
  }
}

TEST(ChooseLevel, OverrideAnyTakesTheHeaderEitherWay) {
  LevelChoice weaker = chooseLevel(policy(Level::Session, Override::Any), Level::Eventual);
  EXPECT_EQ(weaker.level, Level::Eventual);
  EXPECT_FALSE(weaker.headerOverridden);
  LevelChoice stronger = chooseLevel(policy(Level::Session, Override::Any), Level::Strong);
  EXPECT_EQ(stronger.level, Level::Strong);
  EXPECT_FALSE(stronger.headerOverridden);
}

TEST(ChooseLevel, OverrideStrongerTakesOnlyAStrongerOrEqualHeader) {
  const Policy p = policy(Level::Session, Override::Stronger);
  EXPECT_EQ(chooseLevel(p, Level::Strong).level, Level::Strong);
  EXPECT_EQ(chooseLevel(p, Level::Bounded).level, Level::Bounded);
  LevelChoice same = chooseLevel(p, Level::Session);
  EXPECT_EQ(same.level, Level::Session);
  EXPECT_FALSE(same.headerOverridden);
  for (Level weaker : {Level::Prefix, Level::Eventual}) {
    LevelChoice c = chooseLevel(p, weaker);
    EXPECT_EQ(c.level, Level::Session) << toString(weaker);
    EXPECT_TRUE(c.headerOverridden) << toString(weaker);
  }
}

TEST(ChooseLevel, OverrideNoneIgnoresTheHeaderAndSaysSo) {
  const Policy p = policy(Level::Bounded, Override::None);
  for (Level other : {Level::Strong, Level::Session, Level::Eventual}) {
    LevelChoice c = chooseLevel(p, other);
    EXPECT_EQ(c.level, Level::Bounded) << toString(other);
    EXPECT_TRUE(c.headerOverridden) << toString(other);
  }
  LevelChoice same = chooseLevel(p, Level::Bounded);
  EXPECT_EQ(same.level, Level::Bounded);
  EXPECT_FALSE(same.headerOverridden);
}

// ---------------------------------------------------------------------------------------
// mergeTokens

session::SessionToken token(const std::string& replid, std::uint64_t write, std::uint64_t read) {
  session::SessionToken t;
  t.keyId = "k1";
  t.replid = replid;
  t.writeOffset = write;
  t.readOffset = read;
  return t;
}

// kReplidB promoted after applying 137 bytes of kReplidA's history: Redis then reports
// second_repl_offset:138 (the first byte it did not receive, see shiftReplicationId()).
BackendStatus promotedPrimary(std::uint64_t offset = 1000) {
  BackendStatus p = primary(offset);
  p.replid = kReplidB;
  p.replid2 = kReplidA;
  p.secondReplOffset = 138;
  return p;
}

using Status = SessionRequirement::Status;

TEST(MergeTokens, NoTokensRequireNothing) {
  SessionRequirement req = mergeTokens({}, primary());
  EXPECT_EQ(req.status, Status::Ok);
  EXPECT_EQ(req.required(), 0u);
}

TEST(MergeTokens, SameHistoryTakesTheHighestPositions) {
  std::vector<session::SessionToken> tokens{token(kReplidA, 100, 300), token(kReplidA, 500, 200)};
  SessionRequirement req = mergeTokens(tokens, primary(1000));
  EXPECT_EQ(req.status, Status::Ok);
  EXPECT_EQ(req.writeOffset, 500u);
  EXPECT_EQ(req.readOffset, 300u);
  EXPECT_EQ(req.required(), 500u);
}

TEST(MergeTokens, PositionAtThePrimaryOffsetIsFine) {
  std::vector<session::SessionToken> tokens{token(kReplidA, 1000, 0)};
  EXPECT_EQ(mergeTokens(tokens, primary(1000)).status, Status::Ok);
}

TEST(MergeTokens, PositionBeyondThePrimaryOffsetNeedsConfirmation) {
  std::vector<session::SessionToken> tokens{token(kReplidA, 200, 1001)};
  SessionRequirement req = mergeTokens(tokens, primary(1000));
  EXPECT_EQ(req.status, Status::BeyondPrimary);
  EXPECT_EQ(req.required(), 1001u);
}

TEST(MergeTokens, PreviousHistoryCarriesOverUpToThePromotionPoint) {
  std::vector<session::SessionToken> tokens{token(kReplidA, 137, 120), token(kReplidB, 150, 0)};
  SessionRequirement req = mergeTokens(tokens, promotedPrimary());
  EXPECT_EQ(req.status, Status::Ok);
  EXPECT_EQ(req.writeOffset, 150u);
  EXPECT_EQ(req.readOffset, 120u);
}

TEST(MergeTokens, PreviousHistoryBeyondThePromotionPointIsLost) {
  std::vector<session::SessionToken> beyond{token(kReplidA, 139, 0)};
  EXPECT_EQ(mergeTokens(beyond, promotedPrimary()).status, Status::HistoryLost);
  std::vector<session::SessionToken> readBeyond{token(kReplidA, 0, 500)};
  EXPECT_EQ(mergeTokens(readBeyond, promotedPrimary()).status, Status::HistoryLost);
}

TEST(MergeTokens, PositionEqualToSecondReplOffsetIsLost) {
  // second_repl_offset is one past the last byte the new primary holds of the old
  // history: a position there includes a byte that never reached it.
  std::vector<session::SessionToken> tokens{token(kReplidA, 138, 0)};
  EXPECT_EQ(mergeTokens(tokens, promotedPrimary()).status, Status::HistoryLost);
}

TEST(MergeTokens, UnknownHistoryIsLost) {
  std::vector<session::SessionToken> tokens{token(kReplidA, 10, 10), token(kReplidC, 1, 1)};
  EXPECT_EQ(mergeTokens(tokens, primary()).status, Status::HistoryLost);
  std::vector<session::SessionToken> twoBack{token(kReplidC, 1, 1)};
  EXPECT_EQ(mergeTokens(twoBack, promotedPrimary()).status, Status::HistoryLost);
}

TEST(MergeTokens, HistoryLostWinsOverBeyondPrimary) {
  std::vector<session::SessionToken> tokens{token(kReplidA, 5000, 0), token(kReplidC, 1, 1)};
  EXPECT_EQ(mergeTokens(tokens, primary(1000)).status, Status::HistoryLost);
}

TEST(MergeTokens, WithoutPrimaryStateTokensCannotBeJudged) {
  BackendStatus unknown;
  std::vector<session::SessionToken> tokens{token(kReplidA, 10, 10)};
  EXPECT_EQ(mergeTokens(tokens, unknown).status, Status::NoPrimaryState);
}

TEST(MergeTokens, LineageCarriesAPositionAcrossTwoPromotions) {
  // A -> B at 138, then B -> C at 600: a position of A below 138 is valid in C; one of B
  // below 600 too; one of A at 138 or beyond is lost.
  BackendStatus p = primary(1000);
  p.replid = kReplidC;
  p.replid2 = kReplidB;
  p.secondReplOffset = 600;
  std::vector<backends::HistoryLink> lineage{{kReplidB, kReplidA, 138}};
  std::vector<session::SessionToken> carried{token(kReplidA, 137, 0), token(kReplidB, 599, 0)};
  SessionRequirement req = mergeTokens(carried, p, lineage);
  EXPECT_EQ(req.status, Status::Ok);
  EXPECT_EQ(req.writeOffset, 599u);
  std::vector<session::SessionToken> lost{token(kReplidA, 138, 0)};
  EXPECT_EQ(mergeTokens(lost, p, lineage).status, Status::HistoryLost);
  // Without the lineage the oldest history cannot be vouched for.
  EXPECT_EQ(mergeTokens(std::vector<session::SessionToken>{token(kReplidA, 10, 0)}, p).status, Status::HistoryLost);
}

// ---------------------------------------------------------------------------------------
// Sentinel mode: the primary is the slot the Sentinels name, confirmed by its own ROLE

BackendStatus named(std::string name, BackendStatus b) {
  b.name = std::move(name);
  b.configuredPrimary = false;
  return b;
}

TEST(SentinelRoute, WritesGoToTheNamedSlotWhereverItIs) {
  Topology t = sentinelTopology({replica("a", 1000), replica("b", 1000), named("c", primary())}, 2);
  RouteRequest w = read(Level::Session);
  w.isWrite = true;
  RouteDecision d = routeAt(w, t);
  EXPECT_EQ(d.kind, RouteKind::Primary);
  EXPECT_EQ(d.backend, 2u);
  RouteDecision strong = routeAt(read(Level::Strong), t);
  EXPECT_EQ(strong.kind, RouteKind::Primary);
  EXPECT_EQ(strong.backend, 2u);
  // Replica reads never land on the primary slot, from any starting point.
  for (std::size_t first = 0; first < 5; ++first) {
    RouteDecision r = route(read(Level::Eventual), t, {}, kNow, {first, 0});
    EXPECT_EQ(r.kind, RouteKind::Replica);
    EXPECT_NE(r.backend, 2u);
  }
}

TEST(SentinelRoute, UnconfirmedPrimaryTakesNoWritesButReplicasServeWeakerReads) {
  // Named but still saying slave (being promoted), or down: not confirmed.
  BackendStatus pending = named("c", replica("c", 900));
  Topology t = sentinelTopology({replica("a", 1000), down(named("old", primary())), pending}, 2);
  ASSERT_FALSE(t.primaryConfirmed());
  RouteRequest w = read(Level::Session);
  w.isWrite = true;
  EXPECT_EQ(routeAt(w, t).kind, RouteKind::PrimaryUnavailable);
  EXPECT_EQ(routeAt(read(Level::Strong), t).kind, RouteKind::PrimaryUnavailable);
  RouteDecision eventual = routeAt(read(Level::Eventual), t);
  EXPECT_EQ(eventual.kind, RouteKind::Replica);
  EXPECT_EQ(eventual.backend, 0u);
  // A session read no replica qualifies for cannot fall back to the primary.
  EXPECT_EQ(routeAt(read(Level::Session, milliseconds{1000}, 5000), t).kind, RouteKind::PrimaryUnavailable);
}

TEST(SentinelRoute, FencedAndDepartedNodesServeNothing) {
  // "old" still says master but the Sentinels name "c": fenced. "gone" left.
  Topology t =
      sentinelTopology({named("old", primary(2000)), departed(replica("gone", 1000)), named("c", primary(1000))}, 2);
  ASSERT_EQ(t.backends[0].standing, backends::Standing::Fenced);
  ASSERT_EQ(t.backends[1].standing, backends::Standing::Departed);
  for (Level level : {Level::Eventual, Level::Prefix, Level::Session, Level::Bounded}) {
    RouteDecision d = routeAt(read(level), t);
    EXPECT_EQ(d.kind, RouteKind::Primary) << toString(level);
    EXPECT_EQ(d.backend, 2u) << toString(level);
    EXPECT_FALSE(qualifies(read(level), t, 0, kNow)) << toString(level);
    EXPECT_FALSE(qualifies(read(level), t, 1, kNow)) << toString(level);
  }
  EXPECT_FALSE(relaxForLoad(read(Level::Strong), Level::Eventual, t, kNow));
}

TEST(SentinelRoute, EmptyTopologyBeforeDiscovery) {
  Topology t = sentinelTopology({}, Topology::kNoPrimary);
  RouteRequest w = read(Level::Session);
  w.isWrite = true;
  EXPECT_EQ(routeAt(w, t).kind, RouteKind::PrimaryUnavailable);
  for (Level level : {Level::Strong, Level::Eventual, Level::Prefix, Level::Session, Level::Bounded}) {
    EXPECT_EQ(routeAt(read(level), t).kind, RouteKind::PrimaryUnavailable) << toString(level);
  }
  EXPECT_FALSE(relaxForLoad(read(Level::Strong), Level::Eventual, t, kNow));
  // Replicas known, no primary named yet: weaker reads are served.
  Topology noPrimary = sentinelTopology({replica("a", 1000)}, Topology::kNoPrimary);
  EXPECT_EQ(routeAt(read(Level::Eventual), noPrimary).kind, RouteKind::Replica);
  EXPECT_EQ(routeAt(w, noPrimary).kind, RouteKind::PrimaryUnavailable);
}

}  // namespace
}  // namespace cx::routing
