// Offset history and staleness arithmetic (see the comment in topology.h).
#include "backends/topology.h"

#include <algorithm>

namespace cx::backends {

std::string_view toString(NodeRole role) {
  switch (role) {
    case NodeRole::Primary: return "primary";
    case NodeRole::Replica: return "replica";
    case NodeRole::Unknown: return "unknown";
  }
  return "unknown";
}

std::string_view toString(Standing standing) {
  switch (standing) {
    case Standing::Unknown: return "unknown";
    case Standing::Primary: return "primary";
    case Standing::PrimaryPending: return "primary_pending";
    case Standing::Replica: return "replica";
    case Standing::Fenced: return "fenced";
    case Standing::Departed: return "departed";
  }
  return "unknown";
}

Standing standingOf(const BackendStatus& s, bool named) {
  if (!s.member) return Standing::Departed;
  const bool saysMaster = s.up && s.role == NodeRole::Primary;
  if (named) return saysMaster ? Standing::Primary : Standing::PrimaryPending;
  if (saysMaster) return Standing::Fenced;
  // A replica, or down: the role it last reported is what it would be if it answered
  // again (a replica's reads still need `up`; see the router).
  if (s.role == NodeRole::Replica) return Standing::Replica;
  return Standing::Unknown;
}

const BackendStatus& Topology::primary() const {
  static const BackendStatus kNone = [] {
    BackendStatus b;
    b.name = "none";
    b.lastError = "no primary known";
    return b;
  }();
  return hasPrimary() ? backends[primaryIndex] : kNone;
}

std::optional<std::size_t> Topology::indexOf(std::string_view name) const {
  for (std::size_t i = 0; i < backends.size(); ++i) {
    if (backends[i].name == name) return i;
  }
  return std::nullopt;
}

void OffsetHistory::record(Clock::time_point sentAt, std::uint64_t primaryOffset) {
  if (!samples_.empty()) {
    Sample& last = samples_.back();
    if (sentAt < last.sentAt) return;  // out of order: ignore, never move time backwards
    if (primaryOffset < last.offset) {
      samples_.clear();  // a new history (should come with a replid change)
    } else if (primaryOffset == last.offset) {
      last.sentAt = sentAt;
      return;
    }
  }
  samples_.push_back({sentAt, primaryOffset, sentAt});
  if (samples_.size() > capacity_) samples_.pop_front();
}

std::optional<Clock::time_point> OffsetHistory::freshAsOf(std::uint64_t appliedOffset) const {
  // Offsets increase along the deque: find the last sample with offset <= appliedOffset.
  auto it = std::upper_bound(samples_.begin(), samples_.end(), appliedOffset,
                             [](std::uint64_t off, const Sample& s) { return off < s.offset; });
  if (it == samples_.begin()) return std::nullopt;
  return std::prev(it)->sentAt;
}

std::optional<Clock::time_point> OffsetHistory::firstBeyond(std::uint64_t appliedOffset) const {
  auto it = std::upper_bound(samples_.begin(), samples_.end(), appliedOffset,
                             [](std::uint64_t off, const Sample& s) { return off < s.offset; });
  if (it == samples_.end()) return std::nullopt;
  return it->firstSentAt;
}

std::optional<std::chrono::milliseconds> Topology::stalenessBound(std::size_t index, Clock::time_point now) const {
  const BackendStatus& b = backends[index];
  if (b.role == NodeRole::Primary) return std::chrono::milliseconds{0};
  if (!b.tracked || !b.freshAsOf) return std::nullopt;
  auto age = now - *b.freshAsOf;
  if (age < Clock::duration::zero()) age = Clock::duration::zero();
  // Round up: a bound must never understate.
  return std::chrono::ceil<std::chrono::milliseconds>(age);
}

}  // namespace cx::backends
