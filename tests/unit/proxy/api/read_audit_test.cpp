// The read audit's verdict (what two reads and their offsets prove), its value comparison,
// which reads it repeats and the in-flight cap.
#include "proxy/api/read_audit.h"

#include <gtest/gtest.h>

namespace cx::proxy {
namespace {

using backends::Clock;
using backends::RespType;
using backends::RespValue;
using std::chrono::milliseconds;

const Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours{1};

RespValue bulk(std::string text) {
  RespValue v;
  v.type = RespType::Bulk;
  v.str = std::move(text);
  return v;
}

// A replica that answered at offset 100 (ROLE before and after) while the primary, right
// after, was at `primaryAfter`.
ReplicaReadEvidence evidence(bool equal, std::uint64_t primaryAfter) {
  ReplicaReadEvidence e;
  e.sameHistory = true;
  e.replicaBefore = 100;
  e.replicaAfter = 100;
  e.primaryAfter = primaryAfter;
  e.valuesEqual = equal;
  e.replicaReadAt = kT0;
  e.primaryReadAt = kT0 + milliseconds{2};
  return e;
}

TEST(ReadAuditVerdict, EqualValuesMatchWithZeroStaleness) {
  for (std::uint64_t primary : {100u, 500u}) {
    const auto v = judgeReplicaRead(evidence(true, primary));
    EXPECT_EQ(v.result, AuditResult::Match);
    ASSERT_TRUE(v.staleness);
    EXPECT_EQ(*v.staleness, Clock::duration::zero());
  }
}

TEST(ReadAuditVerdict, DifferentValueAtThePrimarysPositionIsAMismatch) {
  auto v = judgeReplicaRead(evidence(false, 100));
  EXPECT_EQ(v.result, AuditResult::Mismatch);
  EXPECT_FALSE(v.staleness);
  // The offset before the replica's read is what proves it: one after it is not enough.
  auto e = evidence(false, 100);
  e.replicaBefore = 99;
  EXPECT_NE(judgeReplicaRead(e).result, AuditResult::Mismatch);
}

TEST(ReadAuditVerdict, ReplicaBehindIsStaleSinceThePrimaryFirstPassedIt) {
  auto e = evidence(false, 300);
  e.history.freshAsOf = kT0 - milliseconds{400};
  e.history.firstBeyond = kT0 - milliseconds{250};
  auto v = judgeReplicaRead(e);
  EXPECT_EQ(v.result, AuditResult::Stale);
  ASSERT_TRUE(v.staleness);
  EXPECT_EQ(*v.staleness, milliseconds{250});
  // Only a poll sent after the read saw the primary past it: the bound, an upper bound.
  e.history.firstBeyond = kT0 + milliseconds{5};
  v = judgeReplicaRead(e);
  ASSERT_TRUE(v.staleness);
  EXPECT_EQ(*v.staleness, milliseconds{400});
  // No poll saw the primary past it yet: only the bound is known.
  e.history.firstBeyond.reset();
  v = judgeReplicaRead(e);
  ASSERT_TRUE(v.staleness);
  EXPECT_EQ(*v.staleness, milliseconds{400});
  e.history.freshAsOf.reset();
  v = judgeReplicaRead(e);
  EXPECT_EQ(v.result, AuditResult::Stale);
  EXPECT_FALSE(v.staleness);
}

TEST(ReadAuditVerdict, AKeyThatExpiredBetweenTheReadsIsNotAMismatch) {
  auto e = evidence(false, 100);
  e.keyExpires = true;
  const auto v = judgeReplicaRead(e);
  EXPECT_EQ(v.result, AuditResult::Stale);
  ASSERT_TRUE(v.staleness);
  EXPECT_EQ(*v.staleness, milliseconds{2});
}

TEST(ReadAuditVerdict, OffsetsOfDifferentHistoriesProveNothing) {
  auto e = evidence(false, 100);
  e.sameHistory = false;
  EXPECT_EQ(judgeReplicaRead(e).result, AuditResult::Error);
}

TEST(ReadAuditValues, ComparesTypeAndContents) {
  EXPECT_TRUE(sameReply(bulk("a"), bulk("a")));
  EXPECT_FALSE(sameReply(bulk("a"), bulk("b")));
  EXPECT_FALSE(sameReply(bulk(""), RespValue{}));  // empty string is not nil
  EXPECT_TRUE(sameReply(RespValue{}, RespValue{}));
  RespValue one, two;
  one.type = two.type = RespType::Array;
  one.elements = {bulk("x"), bulk("y")};
  two.elements = {bulk("x"), bulk("z")};
  EXPECT_FALSE(sameReply(one, two));
  two.elements[1] = bulk("y");
  EXPECT_TRUE(sameReply(one, two));
}

TEST(ReadAuditScope, GetAndDeterministicReadCommandsOnly) {
  DataRequestSpec get;
  get.op = Op::Get;
  EXPECT_TRUE(auditableRead(get));
  DataRequestSpec cmd;
  cmd.op = Op::Cmd;
  cmd.key = "k";
  for (const char* name : {"HGET", "LRANGE", "ZSCORE"}) {
    cmd.commandName = name;
    EXPECT_TRUE(auditableRead(cmd)) << name;
  }
  for (const char* name : {"TTL", "PTTL", "SRANDMEMBER", "SMEMBERS", "HGETALL", "SCAN"}) {
    cmd.commandName = name;
    EXPECT_FALSE(auditableRead(cmd)) << name;
  }
  DataRequestSpec put;
  put.op = Op::Put;
  put.isWrite = true;
  EXPECT_FALSE(auditableRead(put));
}

TEST(ReadAuditSlots, AtMostMaxInFlightAndReleasedOnDestruction) {
  std::atomic<int> inFlight{0};
  {
    AuditSlot a = AuditSlot::tryTake(inFlight, 2);
    AuditSlot b = AuditSlot::tryTake(inFlight, 2);
    AuditSlot c = AuditSlot::tryTake(inFlight, 2);
    EXPECT_TRUE(a);
    EXPECT_TRUE(b);
    EXPECT_FALSE(c);
    EXPECT_EQ(inFlight.load(), 2);
    AuditSlot moved = std::move(a);
    EXPECT_FALSE(a);
    EXPECT_EQ(inFlight.load(), 2);
    b.release();
    EXPECT_EQ(inFlight.load(), 1);
  }
  EXPECT_EQ(inFlight.load(), 0);
}

}  // namespace
}  // namespace cx::proxy
