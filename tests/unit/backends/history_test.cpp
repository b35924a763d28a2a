// Unit tests for replication lineage and position translation across promotions: which
// session positions recorded in an earlier history are still in the current one.
#include "backends/history.h"

#include <gtest/gtest.h>

#include <string>

namespace cx::backends {
namespace {

const std::string kA(40, 'a');
const std::string kB(40, 'b');
const std::string kC(40, 'c');
const std::string kZero(40, '0');

TEST(HistoryLineage, LearnsAPromotionFromReplid2AndSecondReplOffset) {
  HistoryLineage lineage;
  EXPECT_TRUE(lineage.learn(kB, kA, 1001));
  ASSERT_EQ(lineage.links().size(), 1u);
  EXPECT_EQ(lineage.links()[0], (HistoryLink{kB, kA, 1001}));
  EXPECT_FALSE(lineage.learn(kB, kA, 1001)) << "the same fact twice changes nothing";
}

TEST(HistoryLineage, ANodeWithoutAPreviousHistoryTeachesNothing) {
  HistoryLineage lineage;
  EXPECT_FALSE(lineage.learn(kA, kZero, 0));  // what a fresh primary reports (second_repl_offset -1)
  EXPECT_FALSE(lineage.learn(kA, "", 0));
  EXPECT_FALSE(lineage.learn(kA, kA, 10));
  EXPECT_TRUE(lineage.links().empty());
}

TEST(HistoryLineage, KeepsTheHighestBoundReportedForOneLink) {
  // The new primary reports promotion offset + 1; a replica that followed it by PSYNC
  // reports its own (lower) offset + 1. Both are true; the higher says more.
  HistoryLineage lineage;
  lineage.learn(kB, kA, 601);
  EXPECT_TRUE(lineage.learn(kB, kA, 1001));
  EXPECT_FALSE(lineage.learn(kB, kA, 601));
  ASSERT_EQ(lineage.links().size(), 1u);
  EXPECT_EQ(lineage.links()[0].previousValidBelow, 1001u);
}

TEST(HistoryLineage, ForgetsTheOldestLinkBeyondItsCapacity) {
  HistoryLineage lineage(2);
  lineage.learn(kB, kA, 10);
  lineage.learn(kC, kB, 20);
  lineage.learn(std::string(40, 'd'), kC, 30);
  ASSERT_EQ(lineage.links().size(), 2u);
  EXPECT_EQ(lineage.links()[0].replid, kC);
}

TEST(TranslatePosition, SameHistoryIsCurrent) {
  auto t = translatePosition(kA, 500, kA, {});
  EXPECT_EQ(t.fate, PositionFate::Current);
  EXPECT_EQ(t.offset, 500u);
  EXPECT_TRUE(t.valid());
}

TEST(TranslatePosition, BelowThePromotionPointCarriesOverAtTheSameOffset) {
  const HistoryLink links[] = {{kB, kA, 1001}};
  auto t = translatePosition(kA, 1000, kB, links);
  EXPECT_EQ(t.fate, PositionFate::Carried);
  EXPECT_EQ(t.offset, 1000u);
  EXPECT_TRUE(t.valid());
}

TEST(TranslatePosition, AtOrBeyondThePromotionPointIsLost) {
  // second_repl_offset is the first byte the new primary does not hold: a position equal
  // to it includes that byte.
  const HistoryLink links[] = {{kB, kA, 1001}};
  auto at = translatePosition(kA, 1001, kB, links);
  EXPECT_EQ(at.fate, PositionFate::Lost);
  EXPECT_EQ(at.lostFrom, 1001u);
  EXPECT_FALSE(at.valid());
  EXPECT_EQ(translatePosition(kA, 5000, kB, links).fate, PositionFate::Lost);
}

TEST(TranslatePosition, WalksSeveralPromotionsAndTheTightestPointBounds) {
  // A -> B at 1001, B -> C at 3001. A position of A must be below both.
  const HistoryLink links[] = {{kB, kA, 1001}, {kC, kB, 3001}};
  EXPECT_EQ(translatePosition(kA, 900, kC, links).fate, PositionFate::Carried);
  EXPECT_EQ(translatePosition(kA, 1001, kC, links).fate, PositionFate::Lost);
  EXPECT_EQ(translatePosition(kB, 2000, kC, links).fate, PositionFate::Carried);
  EXPECT_EQ(translatePosition(kB, 3001, kC, links).fate, PositionFate::Lost);
  // Not backwards: C's positions are not in B.
  EXPECT_EQ(translatePosition(kC, 10, kB, links).fate, PositionFate::Unrelated);
  // A bound that were looser further back is still capped by the tighter later one.
  const HistoryLink odd[] = {{kB, kA, 5000}, {kC, kB, 3001}};
  auto t = translatePosition(kA, 4000, kC, odd);
  EXPECT_EQ(t.fate, PositionFate::Lost);
  EXPECT_EQ(t.lostFrom, 3001u);
}

TEST(TranslatePosition, AHistoryTheLineageDoesNotReachIsUnrelated) {
  // A primary restarted empty (a new replid, no replid2), a replica resynced from
  // scratch, a token from another deployment: nothing links them.
  const HistoryLink links[] = {{kB, kA, 1001}};
  EXPECT_EQ(translatePosition(kC, 10, kB, links).fate, PositionFate::Unrelated);
  EXPECT_EQ(translatePosition(kA, 10, kC, links).fate, PositionFate::Unrelated);
  EXPECT_EQ(translatePosition("", 10, kB, links).fate, PositionFate::Unrelated);
  EXPECT_EQ(translatePosition(kA, 10, "", links).fate, PositionFate::Unrelated);
}

TEST(TranslatePosition, ACycleInTheLinksEndsTheWalk) {
  const HistoryLink links[] = {{kB, kC, 100}, {kC, kB, 100}};
  EXPECT_EQ(translatePosition(kA, 10, kB, links).fate, PositionFate::Unrelated);
}

}  // namespace
}  // namespace cx::backends
