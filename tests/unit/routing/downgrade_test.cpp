// Unit tests for load-driven downgrading (README "Rules"): relaxForLoad over every (level,
// floor) pair against hand-built topology snapshots — never below the floor, never for
// writes, the strongest level a replica can serve, nullopt when none can — and
// chooseLevel's override modes (any / stronger / none) over every pair of levels.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "routing/router.h"
#include "tests/unit/support/topology_builders.h"

namespace cx::routing {
namespace {

using backends::BackendStatus;
using backends::Topology;
using std::chrono::milliseconds;
using testing::down;
using testing::kNow;
using testing::loading;
using testing::policy;
using testing::primary;
using testing::read;
using testing::replica;
using testing::topology;

constexpr Level kLevels[] = {Level::Strong, Level::Bounded, Level::Session, Level::Prefix, Level::Eventual};

// Answers and serves reads, but is not tracked (e.g. its link is down while the primary
// is up): only good for eventual reads.
BackendStatus untracked(BackendStatus b) {
  b = testing::untracked(std::move(b));
  b.linkUp = false;
  return b;
}

std::string name(std::optional<Level> level) { return level ? std::string(toString(*level)) : std::string("none"); }

// The expected answer, from the levels some replica of the scenario can serve (written
// out by hand per scenario below): the first level strictly weaker than `level` and not
// weaker than `floor` in that set, in the relaxation order strong → … → eventual.
std::optional<Level> expected(Level level, Level floor, const std::set<Level>& servable) {
  for (Level l : kLevels) {
    if (!isStronger(level, l)) continue;  // only weaker than requested
    if (isStronger(floor, l)) break;      // never below the floor
    if (servable.contains(l)) return l;
  }
  return std::nullopt;
}

struct Scenario {
  std::string description;
  Topology topology;
  RouteRequest request;      // level is replaced per pair
  std::set<Level> servable;  // levels some replica can serve, by hand
};

std::vector<Scenario> scenarios() {
  std::vector<Scenario> out;
  out.push_back({"two fresh tracked replicas",
                 topology({primary(), replica("r1", 1000, milliseconds{50}), replica("r2", 990, milliseconds{80})}),
                 read(Level::Strong),
                 {Level::Bounded, Level::Session, Level::Prefix, Level::Eventual}});
  out.push_back({"tracked replica staler than max_staleness",
                 topology({primary(), replica("r1", 900, milliseconds{5000})}),
                 read(Level::Strong, milliseconds{1000}),
                 {Level::Session, Level::Prefix, Level::Eventual}});
  out.push_back({"tracked replica exactly at max_staleness",
                 topology({primary(), replica("r1", 900, milliseconds{250})}),
                 read(Level::Strong, milliseconds{250}),
                 {Level::Bounded, Level::Session, Level::Prefix, Level::Eventual}});
  out.push_back({"tracked replica behind the session position",
                 topology({primary(), replica("r1", 900, milliseconds{5000})}),
                 read(Level::Strong, milliseconds{1000}, /*sessionOffset=*/950),
                 {Level::Prefix, Level::Eventual}});
  out.push_back(
      {"one replica fresh enough for bounded, another ahead for session",
       topology({primary(), replica("r1", 800, milliseconds{100}), untracked(replica("r2", 990, milliseconds{0}))}),
       read(Level::Strong, milliseconds{1000}, /*sessionOffset=*/900),
       // r1 is fresh enough for bounded but behind the session position; r2 is
       // ahead of it but untracked, so neither serves session; r1 serves prefix.
       {Level::Bounded, Level::Prefix, Level::Eventual}});
  out.push_back({"only an untracked replica",
                 topology({primary(), untracked(replica("r1", 1000, milliseconds{0}))}),
                 read(Level::Strong),
                 {Level::Eventual}});
  out.push_back(
      {"a loading replica and a down replica",
       topology({primary(), loading(replica("r1", 1000, milliseconds{0})), down(replica("r2", 1000, milliseconds{0}))}),
       read(Level::Strong),
       {}});
  out.push_back({"no replicas at all", topology({primary()}), read(Level::Strong), {}});
  return out;
}

// ---------------------------------------------------------------------------------------
// relaxForLoad

TEST(Downgrade, EveryLevelAndFloorPairInEveryScenario) {
  for (const Scenario& s : scenarios()) {
    for (Level level : kLevels) {
      for (Level floor : kLevels) {
        RouteRequest r = s.request;
        r.level = level;
        auto got = relaxForLoad(r, floor, s.topology, kNow);
        auto want = expected(level, floor, s.servable);
        EXPECT_EQ(got, want) << s.description << ": " << toString(level) << " with floor " << toString(floor)
                             << " gave " << name(got) << ", expected " << name(want);
      }
    }
  }
}

TEST(Downgrade, NeverBelowTheFloorAndAlwaysWeakerThanAsked) {
  for (const Scenario& s : scenarios()) {
    for (Level level : kLevels) {
      for (Level floor : kLevels) {
        RouteRequest r = s.request;
        r.level = level;
        auto got = relaxForLoad(r, floor, s.topology, kNow);
        if (!got) continue;
        EXPECT_FALSE(isStronger(floor, *got)) << s.description << ": " << toString(level) << " floor "
                                              << toString(floor) << " relaxed to " << toString(*got);
        EXPECT_TRUE(isStronger(level, *got))
            << s.description << ": " << toString(level) << " relaxed to " << toString(*got);
      }
    }
  }
}

TEST(Downgrade, TheRelaxedLevelRoutesToAReplica) {
  // What relaxForLoad promises is servable must be what route() then serves.
  for (const Scenario& s : scenarios()) {
    for (Level level : kLevels) {
      for (Level floor : kLevels) {
        RouteRequest r = s.request;
        r.level = level;
        auto got = relaxForLoad(r, floor, s.topology, kNow);
        if (!got) continue;
        r.level = *got;
        RouteDecision d = route(r, s.topology, {}, kNow);
        EXPECT_EQ(d.kind, RouteKind::Replica) << s.description << ": " << toString(level) << " → " << toString(*got);
        EXPECT_NE(d.backend, 0u);
      }
    }
  }
}

TEST(Downgrade, WritesAreNeverDowngraded) {
  for (const Scenario& s : scenarios()) {
    for (Level level : kLevels) {
      for (Level floor : kLevels) {
        RouteRequest r = s.request;
        r.level = level;
        r.isWrite = true;
        EXPECT_EQ(relaxForLoad(r, floor, s.topology, kNow), std::nullopt)
            << s.description << ": write at " << toString(level) << " floor " << toString(floor);
      }
    }
  }
}

TEST(Downgrade, FloorEqualToTheLevelMeansNoDowngrade) {
  Topology t = topology({primary(), replica("r1", 1000, milliseconds{10})});
  for (Level level : kLevels) {
    EXPECT_EQ(relaxForLoad(read(level), level, t, kNow), std::nullopt) << toString(level);
  }
}

TEST(Downgrade, StrongGoesOneLevelWeakerWhenAReplicaIsFresh) {
  Topology t = topology({primary(), replica("r1", 1000, milliseconds{10}), replica("r2", 1000, milliseconds{10})});
  EXPECT_EQ(relaxForLoad(read(Level::Strong), Level::Bounded, t, kNow), Level::Bounded);
  EXPECT_EQ(relaxForLoad(read(Level::Strong), Level::Eventual, t, kNow), Level::Bounded);
}

TEST(Downgrade, SkipsLevelsNoReplicaCanServeUpToTheFloor) {
  // Too stale for a 100 ms bound, but tracked: strong relaxes past bounded to session.
  Topology t = topology({primary(), replica("r1", 900, milliseconds{400})});
  EXPECT_EQ(relaxForLoad(read(Level::Strong, milliseconds{100}), Level::Prefix, t, kNow), Level::Session);
  EXPECT_EQ(relaxForLoad(read(Level::Strong, milliseconds{100}), Level::Bounded, t, kNow), std::nullopt);
  // The request's own max staleness decides bounded.
  EXPECT_EQ(relaxForLoad(read(Level::Strong, milliseconds{500}), Level::Bounded, t, kNow), Level::Bounded);
}

TEST(Downgrade, StalenessIsJudgedAtTheGivenTime) {
  Topology t = topology({primary(), replica("r1", 1000, milliseconds{100})});
  // At kNow the bound is 100 ms; two seconds later it is 2100 ms, past a 1 s limit.
  EXPECT_EQ(relaxForLoad(read(Level::Strong), Level::Bounded, t, kNow), Level::Bounded);
  EXPECT_EQ(relaxForLoad(read(Level::Strong), Level::Bounded, t, kNow + std::chrono::seconds{2}), std::nullopt);
}

TEST(Downgrade, NoReplicaCanServeEvenTheFloorGivesNullopt) {
  Topology t =
      topology({primary(), down(replica("r1", 1000, milliseconds{0})), loading(replica("r2", 1000, milliseconds{0}))});
  for (Level floor : kLevels) {
    EXPECT_EQ(relaxForLoad(read(Level::Strong), floor, t, kNow), std::nullopt) << toString(floor);
  }
}

// ---------------------------------------------------------------------------------------
// chooseLevel: the level from the rule's policy and the client's header

TEST(DowngradeChooseLevel, NoHeaderAlwaysGivesTheRulesLevel) {
  for (Override o : {Override::Any, Override::Stronger, Override::None}) {
    for (Level ruleLevel : kLevels) {
      LevelChoice c = chooseLevel(policy(ruleLevel, o), std::nullopt);
      EXPECT_EQ(c.level, ruleLevel);
      EXPECT_FALSE(c.headerOverridden);
    }
  }
}

TEST(DowngradeChooseLevel, OverrideAnyAlwaysTakesTheHeader) {
  for (Level ruleLevel : kLevels) {
    for (Level header : kLevels) {
      LevelChoice c = chooseLevel(policy(ruleLevel, Override::Any), header);
      EXPECT_EQ(c.level, header) << toString(ruleLevel) << " / " << toString(header);
      EXPECT_FALSE(c.headerOverridden);
    }
  }
}

TEST(DowngradeChooseLevel, OverrideStrongerTakesOnlyStrongerOrEqualHeaders) {
  for (Level ruleLevel : kLevels) {
    for (Level header : kLevels) {
      LevelChoice c = chooseLevel(policy(ruleLevel, Override::Stronger), header);
      const bool weaker = isStronger(ruleLevel, header);
      EXPECT_EQ(c.level, weaker ? ruleLevel : header) << toString(ruleLevel) << " / " << toString(header);
      EXPECT_EQ(c.headerOverridden, weaker) << toString(ruleLevel) << " / " << toString(header);
      EXPECT_FALSE(isStronger(ruleLevel, c.level)) << "never weaker than the rule";
    }
  }
}

TEST(DowngradeChooseLevel, OverrideNoneKeepsTheRuleAndFlagsAnyDifferentHeader) {
  for (Level ruleLevel : kLevels) {
    for (Level header : kLevels) {
      LevelChoice c = chooseLevel(policy(ruleLevel, Override::None), header);
      EXPECT_EQ(c.level, ruleLevel) << toString(ruleLevel) << " / " << toString(header);
      EXPECT_EQ(c.headerOverridden, header != ruleLevel) << toString(ruleLevel) << " / " << toString(header);
    }
  }
}

}  // namespace
}  // namespace cx::routing
