// Every Prometheus metric family cxproxy exports (README "Metrics"), defined in one place.
// Families are created once at start-up; label children are looked up through small
// caches so the hot path does not take the registry's mutex for a known label set. The
// families every request records (requests, durations, served staleness, backend calls)
// are sharded per thread (metrics/sharded.h) and exported next to the registry's.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/sharded.h"

namespace cx::metrics {

template <typename F>
struct ChildOf;
template <typename T>
struct ChildOf<prometheus::Family<T>> {
  using type = T;
};
template <typename T>
struct ChildOf<ShardedFamily<T>> {
  using type = T;
};

class Metrics {
 public:
  Metrics();

  prometheus::Registry& registry() { return *registry_; }
  std::string serialize() const;  // Prometheus text format 0.0.4, registry then collectables
  // Adds families computed at scrape time (process metrics are registered by the
  // constructor). Call during start-up, before serialize() runs on another thread.
  void addCollectable(std::shared_ptr<const prometheus::Collectable> collectable);
  // Creates, at 0, the series of one backend whose label values are known in advance
  // (errors by reason, calls by result), so that `increase()` sees its first event.
  // Call when a backend becomes known (start-up, or discovery).
  void exportBackend(std::string_view backend);

  // Thread-safe; children are created on first use and then cached.
  ShardedCounter& requests(std::string_view op, std::string_view requested, std::string_view served,
                           std::string_view role, int code);
  ShardedHistogram& requestDuration(std::string_view op, std::string_view role);
  ShardedHistogram& readStaleness(std::string_view level);
  prometheus::Gauge& replicaLagBytes(std::string_view backend);
  prometheus::Gauge& replicaStaleness(std::string_view backend);
  prometheus::Gauge& backendUp(std::string_view backend, std::string_view role);
  prometheus::Counter& violations(std::string_view type);
  prometheus::Counter& quorumFailures(std::string_view op);
  prometheus::Counter& downgrades(std::string_view from, std::string_view to, std::string_view reason);
  prometheus::Gauge& overloaded() { return *overloaded_; }
  prometheus::Counter& fallbacks(std::string_view from, std::string_view to, std::string_view reason);
  prometheus::Counter& backendErrors(std::string_view backend, std::string_view reason);
  prometheus::Counter& sessionTokensRejected(std::string_view reason);
  prometheus::Gauge& connections(std::string_view listener);
  prometheus::Counter& configReloads(std::string_view result);
  // Sentinel mode (README "Failover"): the confirmed primary moved to another node; each
  // configured Sentinel answering (label: the address as configured).
  prometheus::Counter& primaryChanges();
  // Redis Cluster redirects by type ("moved" | "ask"); exported at 0 from the start.
  prometheus::Counter& clusterRedirects(std::string_view type);
  prometheus::Gauge& sentinelUp(std::string_view sentinel);
  // One backend call as the data path saw it; `result` is e.g. ok, error, timeout.
  ShardedCounter& backendRequests(std::string_view backend, std::string_view result);
  ShardedHistogram& backendRequestDuration(std::string_view backend);
  // The read audit (README "Audit and advice"): audits by result (match, mismatch, stale,
  // skipped, error) and how stale an audited replica read really was, by served level.
  prometheus::Counter& audits(std::string_view result);
  prometheus::Histogram& auditObservedStaleness(std::string_view level);
  // Every family, registry and collectables, as a scrape would see them (the status page
  // summarises traffic from them). Thread-safe.
  std::vector<prometheus::MetricFamily> collect() const;

 private:
  // The child of `family` with labels names[i]=values[i].
  template <typename F>
  typename ChildOf<F>::type& child(F& family, std::initializer_list<std::string_view> values,
                                   std::initializer_list<std::string_view> names,
                                   const std::vector<double>* buckets = nullptr);

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<ShardedFamily<ShardedCounter>> requests_;
  std::shared_ptr<ShardedFamily<ShardedHistogram>> requestDuration_;
  std::shared_ptr<ShardedFamily<ShardedHistogram>> readStaleness_;
  prometheus::Family<prometheus::Gauge>* replicaLagBytes_;
  prometheus::Family<prometheus::Gauge>* replicaStaleness_;
  prometheus::Family<prometheus::Gauge>* backendUp_;
  prometheus::Family<prometheus::Counter>* violations_;
  prometheus::Family<prometheus::Counter>* quorumFailures_;
  prometheus::Family<prometheus::Counter>* downgrades_;
  prometheus::Family<prometheus::Gauge>* overloadedFamily_;
  prometheus::Gauge* overloaded_;
  prometheus::Family<prometheus::Counter>* fallbacks_;
  prometheus::Family<prometheus::Counter>* backendErrors_;
  prometheus::Family<prometheus::Counter>* tokensRejected_;
  prometheus::Family<prometheus::Gauge>* connections_;
  prometheus::Family<prometheus::Counter>* configReloads_;
  prometheus::Family<prometheus::Counter>* primaryChanges_;
  prometheus::Family<prometheus::Counter>* clusterRedirects_;
  prometheus::Family<prometheus::Gauge>* sentinelUp_;
  prometheus::Family<prometheus::Counter>* audits_;
  prometheus::Family<prometheus::Histogram>* auditStaleness_;
  std::shared_ptr<ShardedFamily<ShardedCounter>> backendRequests_;
  std::shared_ptr<ShardedFamily<ShardedHistogram>> backendRequestDuration_;
  std::vector<std::shared_ptr<const prometheus::Collectable>> collectables_;

  // Every counter series whose labels are known in advance, at 0 (see kKnown* in metrics.cpp).
  void exportKnownSeries();

  std::mutex mutex_;  // guards Family::Add on a cache miss
  std::uint64_t instanceId_;
};

}  // namespace cx::metrics
