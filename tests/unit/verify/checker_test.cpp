// cxproxy-verify's history checker on hand-made histories: each condition of README
// "Verifying the guarantees on your deployment" is caught, and clean histories pass.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "proxy/verify/checker.h"

namespace cx::verify {
namespace {

using std::chrono::milliseconds;

// Builds a history in milliseconds. Key "sN:x" belongs to writer N.
class Builder {
 public:
  Operation& write(int session, const std::string& key, std::uint64_t seq, int invokeMs, int completeMs,
                   bool ok = true) {
    Operation op;
    op.kind = OpKind::Write;
    op.session = session;
    op.writeKey = key;
    op.written = {session, seq};
    op.ok = ok;
    op.status = ok ? 204 : 0;
    op.servedLevel = "strong";
    op.servedRole = "primary";
    return push(std::move(op), invokeMs, completeMs);
  }

  // values: key → seq read (0: absent). served defaults to the requested level.
  Operation& read(int session, Level level, std::vector<std::pair<std::string, std::uint64_t>> values, int invokeMs,
                  int completeMs, std::string role = "replica", std::string bound = "5") {
    Operation op;
    op.kind = OpKind::Read;
    op.session = session;
    op.requested = level;
    if (level == Level::Bounded) op.maxStaleness = milliseconds{200};
    op.ok = true;
    op.status = 200;
    op.servedLevel = std::string(toString(level));
    op.servedRole = std::move(role);
    op.stalenessBound = std::move(bound);
    for (auto& [key, seq] : values) {
      ReadValue v;
      v.key = key;
      v.present = seq != 0;
      if (v.present) {
        v.version = Version{writerOf(key), seq};
        v.raw = encodeValue(*v.version);
      }
      op.values.push_back(std::move(v));
    }
    return push(std::move(op), invokeMs, completeMs);
  }

  const History& history() const { return history_; }
  CheckReport check() const { return checkHistory(history_); }

 private:
  static int writerOf(const std::string& key) { return std::stoi(key.substr(1, key.find(':') - 1)); }

  Operation& push(Operation op, int invokeMs, int completeMs) {
    op.id = history_.size() + 1;
    op.invoke = std::chrono::duration_cast<Micros>(milliseconds{invokeMs});
    op.complete = std::chrono::duration_cast<Micros>(milliseconds{completeMs});
    history_.push_back(std::move(op));
    return history_.back();
  }

