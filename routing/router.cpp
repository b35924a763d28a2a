// Routing decisions. Eligibility follows README "Consistency levels":
// - prefix, bounded, session need a *tracked* replica: answering polls, not loading or
//   resyncing, in the primary's replication history. A replica whose link is down while
//   the primary is up is not tracked (it may be about to resync); when the primary itself
//   is down the replicas' links are down too, yet each still holds exactly the prefix it
//   applied, so the tracker keeps them tracked and the bounds below stay valid (a bounded
//   read's bound grows with time since the last primary sample).
// - eventual takes any replica that answers and is not loading, the primary if none.
#include "routing/router.h"

namespace cx::routing {

using backends::NodeRole;
using backends::Topology;

namespace {

bool replicaUp(const backends::BackendStatus& b) { return b.up && b.role == NodeRole::Replica; }

}  // namespace

bool qualifies(const RouteRequest& request, const Topology& topology, std::size_t index,
               Clock::time_point now) {
  if (index == 0) return true;
  const auto& b = topology.backends[index];
  switch (request.level) {
    case Level::Strong:
      return false;
    case Level::Eventual:
      // A loading replica answers ROLE but refuses every read with -LOADING.
      return replicaUp(b) && !b.loading;
    case Level::Prefix:
      return replicaUp(b) && b.tracked;
    case Level::Session:
      return replicaUp(b) && b.tracked && b.offset >= request.sessionOffset;
    case Level::Bounded: {
      if (!replicaUp(b) || !b.tracked) return false;
      auto bound = topology.stalenessBound(index, now);
      return bound && *bound <= request.maxStaleness;
    }
  }
  return false;
}

RouteDecision route(const RouteRequest& request, const Topology& topology,
                    std::span<const BackendLoad> loads, Clock::time_point now,
                    ReplicaPreference preference) {
  RouteDecision decision;
  const bool primaryUp = topology.primary().up;
  if (request.isWrite || request.level == Level::Strong) {
    // The connection, not the snapshot, is the judge for the primary: a stale "down"
    // must not refuse a write the primary would take.
    decision.kind = RouteKind::Primary;
    decision.stalenessBound = std::chrono::milliseconds{0};
    return decision;
  }

  std::optional<std::size_t> best;
  auto load = [&](std::size_t k) { return k < loads.size() ? loads[k] : BackendLoad{}; };
  const std::size_t replicas = topology.backends.size() - 1;
  for (std::size_t n = 0; n < replicas; ++n) {
    const std::size_t i = 1 + (n + preference.first) % replicas;
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
  if (!primaryUp && topology.backends.size() > 1) {
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
    for (std::size_t i = 1; i < topology.backends.size(); ++i) {
      if (qualifies(candidate, topology, i, now)) return candidate.level;
    }
  }
  return std::nullopt;
}

LevelChoice chooseLevel(const Policy& policy, std::optional<Level> requested) {
  if (!requested) return {policy.level, false};
  switch (policy.override) {
    case Override::Any:
      return {*requested, false};
    case Override::Stronger:
      if (isStronger(*requested, policy.level) || *requested == policy.level) return {*requested, false};
      return {policy.level, true};
    case Override::None:
      return {policy.level, *requested != policy.level};
  }
  return {policy.level, false};
}

SessionRequirement mergeTokens(std::span<const session::SessionToken> tokens,
                               const backends::BackendStatus& primary) {
  SessionRequirement out;
  if (tokens.empty()) return out;
  if (primary.replid.empty()) {
    out.status = SessionRequirement::Status::NoPrimaryState;
    return out;
  }
  for (const auto& t : tokens) {
    const std::uint64_t highest = std::max(t.writeOffset, t.readOffset);
    if (t.replid == primary.replid) {
      // Same history: fine as long as the primary has got that far.
    } else if (!primary.replid2.empty() && t.replid == primary.replid2 &&
               highest < primary.secondReplOffset) {
      // Positions of the previous history up to the promotion point carry over. Redis
      // sets second_repl_offset to the promotion offset + 1 (shiftReplicationId()), so a
      // position equal to it includes a byte the new primary never received.
    } else {
      out.status = SessionRequirement::Status::HistoryLost;
      return out;
    }
    out.writeOffset = std::max(out.writeOffset, t.writeOffset);
    out.readOffset = std::max(out.readOffset, t.readOffset);
  }
  if (out.required() > primary.offset) out.status = SessionRequirement::Status::BeyondPrimary;
  return out;
}

}  // namespace cx::routing
