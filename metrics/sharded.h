// Counters and histograms for the per-request path, sharded by thread. Each thread adds
// to its own cache-line-aligned shard and a scrape sums the shards, so recording takes no
// mutex and no cache line bounces between workers. (prometheus-cpp's Histogram::Observe
// takes a mutex and its Counter updates one shared double: with every worker on the
// same label set, each request moved those lines between cores.) A scrape sees each
// shard's own updates in order; it may miss an observation still being recorded.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cx::metrics {

inline constexpr std::size_t kShards = 16;
// The calling thread's shard: threads get 0, 1, 2, ... in order of first use, mod kShards
// (threads past kShards share a shard; updates are atomic, so nothing is lost).
std::size_t shardIndex();

class ShardedCounter {
 public:
  void Increment(double amount = 1.0) { shards_[shardIndex()].value.fetch_add(amount, std::memory_order_relaxed); }
  double Value() const;

 private:
  struct alignas(64) Shard {
    std::atomic<double> value{0.0};
  };
  std::array<Shard, kShards> shards_;
};

class ShardedHistogram {
 public:
  static constexpr std::size_t kMaxBuckets = 16;          // bounds + the +Inf bucket
  explicit ShardedHistogram(std::vector<double> bounds);  // ascending, at most 15
  void Observe(double value);
  prometheus::ClientMetric::Histogram collect() const;

 private:
  struct alignas(64) Shard {
    std::atomic<double> sum{0.0};
    std::array<std::atomic<std::uint64_t>, kMaxBuckets> counts{};  // not cumulative
  };
  std::vector<double> bounds_;
  std::array<Shard, kShards> shards_;
};

// A labelled family of sharded counters or histograms, exported through Collect().
// Children are created under a mutex and never move; look them up through a cache.
template <typename T>
class ShardedFamily : public prometheus::Collectable {
 public:
  ShardedFamily(std::string name, std::string help, std::vector<double> bounds = {})
      : name_(std::move(name)), help_(std::move(help)), bounds_(std::move(bounds)) {}

  // The child with these labels (name → value), created on first use. Thread-safe.
  T& Add(const std::map<std::string, std::string>& labels);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::string name_;
  std::string help_;
  std::vector<double> bounds_;  // histograms only
  mutable std::mutex mutex_;
  std::map<std::map<std::string, std::string>, std::unique_ptr<T>> children_;
};

extern template class ShardedFamily<ShardedCounter>;
extern template class ShardedFamily<ShardedHistogram>;

}  // namespace cx::metrics