  History history_;
};

std::size_t countOf(const CheckReport& r, Condition c) {
  std::size_t n = 0;
  for (const auto& v : r.violations) n += v.condition == c ? 1 : 0;
  return n;
}

std::string dump(const CheckReport& r) {
  std::string out;
  for (const auto& v : r.violations) out += std::string(toString(v.condition)) + ": " + v.message + "\n";
  return out;
}

std::uint64_t checked(const CheckReport& r, Level level, Condition c) {
  auto it = r.levels.find(level);
  return it == r.levels.end() ? 0 : it->second.checked[static_cast<std::size_t>(c)];
}

// Writer 0 writes s0:a and s0:b in turns: a=1 [0,10], b=1 [10,20], a=2 [20,30], b=2 [30,40].
void writePairs(Builder& b, int rounds) {
  int t = 0;
  for (int n = 1; n <= rounds; ++n) {
    b.write(0, "s0:a", static_cast<std::uint64_t>(n), t, t + 10);
    b.write(0, "s0:b", static_cast<std::uint64_t>(n), t + 10, t + 20);
    t += 20;
  }
}

TEST(VerifyChecker, CleanHistoryPassesWithEveryConditionExercised) {
  Builder b;
  writePairs(b, 2);
  // Session: the writer reads its own latest, another session reads forward only.
  b.read(0, Level::Session, {{"s0:a", 2}}, 50, 51);
  b.read(1, Level::Session, {{"s0:a", 1}}, 50, 51);
  b.read(1, Level::Session, {{"s0:a", 2}}, 60, 61);
  // Bounded: within 200ms nothing is required; later the newest is seen.
  b.read(2, Level::Bounded, {{"s0:b", 1}}, 45, 46, "replica", "150");
  b.read(2, Level::Bounded, {{"s0:b", 2}}, 500, 501, "replica", "150");
  // Prefix: states after some point of the writer's sequence.
  b.read(3, Level::Prefix, {{"s0:a", 2}, {"s0:b", 1}}, 45, 46);
  b.read(3, Level::Prefix, {{"s0:a", 2}, {"s0:b", 2}}, 50, 51);
  b.read(3, Level::Prefix, {{"s0:a", 0}, {"s0:b", 0}}, 0, 1);
  // Strong at the primary sees everything acknowledged before it started.
  b.read(4, Level::Strong, {{"s0:b", 2}}, 45, 46, "primary", "0");
  CheckReport r = b.check();
  EXPECT_TRUE(r.violations.empty()) << dump(r);
  EXPECT_GT(checked(r, Level::Session, Condition::ReadYourWrites), 0u);
  EXPECT_GT(checked(r, Level::Session, Condition::MonotonicReads), 0u);
  EXPECT_GT(checked(r, Level::Bounded, Condition::Freshness), 0u);
  EXPECT_GT(checked(r, Level::Prefix, Condition::ConsistentPrefix), 0u);
  EXPECT_GT(checked(r, Level::Strong, Condition::Freshness), 0u);
  EXPECT_EQ(r.levels[Level::Session].replicaReads, 3u);
  EXPECT_EQ(r.levels[Level::Strong].replicaReads, 0u);
  EXPECT_EQ(r.writesAcknowledged, 4u);
}

TEST(VerifyChecker, ReadYourWritesViolationNamesTheReadAndTheWrite) {
  Builder b;
  writePairs(b, 2);
  auto& read = b.read(0, Level::Session, {{"s0:a", 1}}, 50, 51);
  CheckReport r = b.check();
  ASSERT_EQ(countOf(r, Condition::ReadYourWrites), 1u) << dump(r);
  EXPECT_EQ(r.violations.size(), 1u) << dump(r);
  EXPECT_EQ(r.violations[0].level, Level::Session);
  EXPECT_EQ(r.violations[0].ops, (std::vector<std::uint64_t>{read.id, 3}));  // a=2 is op 3
}

TEST(VerifyChecker, ReadYourWritesCatchesAnAbsentKeyAfterTheWrite) {
  Builder b;
  b.write(0, "s0:a", 1, 0, 10);
  b.read(0, Level::Session, {{"s0:a", 0}}, 20, 21);
  EXPECT_EQ(countOf(b.check(), Condition::ReadYourWrites), 1u);
}

TEST(VerifyChecker, ReadYourWritesOnlyCountsWritesAcknowledgedBeforeTheRead) {
  Builder b;
  b.write(0, "s0:a", 1, 0, 10);
  b.write(0, "s0:a", 2, 20, 30);  // concurrent with the read below: not required
  b.read(0, Level::Session, {{"s0:a", 1}}, 25, 26);
  b.write(0, "s0:a", 3, 40, 0, /*ok=*/false);  // unknown outcome: never required
  b.read(0, Level::Session, {{"s0:a", 2}}, 100, 101);
  CheckReport r = b.check();
  EXPECT_TRUE(r.violations.empty()) << dump(r);
}

TEST(VerifyChecker, MonotonicReadsViolationPerKeyPerSession) {
  Builder b;
  writePairs(b, 2);
  auto& newer = b.read(1, Level::Session, {{"s0:a", 2}}, 50, 51);
  auto& older = b.read(1, Level::Session, {{"s0:a", 1}}, 60, 61);
  CheckReport r = b.check();
  ASSERT_EQ(countOf(r, Condition::MonotonicReads), 1u) << dump(r);
  EXPECT_EQ(r.violations.size(), 1u) << dump(r);
  EXPECT_EQ(r.violations[0].ops, (std::vector<std::uint64_t>{older.id, newer.id}));
}

TEST(VerifyChecker, MonotonicReadsAcrossSessionsOrLevelsWithoutTheGuaranteeAreNotViolations) {
  Builder b;
  writePairs(b, 2);
  b.read(1, Level::Session, {{"s0:a", 2}}, 50, 51);
  b.read(2, Level::Session, {{"s0:a", 1}}, 60, 61);  // another session
  b.read(3, Level::Eventual, {{"s0:a", 2}}, 50, 51);
  b.read(3, Level::Eventual, {{"s0:a", 1}}, 60, 61);  // eventual promises no order
  CheckReport r = b.check();
  EXPECT_TRUE(r.violations.empty()) << dump(r);
}

TEST(VerifyChecker, BoundedReadOlderThanTheBoundIsStale) {
  Builder b;
  b.write(0, "s0:a", 1, 0, 10);
  b.write(0, "s0:a", 2, 90, 100);
  // Asked 200ms, served with 150ms: seq 2 was acknowledged 300ms before the read started.
  auto& read = b.read(1, Level::Bounded, {{"s0:a", 1}}, 400, 401, "replica", "150");
  CheckReport r = b.check();
  ASSERT_EQ(countOf(r, Condition::Freshness), 1u) << dump(r);
  EXPECT_EQ(r.violations.size(), 1u) << dump(r);
  EXPECT_EQ(r.violations[0].ops, (std::vector<std::uint64_t>{read.id, 2}));
}

TEST(VerifyChecker, BoundedReadIsHeldToTheSmallerBoundTheResponseClaims) {
  Builder b;
  b.write(0, "s0:a", 1, 0, 10);
  b.write(0, "s0:a", 2, 90, 100);
  // 150ms after seq 2: fine for the 200ms asked, not for the 20ms the response claims.
  b.read(1, Level::Bounded, {{"s0:a", 1}}, 250, 251, "replica", "200");
  EXPECT_TRUE(b.check().violations.empty()) << dump(b.check());
  b.read(1, Level::Bounded, {{"s0:a", 1}}, 250, 251, "replica", "20");
  EXPECT_EQ(countOf(b.check(), Condition::Freshness), 1u);
}

TEST(VerifyChecker, PrimaryReadsMustSeeEveryAcknowledgedWrite) {
  Builder b;
  b.write(0, "s0:a", 1, 0, 10);
  b.read(1, Level::Bounded, {{"s0:a", 0}}, 20, 21, "primary", "0");
  b.read(2, Level::Strong, {{"s0:a", 0}}, 20, 21, "primary", "0");
  CheckReport r = b.check();
  EXPECT_EQ(countOf(r, Condition::Freshness), 2u) << dump(r);
}

TEST(VerifyChecker, BoundHeaderAboveTheAskedBoundOrMissingIsAViolation) {
  Builder b;
  b.write(0, "s0:a", 1, 0, 10);
  b.read(1, Level::Bounded, {{"s0:a", 1}}, 20, 21, "replica", "300");
  b.read(1, Level::Bounded, {{"s0:a", 1}}, 30, 31, "replica", "unknown");
  b.read(1, Level::Bounded, {{"s0:a", 1}}, 40, 41, "replica", "200");
  CheckReport r = b.check();
  EXPECT_EQ(countOf(r, Condition::BoundHeader), 2u) << dump(r);
  EXPECT_EQ(r.violations.size(), 2u) << dump(r);
}

TEST(VerifyChecker, PrefixReadSeeingALaterWriteWithoutAnEarlierOneIsCaught) {
  Builder b;
  writePairs(b, 2);  // a=1 b=1 a=2 b=2
  auto& read = b.read(3, Level::Prefix, {{"s0:a", 1}, {"s0:b", 2}}, 50, 51);
  CheckReport r = b.check();
  ASSERT_EQ(countOf(r, Condition::ConsistentPrefix), 1u) << dump(r);
  EXPECT_EQ(r.violations.size(), 1u) << dump(r);
  // The read, the write it missed (a=2, op 3), the later write it saw (b=2, op 4).
  EXPECT_EQ(r.violations[0].ops, (std::vector<std::uint64_t>{read.id, 3, 4}));
}

TEST(VerifyChecker, PrefixReadThatSkippedAWriteInTheMiddleIsCaught) {
  Builder b;
  writePairs(b, 2);
  b.write(0, "s0:a", 3, 40, 50);
  b.read(3, Level::Prefix, {{"s0:a", 3}, {"s0:b", 1}}, 60, 61);  // b=2 came before a=3
  b.read(3, Level::Prefix, {{"s0:a", 0}, {"s0:b", 1}}, 60, 61);  // b=1 came after a=1
  EXPECT_EQ(countOf(b.check(), Condition::ConsistentPrefix), 2u) << dump(b.check());
}

TEST(VerifyChecker, PrefixAllowsAWriteWithUnknownOutcomeToBeMissing) {
  Builder b;
  b.write(0, "s0:a", 1, 0, 10);
  b.write(0, "s0:b", 1, 10, 20, /*ok=*/false);
  b.write(0, "s0:a", 2, 30, 40);
  b.read(3, Level::Prefix, {{"s0:a", 2}, {"s0:b", 0}}, 50, 51);
  CheckReport r = b.check();
  EXPECT_TRUE(r.violations.empty()) << dump(r);
}

TEST(VerifyChecker, SingleKeyReadsAndEventualReadsAreNotPrefixChecked) {
  Builder b;
  writePairs(b, 2);
  b.read(3, Level::Eventual, {{"s0:a", 1}, {"s0:b", 2}}, 50, 51);
  b.read(3, Level::Prefix, {{"s0:b", 2}}, 50, 51);
  CheckReport r = b.check();
  EXPECT_TRUE(r.violations.empty()) << dump(r);
  EXPECT_EQ(checked(r, Level::Prefix, Condition::ConsistentPrefix), 0u);
}

TEST(VerifyChecker, ServedLevelMustBeTheRequestedOneOrADocumentedDowngrade) {
  Builder b;
  b.write(0, "s0:a", 1, 0, 10);
  auto& lied = b.read(0, Level::Session, {{"s0:a", 1}}, 20, 21);
  lied.servedLevel = "eventual";
  auto& missing = b.read(0, Level::Session, {{"s0:a", 1}}, 30, 31);
  missing.servedLevel = "";
  auto& wrongDowngrade = b.read(0, Level::Session, {{"s0:a", 1}}, 40, 41);
  wrongDowngrade.servedLevel = "eventual";
  wrongDowngrade.downgraded = "strong->bounded; reason=primary_overloaded";
  CheckReport r = b.check();
  EXPECT_EQ(countOf(r, Condition::ServedLevel), 3u) << dump(r);
  EXPECT_EQ(r.violations.size(), 3u) << dump(r);
}

TEST(VerifyChecker, DocumentedDowngradeHoldsTheReadToTheServedLevel) {
  Builder b;
  b.write(0, "s0:a", 1, 0, 10);
  // Downgraded strong -> bounded: held to bounded's 200ms, not to strong.
  auto& read = b.read(1, Level::Strong, {{"s0:a", 0}}, 20, 21, "replica", "50");
  read.servedLevel = "bounded";
  read.downgraded = "strong->bounded; reason=primary_overloaded";
  read.maxStaleness = milliseconds{200};
  // Served stronger than asked (a rule without override): held to what was asked.
  auto& stronger = b.read(1, Level::Prefix, {{"s0:a", 1}}, 30, 31, "primary", "0");
  stronger.servedLevel = "strong";
  CheckReport r = b.check();
  EXPECT_TRUE(r.violations.empty()) << dump(r);
  EXPECT_EQ(r.levels[Level::Bounded].downgradedTo, 1u);
}

TEST(VerifyChecker, ValuesNeverWrittenOrFromTheFutureAreCaught) {
  Builder b;
  b.write(0, "s0:a", 1, 0, 10);
  b.write(0, "s0:a", 2, 100, 110);
  b.read(1, Level::Eventual, {{"s0:a", 7}}, 20, 21);  // never written
  b.read(1, Level::Eventual, {{"s0:a", 2}}, 20, 21);  // its write was sent at 100
  auto& garbage = b.read(1, Level::Eventual, {{"s0:a", 1}}, 30, 31);
  garbage.values[0].version.reset();
  garbage.values[0].raw = "hello";
  b.read(1, Level::Eventual, {{"s0:a", 2}}, 105, 106);  // concurrent with its write: fine
  CheckReport r = b.check();
  EXPECT_EQ(countOf(r, Condition::WrittenValue), 3u) << dump(r);
  EXPECT_EQ(r.violations.size(), 3u) << dump(r);
}

TEST(VerifyChecker, FailedReadsAreCountedNotChecked) {
  Builder b;
  b.write(0, "s0:a", 1, 0, 10);
  auto& failed = b.read(0, Level::Session, {{"s0:a", 0}}, 20, 21);
  failed.ok = false;
  failed.status = 503;
  CheckReport r = b.check();
  EXPECT_TRUE(r.violations.empty()) << dump(r);
  EXPECT_EQ(r.levels[Level::Session].failedReads, 1u);
  EXPECT_EQ(r.levels[Level::Session].reads, 0u);
}

TEST(VerifyValue, EncodesAndDecodesOnlyItsOwnValues) {
  EXPECT_EQ(encodeValue({3, 17}), "3:17");
  EXPECT_EQ(decodeValue("3:17"), (Version{3, 17}));
  EXPECT_FALSE(decodeValue("3:0"));
  EXPECT_FALSE(decodeValue("3:"));
  EXPECT_FALSE(decodeValue(":1"));
  EXPECT_FALSE(decodeValue("x:1"));
  EXPECT_FALSE(decodeValue("3:1x"));
  EXPECT_FALSE(decodeValue("probe"));
}

}  // namespace
}  // namespace cx::verify
