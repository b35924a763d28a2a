// Metric families and their label caches.
#include "metrics/metrics.h"

#include <prometheus/text_serializer.h>

#include <atomic>
#include <charconv>
#include <iterator>
#include <sstream>
#include <unordered_map>

#include "metrics/process_metrics.h"

namespace cx::metrics {
namespace {

const std::vector<double> kDurationBuckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                           0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
const std::vector<double> kStalenessBuckets{0.01, 0.05, 0.1, 0.5, 1, 5, 10};  // README "Metrics"

// Label values known before the first event. Counters exist from the start at 0 for each
// of them: an alert on `increase(x[5m]) > 0` cannot see the first event of a series that
// appears with it. The names are the ones the data path records (README "Metrics").
constexpr std::string_view kLevels[] = {"strong", "bounded", "session", "prefix", "eventual"};
constexpr std::string_view kOps[] = {"get",   "put",     "delete",           "cmd",          "pipeline",
                                     "multi", "upstash", "upstash_pipeline", "upstash_multi"};
constexpr std::string_view kViolationTypes[] = {"session_history_lost", "no_fresh_replica", "audit_mismatch"};
constexpr std::string_view kFallbackReasons[] = {"no_healthy_replica", "no_fresh_replica", "replica_error",
                                                 "replica_changed", "noscript"};
constexpr std::string_view kDowngradeReasons[] = {"primary_overloaded"};
constexpr std::string_view kTokenRejections[] = {"malformed", "too_large", "unknown_key", "bad_signature",
                                                 "beyond_primary"};
constexpr std::string_view kReloadResults[] = {"success", "unchanged", "error"};
constexpr std::string_view kAuditResults[] = {"match", "mismatch", "stale", "skipped", "error"};
constexpr std::string_view kClusterRedirects[] = {"moved", "ask"};
constexpr std::string_view kBackendErrors[] = {"unavailable", "connection_lost", "timeout", "protocol_error"};

}  // namespace

namespace {
std::atomic<std::uint64_t> gNextInstanceId{1};
}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()), instanceId_(gNextInstanceId++) {
  auto& r = *registry_;
  requests_ = std::make_shared<ShardedFamily<ShardedCounter>>(
      "cxproxy_requests_total", "Data requests by operation, requested and served level, role and status");
  requestDuration_ = std::make_shared<ShardedFamily<ShardedHistogram>>(
      "cxproxy_request_duration_seconds", "Data request duration from request parsed to response queued",
      kDurationBuckets);
  readStaleness_ = std::make_shared<ShardedFamily<ShardedHistogram>>(
      "cxproxy_read_staleness_seconds", "Staleness bound of what each read served, by served level", kStalenessBuckets);
  replicaLagBytes_ = &prometheus::BuildGauge()
                          .Name("cxproxy_replica_lag_bytes")
                          .Help("Primary offset minus the replica's applied offset")
                          .Register(r);
  replicaStaleness_ = &prometheus::BuildGauge()
                           .Name("cxproxy_replica_staleness_seconds")
                           .Help("Upper bound on how far behind the primary each replica is")
                           .Register(r);
  backendUp_ =
      &prometheus::BuildGauge().Name("cxproxy_backend_up").Help("1 when the backend answers polls, else 0").Register(r);
  violations_ = &prometheus::BuildCounter()
                     .Name("cxproxy_consistency_violations_total")
                     .Help("Guarantees that could not be given (the client was told)")
                     .Register(r);
  quorumFailures_ = &prometheus::BuildCounter()
                         .Name("cxproxy_quorum_failures_total")
                         .Help("Strong writes whose WAIT saw fewer acknowledgements than the quorum")
                         .Register(r);
  downgrades_ = &prometheus::BuildCounter()
                     .Name("cxproxy_consistency_downgrades_total")
                     .Help("Reads served at a weaker level than requested, by reason")
                     .Register(r);
  overloadedFamily_ = &prometheus::BuildGauge()
                           .Name("cxproxy_overloaded")
                           .Help("1 while the load controller considers the primary overloaded")
                           .Register(r);
  overloaded_ = &overloadedFamily_->Add({});
  fallbacks_ = &prometheus::BuildCounter()
                    .Name("cxproxy_fallbacks_total")
                    .Help("Reads that could not go where their level first pointed")
                    .Register(r);
  backendErrors_ = &prometheus::BuildCounter()
                        .Name("cxproxy_backend_errors_total")
                        .Help("Failed backend calls by backend and reason")
                        .Register(r);
  tokensRejected_ = &prometheus::BuildCounter()
                         .Name("cxproxy_session_tokens_rejected_total")
                         .Help("Session tokens refused, by reason")
                         .Register(r);
  connections_ = &prometheus::BuildGauge()
                      .Name("cxproxy_open_connections")
                      .Help("Open client connections by listener")
                      .Register(r);
  configReloads_ = &prometheus::BuildCounter()
                        .Name("cxproxy_config_reload_total")
                        .Help("Configuration reload attempts by result (success, unchanged, error)")
                        .Register(r);
  clusterRedirects_ = &prometheus::BuildCounter()
                           .Name("cxproxy_cluster_redirects_total")
                           .Help("MOVED and ASK redirects Redis Cluster answered (0 until cluster mode is used)")
                           .Register(r);
  primaryChanges_ = &prometheus::BuildCounter()
                         .Name("cxproxy_primary_changes_total")
                         .Help("Times the confirmed primary moved to another node (Sentinel mode)")
                         .Register(r);
  sentinelUp_ = &prometheus::BuildGauge()
                     .Name("cxproxy_sentinel_up")
                     .Help("1 when the Sentinel answered its latest refresh, else 0")
                     .Register(r);
  audits_ = &prometheus::BuildCounter()
                 .Name("cxproxy_audits_total")
                 .Help("Audited reads by result: match, mismatch, stale, skipped (too many in flight), error")
                 .Register(r);
  auditStaleness_ = &prometheus::BuildHistogram()
                         .Name("cxproxy_audit_observed_staleness_seconds")
                         .Help(
                             "How stale audited replica reads really were (0 when equal to the primary's), by "
                             "served level")
                         .Register(r);
  backendRequests_ = std::make_shared<ShardedFamily<ShardedCounter>>("cxproxy_backend_requests_total",
                                                                     "Calls to each backend by result");
  backendRequestDuration_ = std::make_shared<ShardedFamily<ShardedHistogram>>(
      "cxproxy_backend_request_duration_seconds", "Backend call duration from command sent to reply received",
      kDurationBuckets);
  for (const auto& family : {requests_, backendRequests_}) addCollectable(family);
  for (const auto& family : {requestDuration_, readStaleness_, backendRequestDuration_}) addCollectable(family);
  addCollectable(std::make_shared<ProcessMetrics>());
  exportKnownSeries();
}

