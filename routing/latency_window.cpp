// Sliding-window latency histogram for the load controller (see latency_window.h).
#include "routing/latency_window.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace cx::routing {
namespace {

constexpr std::size_t kBuckets = LatencyWindow::kBucketCount;

// Upper edges in µs: 1, 2, 3, 4, 6, 8, 11, ... each ×4/3 rounded up (at least +1), up to
// ~116 s in bucket 62; bucket 63 takes the rest.
constexpr std::array<std::int64_t, kBuckets> kUpperBoundsUs = [] {
  std::array<std::int64_t, kBuckets> bounds{};
  bounds[0] = 1;
  for (std::size_t i = 1; i + 1 < kBuckets; ++i) {
    const std::int64_t previous = bounds[i - 1];
    bounds[i] = std::max(previous + 1, (previous * 4 + 2) / 3);
  }
  bounds[kBuckets - 1] = std::numeric_limits<std::int64_t>::max();
  return bounds;
}();

static_assert(kUpperBoundsUs[kBuckets - 2] >= 60'000'000, "buckets must cover a minute");

std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

std::size_t ringIndex(std::int64_t slot, std::int64_t slotCount) {
  return static_cast<std::size_t>((slot % slotCount + slotCount) % slotCount);
}

}  // namespace

LatencyWindow::LatencyWindow(std::chrono::milliseconds window, std::chrono::milliseconds interval)
    : interval_(interval) {
  if (window.count() <= 0 || interval.count() <= 0) {
    throw std::invalid_argument("latency window and sample interval must be positive");
  }
  const auto slots = (window.count() + interval.count() - 1) / interval.count();
  ring_.resize(static_cast<std::size_t>(slots));
}

std::chrono::microseconds LatencyWindow::bucketUpperBound(std::size_t index) {
  return std::chrono::microseconds{kUpperBoundsUs[std::min(index, kBuckets - 1)]};
}

std::size_t LatencyWindow::bucketFor(std::chrono::microseconds latency) {
  const auto it = std::lower_bound(kUpperBoundsUs.begin(), kUpperBoundsUs.end(), latency.count());
  return static_cast<std::size_t>(it - kUpperBoundsUs.begin());
}

void LatencyWindow::record(std::chrono::microseconds latency, bool error) noexcept {
  buckets_[bucketFor(latency)].fetch_add(1, std::memory_order_relaxed);
  if (error) errors_.fetch_add(1, std::memory_order_relaxed);
}

LatencyWindow::Counts LatencyWindow::readCumulative() const {
  Counts counts;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    counts.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  }
  counts.errors = errors_.load(std::memory_order_relaxed);
  return counts;
}

LoadSignals LatencyWindow::sample(Clock::time_point now, std::uint32_t inFlight) {
  // Move what was recorded since the last sample into the slot of `now`.
  const Counts cumulative = readCumulative();
  const auto slotCount = static_cast<std::int64_t>(ring_.size());
  std::int64_t slot = floorDiv(now.time_since_epoch().count(), interval_.count());
  if (!lastSlot_) {
    std::fill(ring_.begin(), ring_.end(), Counts{});
  } else if (slot > *lastSlot_) {
    const std::int64_t expired = std::min(slot - *lastSlot_, slotCount);
    for (std::int64_t k = 0; k < expired; ++k) ring_[ringIndex(slot - k, slotCount)] = Counts{};
  } else {
    slot = *lastSlot_;
  }
  Counts& current = ring_[ringIndex(slot, slotCount)];
  for (std::size_t i = 0; i < kBuckets; ++i) {
    current.buckets[i] += cumulative.buckets[i] - lastCumulative_.buckets[i];
  }
  current.errors += cumulative.errors - lastCumulative_.errors;
  lastCumulative_ = cumulative;
  lastSlot_ = slot;

  // Sum the window and read the 99th percentile off it.
  Counts window;
  for (const Counts& counts : ring_) {
    for (std::size_t i = 0; i < kBuckets; ++i) window.buckets[i] += counts.buckets[i];
    window.errors += counts.errors;
  }
  std::uint64_t total = 0;
  for (std::uint64_t count : window.buckets) total += count;

  LoadSignals signals;
  signals.inFlight = inFlight;
  signals.samples = total;
  if (total == 0) return signals;
  const std::uint64_t rank = (total * 99 + 99) / 100;  // nearest rank: ceil(0.99 × total)
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += window.buckets[i];
    if (seen >= rank) {
      signals.p99 = bucketUpperBound(i);
      break;
    }
  }
  signals.errorRate = std::min(1.0, static_cast<double>(window.errors) / static_cast<double>(total));
  return signals;
}

}  // namespace cx::routing
