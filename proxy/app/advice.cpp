// The advice windows (see advice.h).
#include "proxy/app/advice.h"

#include <cstdio>

namespace cx::proxy {

std::int64_t AdviceBoard::bucketIndex(backends::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::minutes>(t.time_since_epoch()) / kBucketLength;
}

AdviceBoard::Bucket& AdviceBoard::slot(Window& window, std::int64_t index) {
  Bucket& b = window[static_cast<std::size_t>(index % static_cast<std::int64_t>(kBuckets))];
  if (b.index != index) b = Bucket{index, 0, 0};  // a bucket from an hour ago: reuse it
  return b;
}

void AdviceBoard::sum(const Window& window, std::int64_t now, std::uint64_t& samples, std::uint64_t& identical) {
  samples = identical = 0;
  for (const Bucket& b : window) {
    if (b.index < 0 || b.index > now || now - b.index >= static_cast<std::int64_t>(kBuckets)) continue;
    samples += b.samples;
    identical += b.identical;
  }
}

void AdviceBoard::drawn(std::string_view rule, backends::Clock::time_point now) {
  const auto index = bucketIndex(now);
  std::lock_guard lock(mutex_);
  auto it = drawn_.find(rule);
  if (it == drawn_.end()) it = drawn_.emplace(std::string(rule), Window{}).first;
  ++slot(it->second, index).samples;
}

void AdviceBoard::record(const AdviceKey& key, bool identical, backends::Clock::time_point now) {
  const auto index = bucketIndex(now);
  std::lock_guard lock(mutex_);
  Bucket& b = slot(windows_[key], index);
  ++b.samples;
  if (identical) ++b.identical;
}

std::vector<AdviceRow> AdviceBoard::rows(backends::Clock::time_point now) const {
  const auto index = bucketIndex(now);
  std::vector<AdviceRow> out;
  std::lock_guard lock(mutex_);
  for (const auto& [key, window] : windows_) {
    AdviceRow row{key};
    sum(window, index, row.samples, row.identical);
    if (row.samples > 0) out.push_back(std::move(row));
  }
  return out;
}

std::vector<RuleSampleCount> AdviceBoard::drawnPerRule(backends::Clock::time_point now) const {
  const auto index = bucketIndex(now);
  std::vector<RuleSampleCount> out;
  std::lock_guard lock(mutex_);
  for (const auto& [rule, window] : drawn_) {
    std::uint64_t samples = 0, unused = 0;
    sum(window, index, samples, unused);
    if (samples > 0) out.push_back({rule, samples});
  }
  return out;
}

std::string adviceSentence(const AdviceRow& row) {
  char share[32];
  // Never round up to 100%: 99.996% shown as "100.00%" would promise more than was seen.
  const double percent = row.identicalShare() * 100.0;
  const double floored = static_cast<double>(static_cast<long long>(percent * 100.0)) / 100.0;
  std::snprintf(share, sizeof share, "%.2f%%", row.identical == row.samples ? 100.0 : floored);
  std::string out = "rule `" + row.key.rule + "`: " + share + " of " + std::string(toString(row.key.level)) + " reads ";
  if (row.key.level == routing::Level::Strong) {
    out += "would have been identical at " + std::string(toString(row.key.considered));
    if (row.key.considered == routing::Level::Bounded)
      out += " " + std::to_string(row.key.consideredBound.count()) + "ms";
  } else {
    out += "served by replicas were identical to the primary's answer";
  }
  out += " over the last hour (" + std::to_string(row.samples) + (row.samples == 1 ? " sample)" : " samples)");
  return out;
}

}  // namespace cx::proxy