void Metrics::exportKnownSeries() {
  for (auto type : kViolationTypes) violations(type);
  for (auto op : kOps) quorumFailures(op);
  // A downgrade relaxes one level at a time, in the order of kLevels.
  for (std::size_t i = 0; i + 1 < std::size(kLevels); ++i) {
    for (auto reason : kDowngradeReasons) downgrades(kLevels[i], kLevels[i + 1], reason);
  }
  for (auto reason : kFallbackReasons) fallbacks("replica", "primary", reason);
  for (auto reason : kTokenRejections) sessionTokensRejected(reason);
  for (auto result : kReloadResults) configReloads(result);
  for (auto result : kAuditResults) audits(result);
  for (auto type : kClusterRedirects) clusterRedirects(type);
  // Histograms too: the dashboard's observed-staleness panel shows 0, not "no data".
  for (auto level : kLevels) auditObservedStaleness(level);
}

void Metrics::exportBackend(std::string_view backend) {
  for (auto reason : kBackendErrors) backendErrors(backend, reason);
}

void Metrics::addCollectable(std::shared_ptr<const prometheus::Collectable> collectable) {
  collectables_.push_back(std::move(collectable));
}

std::vector<prometheus::MetricFamily> Metrics::collect() const {
  auto families = registry_->Collect();
  for (const auto& c : collectables_) {
    auto more = c->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  return families;
}

std::string Metrics::serialize() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(collect());
}

