// Immutable snapshots of what the replication tracker knows about every backend, and
// the offset history that turns a replica's applied offset into a staleness bound.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace cx::backends {

using Clock = std::chrono::steady_clock;

enum class NodeRole : std::uint8_t { Unknown, Primary, Replica };
std::string_view toString(NodeRole role);

// Staleness bounds (README "Consistency levels"). The tracker samples the primary's replication offset,
// remembering when each poll was *sent*. The reply's offset P is at least the offset at
// send time t, so every write acknowledged before t has an offset <= P. A replica that
// has applied O_R >= P therefore holds every write acknowledged before t. The latest
// such t is the replica's "fresh as of" time t*, and now - t* bounds its staleness.
// An idle primary keeps producing samples with the same offset, so an idle replica's
// t* keeps advancing: idleness does not look like staleness. Offsets are compared with
// >= only (the primary's replication PINGs move it by a few bytes every 10 s).
// Runs of equal offsets collapse into their latest sample, which changes no answer.
class OffsetHistory {
 public:
  explicit OffsetHistory(std::size_t capacity = 8192) : capacity_(capacity) {}

  // Samples must arrive in send-time order; offsets never decrease within one history.
  void record(Clock::time_point sentAt, std::uint64_t primaryOffset);
  // The latest sample time whose offset <= appliedOffset; nullopt if none (the replica
  // is behind every sample still remembered).
  std::optional<Clock::time_point> freshAsOf(std::uint64_t appliedOffset) const;
  void clear() { samples_.clear(); }
  bool empty() const { return samples_.empty(); }

 private:
  struct Sample {
    Clock::time_point sentAt;
    std::uint64_t offset;
  };
  std::size_t capacity_;
  std::deque<Sample> samples_;
};

struct BackendStatus {
  std::string name;
  std::string address;
  bool configuredPrimary = false;
  bool up = false;                 // answered its latest poll, within tracking.down_after
  NodeRole role = NodeRole::Unknown;
  bool loading = false;
  bool linkUp = false;             // replica: master_link_status:up
  bool resyncing = false;          // replica: master_sync_in_progress:1 (full sync)
  std::string replid;              // master_replid (the history the node is in)
  std::string replid2;             // master_replid2 (the history before a promotion)
  std::uint64_t secondReplOffset = 0;  // replid2 positions < this are held (Redis: promotion offset + 1)
  std::uint64_t offset = 0;        // applied replication offset (ROLE)
  std::uint64_t lagBytes = 0;      // primary offset - offset (replicas)
  std::optional<Clock::time_point> freshAsOf;  // replicas, see OffsetHistory
  bool tracked = false;            // replica fit for bounded/session/prefix reads
  std::string lastError;
  Clock::time_point lastSeen{};
};

struct Topology {
  std::uint64_t generation = 0;
  Clock::time_point takenAt{};
  std::vector<BackendStatus> backends;  // [0] is the configured primary

  const BackendStatus& primary() const { return backends.front(); }
  // now - freshAsOf for a tracked replica; 0 for the primary; nullopt when unknown.
  std::optional<std::chrono::milliseconds> stalenessBound(std::size_t index, Clock::time_point now) const;
};

}  // namespace cx::backends
