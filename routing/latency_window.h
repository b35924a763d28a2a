// Latency and error rate of the primary over a sliding window, for the load controller:
// workers record each request lock-free; one sampler turns the counts into LoadSignals.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "routing/load_controller.h"

namespace cx::routing {

// How it works and what it promises:
//
// record() bumps one of 64 cumulative atomic counters (a log-spaced latency histogram)
// and an error counter, relaxed, no lock: cheap enough for every request on every
// worker. Nothing is ever reset on that path.
//
// sample() runs on one thread every `interval`. It subtracts the previous cumulative
// counts from the current ones and adds the difference to the ring slot of the interval
// `now` falls in; slots of intervals that passed without a sample are emptied, and a
// slot is reused (emptied first) once it is `window` old. The window's histogram is the
// sum of the slots, so it covers the last `window`, give or take one interval.
//
// p99 is the *upper edge* of the bucket holding the 99th-percentile request (nearest
// rank), so it never understates the true value and overstates it by at most one bucket
// (×4/3, or +1 µs at the bottom). Bucket 63 is the overflow bucket (over ~116 s); its
// edge is microseconds::max(), which compares as "very slow".
//
// Not exact under concurrency: a record() racing with sample() may land in this
// interval or the next, and its error may be seen one interval before or after its
// latency (the error rate is clamped to 0..1). Over a window that is noise; no count
// is ever lost or counted twice.
class LatencyWindow {
 public:
  static constexpr std::size_t kBucketCount = 64;

  // window / interval slots (rounded up, at least one). Throws std::invalid_argument
  // when either is not positive (control plane).
  explicit LatencyWindow(std::chrono::milliseconds window = std::chrono::seconds{1},
                         std::chrono::milliseconds interval = std::chrono::milliseconds{100});

  LatencyWindow(const LatencyWindow&) = delete;
  LatencyWindow& operator=(const LatencyWindow&) = delete;

  // Any thread, concurrently, wait-free. Negative latencies count as zero.
  void record(std::chrono::microseconds latency, bool error) noexcept;

  // One thread at a time (the sampler). `now` should not go backwards; if it does, the
  // counts go to the latest slot. inFlight is passed through into the result.
  LoadSignals sample(Clock::time_point now, std::uint32_t inFlight);

  std::size_t slotCount() const { return ring_.size(); }

  // Bucket i holds latencies in (bucketUpperBound(i - 1), bucketUpperBound(i)];
  // bucket 0 holds everything up to 1 µs. Indices past the last give the last.
  static std::chrono::microseconds bucketUpperBound(std::size_t index);
  static std::size_t bucketFor(std::chrono::microseconds latency);

 private:
  struct Counts {
    std::array<std::uint64_t, kBucketCount> buckets{};
    std::uint64_t errors = 0;
  };

  Counts readCumulative() const;

  // Written by every worker.
  std::array<std::atomic<std::uint64_t>, kBucketCount> buckets_{};
  alignas(64) std::atomic<std::uint64_t> errors_{0};

  // The sampler's own state, kept off the workers' cache lines.
  alignas(64) Clock::duration interval_;
  std::vector<Counts> ring_;
  Counts lastCumulative_;
  std::optional<std::int64_t> lastSlot_;  // absolute interval number of the last sample
};

}  // namespace cx::routing
