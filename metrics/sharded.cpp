// Per-thread shards for the data path's counters and histograms; summed at scrape time.
#include "metrics/sharded.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace cx::metrics {

std::size_t shardIndex() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t index = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return index;
}

double ShardedCounter::Value() const {
  double total = 0;
  for (const auto& s : shards_) total += s.value.load(std::memory_order_relaxed);
  return total;
}

ShardedHistogram::ShardedHistogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  if (bounds_.size() + 1 > kMaxBuckets || !std::is_sorted(bounds_.begin(), bounds_.end())) {
    throw std::invalid_argument("ShardedHistogram: at most 15 ascending bucket bounds");
  }
}

void ShardedHistogram::Observe(double value) {
  // The first bucket whose upper bound is >= value (Prometheus's "le"); else +Inf.
  const auto bucket =
      static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  Shard& shard = shards_[shardIndex()];
  shard.counts[bucket].fetch_add(1, std::memory_order_relaxed);
  shard.sum.fetch_add(value, std::memory_order_relaxed);
}

prometheus::ClientMetric::Histogram ShardedHistogram::collect() const {
  prometheus::ClientMetric::Histogram out;
  std::array<std::uint64_t, kMaxBuckets> counts{};
  for (const auto& shard : shards_) {
    for (std::size_t b = 0; b <= bounds_.size(); ++b) counts[b] += shard.counts[b].load(std::memory_order_relaxed);
    out.sample_sum += shard.sum.load(std::memory_order_relaxed);
  }
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b <= bounds_.size(); ++b) {
    cumulative += counts[b];
    prometheus::ClientMetric::Bucket bucket;
    bucket.cumulative_count = cumulative;
    bucket.upper_bound = b < bounds_.size() ? bounds_[b] : std::numeric_limits<double>::infinity();
    out.bucket.push_back(bucket);
  }
  out.sample_count = cumulative;
  return out;
}

template <typename T>
T& ShardedFamily<T>::Add(const std::map<std::string, std::string>& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = children_[labels];
  if (!slot) {
    if constexpr (std::is_same_v<T, ShardedHistogram>) {
      slot = std::make_unique<T>(bounds_);
    } else {
      slot = std::make_unique<T>();
    }
  }
  return *slot;
}

template <typename T>
std::vector<prometheus::MetricFamily> ShardedFamily<T>::Collect() const {
  prometheus::MetricFamily family;
  family.name = name_;
  family.help = help_;
  family.type =
      std::is_same_v<T, ShardedHistogram> ? prometheus::MetricType::Histogram : prometheus::MetricType::Counter;
  std::lock_guard lock(mutex_);
  for (const auto& [labels, child] : children_) {
    prometheus::ClientMetric metric;
    for (const auto& [name, value] : labels) metric.label.push_back({name, value});
    if constexpr (std::is_same_v<T, ShardedHistogram>) {
      metric.histogram = child->collect();
    } else {
      metric.counter.value = child->Value();
    }
    family.metric.push_back(std::move(metric));
  }
  return {std::move(family)};
}

template class ShardedFamily<ShardedCounter>;
template class ShardedFamily<ShardedHistogram>;

}  // namespace cx::metrics
