// The advice board: per rule and level, the identical share of audit samples over a
// sliding hour of one-minute buckets, and the sentence the status page shows.
#include "proxy/app/advice.h"

#include <gtest/gtest.h>

namespace cx::proxy {
namespace {

using backends::Clock;
using routing::Level;
using std::chrono::milliseconds;
using std::chrono::minutes;

const Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours{24};
const AdviceKey kStrong{"accounts", Level::Strong, Level::Bounded, milliseconds{100}};

TEST(AdviceBoard, CountsSamplesAndIdenticalOnesPerKey) {
  AdviceBoard board;
  for (int i = 0; i < 9; ++i) board.record(kStrong, true, kT0);
  board.record(kStrong, false, kT0 + std::chrono::seconds{30});
  board.record({"feed", Level::Session, Level::Session, milliseconds{0}}, true, kT0);
  const auto rows = board.rows(kT0 + minutes{1});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].key.rule, "accounts");
  EXPECT_EQ(rows[0].samples, 10u);
  EXPECT_EQ(rows[0].identical, 9u);
  EXPECT_DOUBLE_EQ(rows[0].identicalShare(), 0.9);
  EXPECT_EQ(rows[1].key.rule, "feed");
}

TEST(AdviceBoard, SamplesOlderThanAnHourLeaveTheWindow) {
  AdviceBoard board;
  board.record(kStrong, false, kT0);
  board.record(kStrong, true, kT0 + minutes{30});
  auto rows = board.rows(kT0 + minutes{59});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].samples, 2u);
  rows = board.rows(kT0 + minutes{61});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].samples, 1u);
  EXPECT_EQ(rows[0].identical, 1u);
  // A bucket reused an hour later starts from zero.
  board.record(kStrong, true, kT0 + minutes{60});
  rows = board.rows(kT0 + minutes{61});
  EXPECT_EQ(rows[0].samples, 2u);
  EXPECT_TRUE(board.rows(kT0 + minutes{200}).empty());
}

TEST(AdviceBoard, DrawsPerRule) {
  AdviceBoard board;
  board.drawn("accounts", kT0);
  board.drawn("accounts", kT0);
  board.drawn("default", kT0);
  const auto counts = board.drawnPerRule(kT0);
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0].rule, "accounts");
  EXPECT_EQ(counts[0].drawn, 2u);
}

TEST(AdviceSentence, SaysWhatWasComparedAndNeverRoundsUpToAll) {
  AdviceRow row{kStrong, 10000, 9997};
  EXPECT_EQ(adviceSentence(row),
            "rule `accounts`: 99.97% of strong reads would have been identical at bounded 100ms over the last hour "
            "(10000 samples)");
  row.identical = 9999;
  row.samples = 10000 * 10;  // 99.999%: not "100.00%"
  row.identical = row.samples - 1;
  EXPECT_NE(adviceSentence(row).find("99.99%"), std::string::npos) << adviceSentence(row);
  AdviceRow replica{{"feed", Level::Session, Level::Session, milliseconds{0}}, 1, 1};
  EXPECT_EQ(adviceSentence(replica),
            "rule `feed`: 100.00% of session reads served by replicas were identical to the primary's answer over "
            "the last hour (1 sample)");
}

}  // namespace
}  // namespace cx::proxy
