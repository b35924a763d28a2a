// Tests for the primary's sliding-window latency histogram: the p99, error rate and sample
// count the load controller sees, with a fake clock.
#include "routing/latency_window.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

namespace cx::routing {
namespace {

using namespace std::chrono_literals;
using std::chrono::microseconds;

const Clock::time_point kStart{};  // slot boundaries fall on multiples of the interval

void recordMany(LatencyWindow& window, int count, microseconds latency, bool error = false) {
  for (int i = 0; i < count; ++i) window.record(latency, error);
}

microseconds upperBoundOf(microseconds latency) {
  return LatencyWindow::bucketUpperBound(LatencyWindow::bucketFor(latency));
}

TEST(LatencyWindow, BucketsAreLogSpacedFromOneMicrosecondPastAMinute) {
  constexpr std::size_t last = LatencyWindow::kBucketCount - 1;
  EXPECT_EQ(LatencyWindow::bucketUpperBound(0), 1us);
  for (std::size_t i = 1; i <= last; ++i) {
    EXPECT_GT(LatencyWindow::bucketUpperBound(i), LatencyWindow::bucketUpperBound(i - 1)) << i;
  }
  for (std::size_t i = 1; i < last; ++i) {  // never more than ×4/3 (+1 µs rounding) apart
    const auto previous = LatencyWindow::bucketUpperBound(i - 1).count();
    EXPECT_LE(LatencyWindow::bucketUpperBound(i).count(), previous * 4 / 3 + 1) << i;
  }
  EXPECT_GE(LatencyWindow::bucketUpperBound(last - 1), 60s);
  EXPECT_EQ(LatencyWindow::bucketUpperBound(last), microseconds::max());
  EXPECT_EQ(LatencyWindow::bucketUpperBound(last + 10), microseconds::max());
}

TEST(LatencyWindow, EveryLatencyFallsInTheBucketWhoseRangeHoldsIt) {
  EXPECT_EQ(LatencyWindow::bucketFor(-5us), 0u);
  EXPECT_EQ(LatencyWindow::bucketFor(0us), 0u);
  EXPECT_EQ(LatencyWindow::bucketFor(1us), 0u);
  EXPECT_EQ(LatencyWindow::bucketFor(2us), 1u);
  EXPECT_EQ(LatencyWindow::bucketFor(1h), LatencyWindow::kBucketCount - 1);
  for (microseconds latency :
       {3us, 7us, 99us, 100us, 101us, 1000us, 12345us, 20000us, microseconds{1s}, microseconds{59s}}) {
    const std::size_t bucket = LatencyWindow::bucketFor(latency);
    ASSERT_GT(bucket, 0u);
    EXPECT_LT(LatencyWindow::bucketUpperBound(bucket - 1), latency) << latency.count();
    EXPECT_GE(LatencyWindow::bucketUpperBound(bucket), latency) << latency.count();
  }
}

TEST(LatencyWindow, EmptyWindowReportsNothing) {
  LatencyWindow window(1s, 100ms);
  const LoadSignals signals = window.sample(kStart, 7);
  EXPECT_EQ(signals.inFlight, 7u);
  EXPECT_EQ(signals.samples, 0u);
  EXPECT_EQ(signals.p99, 0us);
  EXPECT_EQ(signals.errorRate, 0.0);
}

TEST(LatencyWindow, TenSlowInAThousandLeavesP99InTheFastBucket) {
  LatencyWindow window(1s, 100ms);
  recordMany(window, 990, 200us);
  recordMany(window, 10, 50ms);
  const LoadSignals signals = window.sample(kStart, 0);
  EXPECT_EQ(signals.samples, 1000u);
  EXPECT_EQ(signals.p99, upperBoundOf(200us));
  EXPECT_GE(signals.p99, 200us);
  EXPECT_LT(signals.p99, 1ms);
}

TEST(LatencyWindow, TwentySlowInAThousandPutP99InTheSlowBucket) {
  LatencyWindow window(1s, 100ms);
  recordMany(window, 980, 200us);
  recordMany(window, 20, 50ms);
  const LoadSignals signals = window.sample(kStart, 0);
  EXPECT_EQ(signals.p99, upperBoundOf(50ms));
  EXPECT_GE(signals.p99, 50ms);
}

TEST(LatencyWindow, P99NeverUnderstatesAndOverstatesByAtMostOneBucket) {
  LatencyWindow window(1s, 100ms);
  for (int us = 1; us <= 10000; ++us) window.record(microseconds{us}, false);
  const LoadSignals signals = window.sample(kStart, 0);
  // Nearest rank: the 9900th of 1..10000 µs.
  EXPECT_GE(signals.p99, 9900us);
  EXPECT_LE(signals.p99.count(), 9900 * 4 / 3 + 1);
}

TEST(LatencyWindow, ReportsErrorRateSampleCountAndInFlight) {
  LatencyWindow window(1s, 100ms);
  recordMany(window, 93, 1ms);
  recordMany(window, 7, 30ms, /*error=*/true);
  const LoadSignals signals = window.sample(kStart, 42);
  EXPECT_EQ(signals.inFlight, 42u);
  EXPECT_EQ(signals.samples, 100u);
  EXPECT_DOUBLE_EQ(signals.errorRate, 0.07);
}

TEST(LatencyWindow, ForgetsSlotsOlderThanTheWindow) {
  LatencyWindow window(1s, 100ms);
  ASSERT_EQ(window.slotCount(), 10u);
  recordMany(window, 100, 50ms, true);
  window.sample(kStart, 0);  // slot 0 holds the slow failures

  for (int tick = 1; tick < 10; ++tick) {  // fast successes keep coming
    recordMany(window, 100, 100us);
    const LoadSignals signals = window.sample(kStart + tick * 100ms, 0);
    EXPECT_EQ(signals.samples, 100u * (tick + 1)) << tick;
    EXPECT_GT(signals.errorRate, 0.0) << tick;
  }
  // One window after the slow slot, it has been reused.
  recordMany(window, 100, 100us);
  const LoadSignals signals = window.sample(kStart + 1000ms, 0);
  EXPECT_EQ(signals.samples, 1000u);
  EXPECT_EQ(signals.errorRate, 0.0);
  EXPECT_EQ(signals.p99, upperBoundOf(100us));
}

TEST(LatencyWindow, AGapLongerThanTheWindowForgetsEverythingBeforeIt) {
  LatencyWindow window(1s, 100ms);
  recordMany(window, 500, 50ms, true);
  window.sample(kStart, 0);
  const LoadSignals signals = window.sample(kStart + 5s, 0);
  EXPECT_EQ(signals.samples, 0u);
  EXPECT_EQ(signals.p99, 0us);
  EXPECT_EQ(signals.errorRate, 0.0);
}

TEST(LatencyWindow, LateOrRepeatedSamplesLoseNothingInsideTheWindow) {
  LatencyWindow window(1s, 100ms);
  recordMany(window, 10, 1ms);
  window.sample(kStart, 0);
  recordMany(window, 10, 1ms);
  window.sample(kStart + 30ms, 0);  // same slot: added to it
  recordMany(window, 10, 1ms);
  EXPECT_EQ(window.sample(kStart + 450ms, 0).samples, 30u);  // skipped slots 1..3
  recordMany(window, 10, 1ms);
  EXPECT_EQ(window.sample(kStart + 420ms, 0).samples, 40u);  // time went back: latest slot
  // Slot 0 (20 requests) expires at 1000 ms; slot 4 (20) at 1400 ms.
  EXPECT_EQ(window.sample(kStart + 999ms, 0).samples, 40u);
  EXPECT_EQ(window.sample(kStart + 1000ms, 0).samples, 20u);
  EXPECT_EQ(window.sample(kStart + 1400ms, 0).samples, 0u);
}

TEST(LatencyWindow, SlotCountRoundsUpAndBadLengthsAreRejected) {
  EXPECT_EQ(LatencyWindow(1s, 300ms).slotCount(), 4u);
  EXPECT_EQ(LatencyWindow(50ms, 100ms).slotCount(), 1u);
  EXPECT_THROW(LatencyWindow(0ms, 100ms), std::invalid_argument);
  EXPECT_THROW(LatencyWindow(1s, 0ms), std::invalid_argument);
}

TEST(LatencyWindow, ConcurrentRecordFromFourThreadsSumsCorrectly) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100000;
  LatencyWindow window(1s, 100ms);
  std::atomic<bool> done{false};

  // A sampler runs alongside the workers; every sample lands in the same slot, so the
  // last one must account for every request exactly once.
  std::thread sampler([&] {
    while (!done.load()) window.sample(kStart, 0);
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&window, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const bool slow = i % 100 == 0;  // 1% slow
        window.record(slow ? microseconds{40ms} : microseconds{100 + t}, i % 10 == 0);
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  done.store(true);
  sampler.join();

  const LoadSignals signals = window.sample(kStart, 0);
  EXPECT_EQ(signals.samples, static_cast<std::uint64_t>(kThreads) * kPerThread);
  EXPECT_DOUBLE_EQ(signals.errorRate, 0.1);
  EXPECT_LT(signals.p99, 1ms);  // exactly 1% slow: the 99th percentile is still fast
}

}  // namespace
}  // namespace cx::routing
