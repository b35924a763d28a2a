// The metrics a worker records on every data request, with the metric children cached
// by small integer keys, so the data path skips Metrics' label lookup (children never
// move and their labels never change). One per worker; call on its thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "backends/connection.h"
#include "metrics/metrics.h"
#include "proxy/api/request_parse.h"
#include "routing/level.h"

namespace cx::proxy {

// Which backend role served a request, as the metrics and the access log label it.
enum class ServedRole : std::uint8_t { None, Primary, Replica };
std::string_view toString(ServedRole role);  // "none", "primary", "replica"

class RequestMetrics {
 public:
  explicit RequestMetrics(metrics::Metrics& metrics) : metrics_(metrics) {}

  // One finished request: cxproxy_requests_total and the request duration histogram.
  void request(Op op, std::optional<routing::Level> requested, std::optional<routing::Level> served, ServedRole role,
               unsigned status, std::chrono::steady_clock::duration elapsed);
  // The staleness bound a read was served under.
  void readStaleness(routing::Level level, std::chrono::milliseconds bound);
  // One call on backend slot `index` (named `name`, the slot's `generation`: a slot handed
  // to another address gets new metric children): its outcome and duration.
  void backendCall(std::size_t index, std::uint32_t generation, std::string_view name, backends::BackendError error,
                   bool ok, std::chrono::steady_clock::duration elapsed);

 private:
  // Keys: a kind tag in the top byte, then small ids.
  enum class Kind : std::uint64_t { Requests = 1, RequestDuration, ReadStaleness, BackendOk, BackendDuration };
  static constexpr std::uint64_t key(Kind kind, std::uint64_t ids) {
    return static_cast<std::uint64_t>(kind) << 56 | ids;
  }
  // The child under `key`, made by `make` (a Metrics lookup) the first time.
  template <typename T, typename Make>
  static T& cached(std::unordered_map<std::uint64_t, T*>& cache, std::uint64_t key, Make&& make) {
    auto [it, added] = cache.try_emplace(key, nullptr);
    if (added) it->second = &make();
    return *it->second;
  }

  metrics::Metrics& metrics_;
  std::unordered_map<std::uint64_t, metrics::ShardedCounter*> counters_;
  std::unordered_map<std::uint64_t, metrics::ShardedHistogram*> histograms_;
};

}  // namespace cx::proxy
