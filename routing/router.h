// The router: pure decisions from values (ARCHITECTURE.md). Given what a request needs, the
// current topology snapshot, this worker's backend loads and a time, it picks the
// backend that can provably serve it, or says why none can.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "backends/topology.h"
#include "routing/level.h"
#include "session/token.h"

namespace cx::routing {

using backends::Clock;

struct RouteRequest {
  bool isWrite = false;
  Level level = Level::Session;
  std::chrono::milliseconds maxStaleness{1000};  // bounded
  std::uint64_t sessionOffset = 0;               // session: position (current history) to have applied
  OnStale onStale = OnStale::Primary;
};

enum class RouteKind : std::uint8_t {
  Primary,             // serve on topology.backends[topology.primaryIndex]
  Replica,             // serve on topology.backends[backend]
  Wait,                // on_stale: wait — retry with a newer snapshot until the deadline
  NoFreshReplica,      // on_stale: error
  PrimaryUnavailable,  // the level needs the primary and the tracker says it is down, or
                       // (sentinel mode) no primary is confirmed: a failover under way
};

// What this worker has outstanding on one backend, for choosing among replicas.
struct BackendLoad {
  std::uint32_t waiting = 0;  // calls sent to it whose replies have not all arrived
  bool batchOpen = false;     // calls queued for its next write, not sent yet
  // When the oldest of those calls was sent (max() when none waits).
  Clock::time_point waitingSince = Clock::time_point::max();
};

struct RouteDecision {
  RouteKind kind = RouteKind::Primary;
  std::size_t backend = 0;
  // Upper bound on the staleness of what this backend holds (0 for the primary);
  // nullopt for an eventual read from a replica the tracker cannot bound.
  std::optional<std::chrono::milliseconds> stalenessBound;
  // Set when the read could not go where its level first pointed (a replica) and went
  // to the primary instead: the reason, for cxproxy_fallbacks_total.
  std::string_view fallbackReason;
};

// Which replica a worker reaches for first among those that qualify.
struct ReplicaPreference {
  // Replicas are considered from replica number `first` (mod the count) on.
  std::size_t first = 0;
  // 0: least loaded. Otherwise the first qualifying replica keeps the read unless another
  // has more than this many fewer calls waiting: reads stay together in big pipelined
  // writes (one send and one server wake-up for many) and spread once one replica's
  // queue runs that much deeper than another's.
  std::uint32_t stickiness = 0;
  // With stickiness: a replica whose oldest waiting call was sent longer ago than this is
  // stalling (a fork, a pause, a dead link not yet detected) and loses its hold: one
  // that is not stalling takes the read, so a stall costs the reads of these few ms,
  // not the next `stickiness` of them.
  std::chrono::milliseconds stalledAfter{10};
};

// loads[i] is this worker's load on backends[i] (may be short or empty: idle). Among
// the replicas that qualify, with stickiness 0: the one with the fewest calls waiting
// wins; on a tie, one with a write already forming (the read joins it: one more command
// in a write that leaves anyway, instead of a write and a server wake-up of its own),
// then the highest offset; on a full tie, the first from `preference.first` on, so a
// caller that varies it spreads ties instead of always picking the first replica.
// With stickiness > 0 see ReplicaPreference.
RouteDecision route(const RouteRequest& request, const backends::Topology& topology, std::span<const BackendLoad> loads,
                    Clock::time_point now, ReplicaPreference preference = {});

// Can the primary slot take writes and strong reads? Static mode: always (the connection
// judges). Sentinel mode: only a confirmed primary (Topology::primaryConfirmed()).
bool primaryWritable(const backends::Topology& topology);

// Can backends[i] serve `request` at its level right now? (The primary can when
// primaryWritable().)
bool qualifies(const RouteRequest& request, const backends::Topology& topology, std::size_t index,
               Clock::time_point now);

// Load-driven downgrading (README "Rules"): for a read that would go to the primary while it
// is overloaded, the strongest level weaker than request.level, and not weaker than
// `floor`, that some replica can serve right now. nullopt when none can: the read then
// stays on the primary at its level (never an unannounced weaker read).
std::optional<Level> relaxForLoad(const RouteRequest& request, Level floor, const backends::Topology& topology,
                                  Clock::time_point now);

// The level a request is served at, from the rule's policy and the client's header.
struct LevelChoice {
  Level level;
  bool headerOverridden = false;  // the header asked for something the policy refused
};
LevelChoice chooseLevel(const Policy& policy, std::optional<Level> requested);

// Session tokens to one requirement in the primary's current history (README "Consistency levels", ARCHITECTURE.md
// "Session tokens"). Positions from the previous history (master_replid2) carry over up to second_repl_offset
// (exclusive); any other history cannot be vouched for.
struct SessionRequirement {
  enum class Status : std::uint8_t {
    Ok,
    HistoryLost,     // 409 session_history_lost
    BeyondPrimary,   // a position past the primary's offset: confirm with a live ROLE
    NoPrimaryState,  // the tracker has never seen the primary: cannot judge
  } status = Status::Ok;
  std::uint64_t writeOffset = 0;
  std::uint64_t readOffset = 0;
  std::uint64_t required() const { return writeOffset > readOffset ? writeOffset : readOffset; }
};
// `lineage`: the promotions the tracker has seen (Topology::lineage); the primary's own
// master_replid2 link is always used too. A position the lineage does not carry into the
// primary's history (lost in a failover, or a history it cannot lead back to) is HistoryLost.
SessionRequirement mergeTokens(std::span<const session::SessionToken> tokens, const backends::BackendStatus& primary,
                               std::span<const backends::HistoryLink> lineage = {});

}  // namespace cx::routing
