// Consistency advice (README "Audit and advice"): per rule, from the audit's samples, the
// share of its reads that a weaker level answered identically, over the last hour. Advice
// only: nothing here is read by routing.
//
// Written by workers when an audit completes (a sampled share of reads, at most
// audit.max_in_flight at once), read by the admin thread for /v1/status: one mutex, never
// taken by an unsampled request.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "backends/topology.h"
#include "routing/level.h"

namespace cx::proxy {

// What a sample compared: the value a read at `level` got against what `considered`
// would have answered. For strong reads, `considered` is a bounded read on a replica
// that qualified for the rule's bound (`consideredBound`); for reads a replica served,
// it is the served level itself, compared with the primary's answer right after.
struct AdviceKey {
  std::string rule;
  routing::Level level = routing::Level::Strong;
  routing::Level considered = routing::Level::Bounded;
  std::chrono::milliseconds consideredBound{0};  // bounded only

  auto tie() const { return std::tie(rule, level, considered, consideredBound); }
  bool operator<(const AdviceKey& other) const { return tie() < other.tie(); }
};

struct AdviceRow {
  AdviceKey key;
  std::uint64_t samples = 0;
  std::uint64_t identical = 0;
  double identicalShare() const {
    return samples == 0 ? 0.0 : static_cast<double>(identical) / static_cast<double>(samples);
  }
};

// Per rule: reads drawn for an audit over the window (skipped ones included), the basis
// of the status page's traffic estimate (drawn / sample_rate).
struct RuleSampleCount {
  std::string rule;
  std::uint64_t drawn = 0;
};

// A sliding window of kBuckets fixed buckets of kBucketLength each, per key. Thread-safe.
class AdviceBoard {
 public:
  static constexpr std::chrono::minutes kBucketLength{1};
  static constexpr std::size_t kBuckets = 60;  // the last hour

  // A read of `rule` was drawn for an audit.
  void drawn(std::string_view rule, backends::Clock::time_point now);
  // One completed comparison.
  void record(const AdviceKey& key, bool identical, backends::Clock::time_point now);
  // Every key with a sample in the window, in key order.
  std::vector<AdviceRow> rows(backends::Clock::time_point now) const;
  std::vector<RuleSampleCount> drawnPerRule(backends::Clock::time_point now) const;

 private:
  struct Bucket {
    std::int64_t index = -1;  // which kBucketLength since the clock's epoch it counts
    std::uint64_t samples = 0;
    std::uint64_t identical = 0;
  };
  using Window = std::array<Bucket, kBuckets>;
  static std::int64_t bucketIndex(backends::Clock::time_point t);
  static Bucket& slot(Window& window, std::int64_t index);
  static void sum(const Window& window, std::int64_t now, std::uint64_t& samples, std::uint64_t& identical);

  mutable std::mutex mutex_;
  std::map<AdviceKey, Window> windows_;
  std::map<std::string, Window, std::less<>> drawn_;
};

// "rule `accounts`: 99.97% of strong reads would have been identical at bounded 100ms over
// the last hour (3,210 samples)" and the like.
std::string adviceSentence(const AdviceRow& row);

}  // namespace cx::proxy
