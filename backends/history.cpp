// Replication lineage and position translation (see history.h).
#include "backends/history.h"

#include <algorithm>
#include <limits>

namespace cx::backends {

namespace {

bool noHistory(std::string_view replid) {
  return replid.empty() || std::all_of(replid.begin(), replid.end(), [](char c) { return c == '0'; });
}

}  // namespace

bool HistoryLineage::learn(std::string_view replid, std::string_view replid2, std::uint64_t secondReplOffset) {
  if (noHistory(replid) || noHistory(replid2) || replid == replid2 || secondReplOffset == 0) return false;
  for (auto& link : links_) {
    if (link.replid == replid && link.previous == replid2) {
      if (secondReplOffset <= link.previousValidBelow) return false;
      link.previousValidBelow = secondReplOffset;
      return true;
    }
  }
  links_.push_back({std::string(replid), std::string(replid2), secondReplOffset});
  if (links_.size() > capacity_) links_.erase(links_.begin());
  return true;
}

std::string_view toString(PositionFate fate) {
  switch (fate) {
    case PositionFate::Current: return "current";
    case PositionFate::Carried: return "carried";
    case PositionFate::Lost: return "lost";
    case PositionFate::Unrelated: return "unrelated";
  }
  return "unrelated";
}

TranslatedPosition translatePosition(std::string_view replid, std::uint64_t offset, std::string_view target,
                                     std::span<const HistoryLink> lineage) {
  TranslatedPosition out;
  if (replid.empty() || target.empty()) return out;
  if (replid == target) return {PositionFate::Current, offset, 0};
  // Walk back from the target. Each step can only go to an older history; the step
  // count bound makes a cycle (not produced by Redis) harmless.
  std::string_view current = target;
  std::uint64_t bound = std::numeric_limits<std::uint64_t>::max();
  for (std::size_t step = 0; step <= lineage.size(); ++step) {
    // Several links can continue into `current` only if the lineage learned
    // inconsistent facts; take the first, the oldest learned.
    auto link = std::find_if(lineage.begin(), lineage.end(), [&](const HistoryLink& l) { return l.replid == current; });
    if (link == lineage.end()) return out;
    bound = std::min(bound, link->previousValidBelow);
    if (link->previous == replid) {
      if (offset < bound) return {PositionFate::Carried, offset, 0};
      return {PositionFate::Lost, 0, bound};
    }
    current = link->previous;
  }
  return out;
}

}  // namespace cx::backends