template <typename F>
typename ChildOf<F>::type& Metrics::child(F& family, std::initializer_list<std::string_view> values,
                                          std::initializer_list<std::string_view> names,
                                          const std::vector<double>* buckets) {
  using T = typename ChildOf<F>::type;
  // Fast path: a per-thread map from (this registry, family, label values) to the child.
  // No lock and, once the key buffer has grown, no allocation. The instance id (not the
  // address) keys it, so a Metrics destroyed in a test never answers for a new one.
  struct ThreadCache {
    std::string key;
    std::unordered_map<std::string, void*> children;
  };
  thread_local ThreadCache cache;
  cache.key.clear();
  cache.key.append(reinterpret_cast<const char*>(&instanceId_), sizeof instanceId_);
  const void* familyAddress = &family;
  cache.key.append(reinterpret_cast<const char*>(&familyAddress), sizeof familyAddress);
  for (auto v : values) {
    cache.key.append(v);
    cache.key.push_back('\x1f');
  }
  if (auto it = cache.children.find(cache.key); it != cache.children.end()) return *static_cast<T*>(it->second);

  std::map<std::string, std::string> labels;
  auto name = names.begin();
  for (auto v : values) labels.emplace(std::string(*name++), std::string(v));
  T* created;
  {
    std::lock_guard lock(mutex_);  // Family::Add returns the existing child for equal labels
    if constexpr (std::is_same_v<F, prometheus::Family<prometheus::Histogram>>) {
      created = &family.Add(labels, *buckets);
    } else {
      (void)buckets;
      created = &family.Add(labels);
    }
  }
  cache.children.emplace(cache.key, created);
  return *created;
}

ShardedCounter& Metrics::requests(std::string_view op, std::string_view requested, std::string_view served,
                                  std::string_view role, int code) {
  char codeBuf[12];
  auto [codeEnd, codeErr] = std::to_chars(codeBuf, codeBuf + sizeof codeBuf, code);
  (void)codeErr;
  const std::string_view codeText(codeBuf, static_cast<std::size_t>(codeEnd - codeBuf));
  return child(*requests_, {op, requested, served, role, codeText}, {"op", "requested", "served", "role", "code"});
}

ShardedHistogram& Metrics::requestDuration(std::string_view op, std::string_view role) {
  return child(*requestDuration_, {op, role}, {"op", "role"});
}

ShardedHistogram& Metrics::readStaleness(std::string_view level) { return child(*readStaleness_, {level}, {"level"}); }

prometheus::Gauge& Metrics::replicaLagBytes(std::string_view backend) {
  return child(*replicaLagBytes_, {backend}, {"backend"});
}

prometheus::Gauge& Metrics::replicaStaleness(std::string_view backend) {
  return child(*replicaStaleness_, {backend}, {"backend"});
}

prometheus::Gauge& Metrics::backendUp(std::string_view backend, std::string_view role) {
  return child(*backendUp_, {backend, role}, {"backend", "role"});
}

prometheus::Counter& Metrics::violations(std::string_view type) { return child(*violations_, {type}, {"type"}); }

prometheus::Counter& Metrics::quorumFailures(std::string_view op) { return child(*quorumFailures_, {op}, {"op"}); }

prometheus::Counter& Metrics::downgrades(std::string_view from, std::string_view to, std::string_view reason) {
  return child(*downgrades_, {from, to, reason}, {"from", "to", "reason"});
}

prometheus::Counter& Metrics::fallbacks(std::string_view from, std::string_view to, std::string_view reason) {
  return child(*fallbacks_, {from, to, reason}, {"from", "to", "reason"});
}

prometheus::Counter& Metrics::backendErrors(std::string_view backend, std::string_view reason) {
  return child(*backendErrors_, {backend, reason}, {"backend", "reason"});
}

prometheus::Counter& Metrics::sessionTokensRejected(std::string_view reason) {
  return child(*tokensRejected_, {reason}, {"reason"});
}

prometheus::Gauge& Metrics::connections(std::string_view listener) {
  return child(*connections_, {listener}, {"listener"});
}

prometheus::Counter& Metrics::configReloads(std::string_view result) {
  return child(*configReloads_, {result}, {"result"});
}

prometheus::Counter& Metrics::clusterRedirects(std::string_view type) {
  return child(*clusterRedirects_, {type}, {"type"});
}

prometheus::Counter& Metrics::primaryChanges() { return child(*primaryChanges_, {}, {}); }

prometheus::Gauge& Metrics::sentinelUp(std::string_view sentinel) {
  return child(*sentinelUp_, {sentinel}, {"sentinel"});
}

prometheus::Counter& Metrics::audits(std::string_view result) { return child(*audits_, {result}, {"result"}); }

prometheus::Histogram& Metrics::auditObservedStaleness(std::string_view level) {
  return child(*auditStaleness_, {level}, {"level"}, &kStalenessBuckets);
}

ShardedCounter& Metrics::backendRequests(std::string_view backend, std::string_view result) {
  return child(*backendRequests_, {backend, result}, {"backend", "result"});
}

ShardedHistogram& Metrics::backendRequestDuration(std::string_view backend) {
  return child(*backendRequestDuration_, {backend}, {"backend"});
}

}  // namespace cx::metrics
