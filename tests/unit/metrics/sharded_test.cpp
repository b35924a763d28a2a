// Unit tests for the per-thread sharded counters and histograms: sums over threads,
// Prometheus bucket semantics (le: a value equal to a bound counts in that bucket), and
// the exported family matching what prometheus-cpp's own Histogram exports.
#include "metrics/sharded.h"

#include <gtest/gtest.h>
#include <prometheus/histogram.h>

#include <limits>
#include <thread>
#include <vector>

namespace cx::metrics {
namespace {

TEST(ShardedCounter, SumsEveryThreadsIncrements) {
  ShardedCounter counter;
  std::vector<std::thread> threads;
  // More threads than shards: shared shards must not lose updates either.
  for (std::size_t t = 0; t < kShards + 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) counter.Increment();
    });
  }
  for (auto& t : threads) t.join();
  counter.Increment(2.5);
  EXPECT_DOUBLE_EQ(counter.Value(), (kShards + 4) * 1000.0 + 2.5);
}

TEST(ShardedHistogram, ExportsWhatAPrometheusHistogramExports) {
  const std::vector<double> bounds{0.01, 0.05, 0.1, 0.5, 1, 5, 10};
  ShardedHistogram sharded(bounds);
  prometheus::Histogram reference(bounds);
  for (double v : {0.0, 0.01, 0.011, 0.05, 0.3, 1.0, 7.0, 10.0, 11.0, 1e9}) {
    sharded.Observe(v);
    reference.Observe(v);
  }
  const auto got = sharded.collect();
  const auto want = reference.Collect().histogram;
  EXPECT_EQ(got.sample_count, want.sample_count);
  EXPECT_DOUBLE_EQ(got.sample_sum, want.sample_sum);
  ASSERT_EQ(got.bucket.size(), want.bucket.size());
  for (std::size_t i = 0; i < got.bucket.size(); ++i) {
    EXPECT_EQ(got.bucket[i].cumulative_count, want.bucket[i].cumulative_count) << i;
    EXPECT_EQ(got.bucket[i].upper_bound, want.bucket[i].upper_bound) << i;
  }
  EXPECT_EQ(got.bucket.back().upper_bound, std::numeric_limits<double>::infinity());
}

TEST(ShardedHistogram, SumsObservationsFromEveryThread) {
  ShardedHistogram histogram({1, 2});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) histogram.Observe(1.5);
    });
  }
  for (auto& t : threads) t.join();
  const auto h = histogram.collect();
  EXPECT_EQ(h.sample_count, 2000u);
  EXPECT_DOUBLE_EQ(h.sample_sum, 3000.0);
  EXPECT_EQ(h.bucket[0].cumulative_count, 0u);
  EXPECT_EQ(h.bucket[1].cumulative_count, 2000u);
}

TEST(ShardedHistogram, RefusesTooManyOrUnsortedBounds) {
  EXPECT_THROW(ShardedHistogram(std::vector<double>(ShardedHistogram::kMaxBuckets, 1.0)), std::invalid_argument);
  EXPECT_THROW(ShardedHistogram({2.0, 1.0}), std::invalid_argument);
}

TEST(ShardedFamily, OneChildPerLabelSetAndAFamilyEvenWhenEmpty) {
  ShardedFamily<ShardedCounter> family("cx_test_total", "help text");
  auto empty = family.Collect();
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_EQ(empty[0].name, "cx_test_total");
  EXPECT_EQ(empty[0].type, prometheus::MetricType::Counter);
  EXPECT_TRUE(empty[0].metric.empty());

  auto& a = family.Add({{"op", "get"}});
  EXPECT_EQ(&a, &family.Add({{"op", "get"}}));
  family.Add({{"op", "put"}}).Increment(3);
  a.Increment();
  auto families = family.Collect();
  ASSERT_EQ(families[0].metric.size(), 2u);
  EXPECT_EQ(families[0].metric[0].label[0].value, "get");
  EXPECT_DOUBLE_EQ(families[0].metric[0].counter.value, 1);
  EXPECT_DOUBLE_EQ(families[0].metric[1].counter.value, 3);
}

}  // namespace
}  // namespace cx::metrics
