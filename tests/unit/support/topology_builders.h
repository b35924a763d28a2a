// Hand-built topology snapshots for the routing unit tests: a primary, tracked replicas
// and their degraded variants at a fixed time kNow, plus the requests and policies routed
// against them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "backends/topology.h"
#include "routing/router.h"

namespace cx::testing {

inline const backends::Clock::time_point kNow = backends::Clock::time_point{} + std::chrono::hours{1};
inline const std::string kReplidA = "98746368f34485b39506dc6d5fb06935188b86ed";

inline backends::BackendStatus primary(std::uint64_t offset = 1000, bool up = true) {
  backends::BackendStatus b;
  b.name = "primary";
  b.configuredPrimary = true;
  b.up = up;
  b.role = backends::NodeRole::Primary;
  b.linkUp = true;
  b.replid = kReplidA;
  b.offset = offset;
  return b;
}

// A healthy, tracked replica holding everything acknowledged `staleness` before kNow.
inline backends::BackendStatus replica(std::string name, std::uint64_t offset,
                                       std::chrono::milliseconds staleness = std::chrono::milliseconds{100}) {
  backends::BackendStatus b;
  b.name = std::move(name);
  b.up = true;
  b.role = backends::NodeRole::Replica;
  b.linkUp = true;
  b.replid = kReplidA;
  b.offset = offset;
  b.lagBytes = 1000 - offset;
  b.tracked = true;
  b.freshAsOf = kNow - staleness;
  return b;
}

// Up, but not tracked: no freshness to vouch for it.
inline backends::BackendStatus untracked(backends::BackendStatus b) {
  b.tracked = false;
  b.freshAsOf.reset();
  return b;
}

inline backends::BackendStatus loading(backends::BackendStatus b) {
  b.loading = true;
  b.tracked = false;
  b.freshAsOf.reset();
  return b;
}

inline backends::BackendStatus down(backends::BackendStatus b) {
  b.up = false;
  b.tracked = false;
  return b;
}

// A snapshot taken at kNow (the router does not read its generation). Static mode: slot
// 0 is the primary. Each node's standing follows from its fields, as the tracker sets it.
inline backends::Topology topology(std::vector<backends::BackendStatus> nodes) {
  backends::Topology t;
  t.generation = 7;
  t.takenAt = kNow;
  t.backends = std::move(nodes);
  for (std::size_t i = 0; i < t.backends.size(); ++i) {
    t.backends[i].namedPrimary = i == 0;
    t.backends[i].standing = backends::standingOf(t.backends[i], i == 0);
  }
  return t;
}

// Sentinel mode: the Sentinels name slot `primaryIndex` (kNoPrimary: nobody yet).
inline backends::Topology sentinelTopology(std::vector<backends::BackendStatus> nodes, std::size_t primaryIndex) {
  backends::Topology t;
  t.generation = 7;
  t.takenAt = kNow;
  t.sentinelMode = true;
  t.primaryIndex = primaryIndex;
  t.backends = std::move(nodes);
  for (std::size_t i = 0; i < t.backends.size(); ++i) {
    t.backends[i].namedPrimary = i == primaryIndex;
    t.backends[i].standing = backends::standingOf(t.backends[i], i == primaryIndex);
  }
  return t;
}

// A node the Sentinels no longer list.
inline backends::BackendStatus departed(backends::BackendStatus b) {
  b.member = false;
  return b;
}

// A read at `level`; the other fields default as in RouteRequest.
inline routing::RouteRequest read(routing::Level level,
                                  std::chrono::milliseconds maxStaleness = std::chrono::milliseconds{1000},
                                  std::uint64_t sessionOffset = 0) {
  routing::RouteRequest r;
  r.level = level;
  r.maxStaleness = maxStaleness;
  r.sessionOffset = sessionOffset;
  return r;
}

inline routing::Policy policy(routing::Level level, routing::Override override) {
  routing::Policy p;
  p.level = level;
  p.override = override;
  return p;
}

}  // namespace cx::testing
