// Replication histories across promotions, and what a position recorded in one history
// means in another (README "Failover"). A Redis node promoted from replica to primary
// starts a new replication id and keeps the old one as master_replid2, valid below
// second_repl_offset (the first byte of the old history it never received). Offsets carry
// on unchanged across the promotion, so a position below that point names the same
// state in both histories; a position at or beyond it was written (or read) on a node
// whose later writes the new history does not contain. Pure values, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cx::backends {

// `replid` continues `previous` for every position < `previousValidBelow`.
struct HistoryLink {
  std::string replid;
  std::string previous;
  std::uint64_t previousValidBelow = 0;
  friend bool operator==(const HistoryLink&, const HistoryLink&) = default;
};

// The links the tracker has learned from the nodes' INFO replication, newest last.
class HistoryLineage {
 public:
  explicit HistoryLineage(std::size_t capacity = 32) : capacity_(capacity) {}
  // What one node reports: master_replid, master_replid2, second_repl_offset. A node
  // with no previous history (replid2 empty or all zeros) teaches nothing. Several nodes
  // report the same link with different bounds (a replica that followed the promotion
  // by PSYNC reports its own offset + 1 then, lower than the new primary's); every such
  // statement is true, and the highest is kept. Returns true when the lineage changed.
  bool learn(std::string_view replid, std::string_view replid2, std::uint64_t secondReplOffset);
  std::span<const HistoryLink> links() const { return links_; }

 private:
  std::size_t capacity_;
  std::vector<HistoryLink> links_;
};

enum class PositionFate : std::uint8_t {
  Current,    // already in the target history
  Carried,    // in an earlier history, below every promotion point on the way: valid
  Lost,       // in an earlier history, at or beyond a promotion point: not in the target
  Unrelated,  // a history the lineage does not lead back to (restarted empty, resynced
              // from scratch, foreign, or older than anything learned): cannot be vouched for
};
std::string_view toString(PositionFate fate);

struct TranslatedPosition {
  PositionFate fate = PositionFate::Unrelated;
  std::uint64_t offset = 0;  // Current/Carried: the same position in the target history
  // Lost: the first position of the token's history the target does not hold.
  std::uint64_t lostFrom = 0;
  bool valid() const { return fate == PositionFate::Current || fate == PositionFate::Carried; }
};

// Where position `offset` of history `replid` stands in history `target` (the primary's,
// or a replica's). Walks back from `target` through the links; each promotion on the way
// bounds what carries over. Whether the target has got *as far as* the position (its
// offset now) is a separate question for the caller.
TranslatedPosition translatePosition(std::string_view replid, std::uint64_t offset, std::string_view target,
                                     std::span<const HistoryLink> lineage);

}  // namespace cx::backends
