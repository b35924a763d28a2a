// Routing decisions. Eligibility follows README "Consistency levels":
// - prefix, bounded, session need a *tracked* replica: answering polls, not loading or
//   resyncing, in the primary's replication history. A replica whose link is down while
//   the primary is up is not tracked (it may be about to resync); when the primary itself
//   is down the replicas' links are down too, yet each still holds exactly the prefix it
//   applied, so the tracker keeps them tracked and the bounds below stay valid (a bounded
//   read's bound grows with time since the last primary sample).
// - eventual takes any replica that answers and is not loading, the primary if none.
// - Only a node whose standing is Replica serves replica reads: an old primary still
//   saying master (Fenced), a node the Sentinels no longer list (Departed) or one not yet
//   polled never do. Writes and strong reads go to topology.primaryIndex; in sentinel mode
//   only once it is confirmed (named by the Sentinels and saying master itself).
#include "routing/router.h"

#include "backends/history.h"

namespace cx::routing {

using backends::NodeRole;
using backends::Topology;

namespace {

bool replicaUp(const backends::BackendStatus& b) {
  return b.up && b.role == NodeRole::Replica && b.standing == backends::Standing::Replica;
}

// The slots that are not the primary's, in slot order: replica number n.
std::size_t replicaCount(const Topology& topology) {
  return topology.backends.size() - (topology.hasPrimary() ? 1 : 0);
}
std::size_t replicaSlot(const Topology& topology, std::size_t n) {
  return topology.hasPrimary() && n >= topology.primaryIndex ? n + 1 : n;
}

}  // namespace

// Static mode: the connection, not the snapshot, is the judge (a stale "down" must not
// refuse a write the primary would take). Sentinel mode: only the confirmed primary,
// never a slot the Sentinels name that does not say master yet, nor an old primary come back.
bool primaryWritable(const Topology& topology) {
  if (!topology.hasPrimary()) return false;
  return !topology.sentinelMode || topology.primaryConfirmed();
}

bool qualifies(const RouteRequest& request, const Topology& topology, std::size_t index, Clock::time_point now) {
  if (index >= topology.backends.size()) return false;
  if (index == topology.primaryIndex) return primaryWritable(topology);
  const auto& b = topology.backends[index];
  switch (request.level) {
    case Level::Strong: return false;
    case Level::Eventual:
      // A loading replica answers ROLE but refuses every read with -LOADING.
      return replicaUp(b) && !b.loading;
    case Level::Prefix: return replicaUp(b) && b.tracked;
    case Level::Session: return replicaUp(b) && b.tracked && b.offset >= request.sessionOffset;
    case Level::Bounded: {
      if (!replicaUp(b) || !b.tracked) return false;
      auto bound = topology.stalenessBound(index, now);
      return bound && *bound <= request.maxStaleness;
    }
  }
  return false;
}

RouteDecision route(const RouteRequest& request, const Topology& topology, std::span<const BackendLoad> loads,
                    Clock::time_point now, ReplicaPreference preference) {
  RouteDecision decision;
  decision.backend = topology.primaryIndex;
  const bool primaryUp = topology.primary().up;
  if (request.isWrite || request.level == Level::Strong) {
    if (!primaryWritable(topology)) {
      decision.kind = RouteKind::PrimaryUnavailable;
      return decision;
    }
    decision.kind = RouteKind::Primary;
    decision.stalenessBound = std::chrono::milliseconds{0};
    return decision;
  }

  std::optional<std::size_t> best;
  auto load = [&](std::size_t k) { return k < loads.size() ? loads[k] : BackendLoad{}; };
  const std::size_t replicas = replicaCount(topology);
  for (std::size_t n = 0; n < replicas; ++n) {
    const std::size_t i = replicaSlot(topology, (n + preference.first) % replicas);
    if (!qualifies(request, topology, i, now)) continue;
    if (!best) {
      best = i;
      continue;
    }
    const BackendLoad a = load(i);
    const BackendLoad b = load(*best);
    const std::uint64_t slack = preference.stickiness;
    if (slack > 0) {
      const bool aStalled = a.waiting > 0 && now - a.waitingSince > preference.stalledAfter;
      const bool bStalled = b.waiting > 0 && now - b.waitingSince > preference.stalledAfter;
      if (aStalled != bStalled) {
        if (bStalled) best = i;
        continue;
      }
    }
    if (a.waiting + slack < b.waiting || b.waiting + slack < a.waiting) {
      if (a.waiting < b.waiting) best = i;
    } else if (slack > 0) {
      continue;  // within the slack: the replica met first keeps the read
    } else if (a.batchOpen != b.batchOpen) {
      if (a.batchOpen) best = i;
    } else if (topology.backends[i].offset > topology.backends[*best].offset) {
      best = i;
    }
  }
  if (best) {
    decision.kind = RouteKind::Replica;
    decision.backend = *best;
    decision.stalenessBound = topology.stalenessBound(*best, now);
    return decision;
  }

  if (request.level == Level::Eventual) {
    decision.fallbackReason = "no_healthy_replica";
  } else {
    decision.fallbackReason = "no_fresh_replica";
    if (request.onStale == OnStale::Wait) {
      decision.kind = RouteKind::Wait;
      return decision;
    }
    if (request.onStale == OnStale::Error) {
      decision.kind = RouteKind::NoFreshReplica;
      return decision;
    }
  }
  if (!primaryWritable(topology) || (!primaryUp && topology.backends.size() > 1)) {
    decision.kind = RouteKind::PrimaryUnavailable;
    return decision;
  }
  decision.kind = RouteKind::Primary;
  decision.stalenessBound = std::chrono::milliseconds{0};
  return decision;
}

std::optional<Level> relaxForLoad(const RouteRequest& request, Level floor, const Topology& topology,
                                  Clock::time_point now) {
  if (request.isWrite) return std::nullopt;  // writes are never downgraded
  RouteRequest candidate = request;
  for (int l = static_cast<int>(request.level) + 1; l <= static_cast<int>(floor); ++l) {
    candidate.level = static_cast<Level>(l);
    for (std::size_t i = 0; i < topology.backends.size(); ++i) {
      if (i != topology.primaryIndex && qualifies(candidate, topology, i, now)) return candidate.level;
    }
  }
  return std::nullopt;
}

LevelChoice chooseLevel(const Policy& policy, std::optional<Level> requested) {
  if (!requested) return {policy.level, false};
  switch (policy.override) {
    case Override::Any: return {*requested, false};
    case Override::Stronger:
      if (isStronger(*requested, policy.level) || *requested == policy.level) return {*requested, false};
      return {policy.level, true};
    case Override::None: return {policy.level, *requested != policy.level};
  }
  return {policy.level, false};
}

SessionRequirement mergeTokens(std::span<const session::SessionToken> tokens, const backends::BackendStatus& primary,
                               std::span<const backends::HistoryLink> lineage) {
  SessionRequirement out;
  if (tokens.empty()) return out;
  if (primary.replid.empty()) {
    out.status = SessionRequirement::Status::NoPrimaryState;
    return out;
  }
  // The links the tracker learned, plus the primary's own (it may be newer than them).
  std::optional<backends::HistoryLineage> known;
  for (const auto& t : tokens) {
    const std::uint64_t highest = std::max(t.writeOffset, t.readOffset);
    if (t.replid != primary.replid) {
      // Positions of an earlier history carry over below each promotion point on the way
      // (Redis sets second_repl_offset to the promotion offset + 1, shiftReplicationId(),
      // so a position equal to it includes a byte the new primary never received).
      if (!known) {
        known.emplace();
        for (const auto& link : lineage) known->learn(link.replid, link.previous, link.previousValidBelow);
        known->learn(primary.replid, primary.replid2, primary.secondReplOffset);
      }
      const auto fate = backends::translatePosition(t.replid, highest, primary.replid, known->links());
      if (!fate.valid()) {
        out.status = SessionRequirement::Status::HistoryLost;
        return out;
      }
    }
    out.writeOffset = std::max(out.writeOffset, t.writeOffset);
    out.readOffset = std::max(out.readOffset, t.readOffset);
  }
  if (out.required() > primary.offset) out.status = SessionRequirement::Status::BeyondPrimary;
  return out;
}

}  // namespace cx::routing
