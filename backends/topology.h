// Immutable snapshots of what the replication tracker knows about every backend, and
// the offset history that turns a replica's applied offset into a staleness bound.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "backends/history.h"

namespace cx::backends {

using Clock = std::chrono::steady_clock;

enum class NodeRole : std::uint8_t { Unknown, Primary, Replica };
std::string_view toString(NodeRole role);

// Where a backend stands, from what the Sentinels say (sentinel mode) and what the node
// says of itself (ROLE). Only Primary takes writes and strong reads; only Replica serves
// replica reads. In static mode the configured primary is the named one.
enum class Standing : std::uint8_t {
  Unknown,         // not polled successfully yet, or down and named by nobody
  Primary,         // named primary and its ROLE says master
  PrimaryPending,  // named primary, but down or its ROLE does not say master (yet)
  Replica,         // ROLE says slave
  Fenced,          // ROLE says master but it is not the named primary: an old primary
                   // come back, or one that was never demoted; its writes will be lost
  Departed,        // no longer a member (sentinel mode); the slot is kept, see Topology
};
std::string_view toString(Standing standing);
struct BackendStatus;
// Where a backend stands from its fields member, up and role, and whether it is the named
// primary (the fencing rule: only the named node that says master is the primary).
Standing standingOf(const BackendStatus& status, bool named);

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
  // The send time of the first poll that saw an offset > appliedOffset (the first of a
  // collapsed run): by the time that poll was answered the primary had moved past
  // appliedOffset, and at the previous sample's send time it had not. nullopt if no
  // remembered sample is beyond it.
  std::optional<Clock::time_point> firstBeyond(std::uint64_t appliedOffset) const;
  void clear() { samples_.clear(); }
  bool empty() const { return samples_.empty(); }

 private:
  struct Sample {
    Clock::time_point sentAt;  // the latest poll that saw this offset (a collapsed run's last)
    std::uint64_t offset;
    Clock::time_point firstSentAt;  // the first poll that saw it (firstBeyond)
  };
  std::size_t capacity_;
  std::deque<Sample> samples_;
};

struct BackendStatus {
  std::string name;
  std::string address;
  bool configuredPrimary = false;  // static mode: the configured primary (slot 0)
  bool namedPrimary = false;       // the Sentinels (static mode: the config) name it primary
  bool member = true;              // sentinel mode: the Sentinels list it
  Standing standing = Standing::Unknown;
  // Bumped when this slot is handed to another address (see Topology); a worker that
  // keeps per-slot state (connections, metric children) rebuilds it on a change.
  std::uint32_t slotGeneration = 0;
  bool up = false;  // answered its latest poll, within tracking.down_after
  NodeRole role = NodeRole::Unknown;
  bool loading = false;
  bool linkUp = false;                         // replica: master_link_status:up
  bool resyncing = false;                      // replica: master_sync_in_progress:1 (full sync)
  std::string replid;                          // master_replid (the history the node is in)
  std::string replid2;                         // master_replid2 (the history before a promotion)
  std::uint64_t secondReplOffset = 0;          // replid2 positions < this are held (Redis: promotion offset + 1)
  std::uint64_t offset = 0;                    // applied replication offset (ROLE)
  std::uint64_t lagBytes = 0;                  // primary offset - offset (replicas)
  std::optional<Clock::time_point> freshAsOf;  // replicas, see OffsetHistory
  bool tracked = false;                        // replica fit for bounded/session/prefix reads
  std::string lastError;
  Clock::time_point lastSeen{};
};

// One configured Sentinel as the snapshot reports it (sentinel mode).
struct SentinelStatus {
  std::string address;  // as configured: the cxproxy_sentinel_up label
  bool up = false;
  bool subscribed = false;
  std::uint64_t configEpoch = 0;  // of its latest answer
  std::string lastError;
};

// Backends are slots. Static mode: the configured primary is slot 0, the replicas follow
// in config order, primaryIndex is always 0. Sentinel mode: a slot is assigned to an
// address (host:port) the first time the Sentinels list it and keeps it: a node that
// leaves stays in its slot as Departed, one that comes back gets its slot again, so
// indices never shift and per-slot state held by workers stays valid. Only when every
// slot is taken (kMaxBackends) is the longest-departed slot handed to a new address, with
// slotGeneration bumped. primaryIndex is the slot the Sentinels name, whatever its ROLE
// says (check standing == Primary before writing); kNoPrimary before discovery.
struct Topology {
  static constexpr std::size_t kMaxBackends = 64;
  static constexpr std::size_t kNoPrimary = std::numeric_limits<std::size_t>::max();

  std::uint64_t generation = 0;
  Clock::time_point takenAt{};
  std::vector<BackendStatus> backends;  // slots, see above
  std::size_t primaryIndex = 0;
  bool sentinelMode = false;
  // Sentinel mode: the config epoch the membership was taken from, each Sentinel's
  // state, when a +switch-master was last heard (max(): never) and when the current
  // primary was first confirmed (named and saying master; max(): none yet).
  std::uint64_t configEpoch = 0;
  std::vector<SentinelStatus> sentinels;
  Clock::time_point lastSwitchMasterAt = Clock::time_point::max();
  Clock::time_point primaryConfirmedAt = Clock::time_point::max();
  std::uint64_t primaryChanges = 0;  // confirmed primary moved to another node
  // Every promotion the tracker has seen in the nodes' INFO (history.h): what a session
  // position recorded in an earlier history means in the primary's.
  std::vector<HistoryLink> lineage;

  bool hasPrimary() const { return primaryIndex < backends.size(); }
  // The named primary; a placeholder that is down and in no history when there is none.
  const BackendStatus& primary() const;
  // Named and its own ROLE says master: writes and strong reads may go to it.
  bool primaryConfirmed() const { return hasPrimary() && primary().standing == Standing::Primary; }
  // The slot of `name` (host:port in sentinel mode), if any.
  std::optional<std::size_t> indexOf(std::string_view name) const;
  // now - freshAsOf for a tracked replica; 0 for the primary; nullopt when unknown.
  std::optional<std::chrono::milliseconds> stalenessBound(std::size_t index, Clock::time_point now) const;
};

}  // namespace cx::backends
