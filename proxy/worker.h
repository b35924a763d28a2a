// The process-wide state workers share (read-only or thread-safe) and one worker: an
// io_context on its own thread with its own backend connections (ARCHITECTURE.md).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "backends/command_table.h"
#include "backends/connection.h"
#include "backends/tracker.h"
#include "metrics/metrics.h"
#include "proxy/config.h"
#include "proxy/http_loop.h"
#include "proxy/http/request.h"
#include "proxy/http_response.h"
#include "routing/latency_window.h"
#include "routing/router.h"
#include "session/token.h"
#include "session/token_cache.h"

namespace cx::proxy {

namespace http = boost::beast::http;

// Calls in flight per backend, each worker's on cache lines of its own: a worker writes
// only its counters and readers sum them, so counting a call moves no line between cores.
class InFlightCounters {
 public:
  void resize(std::size_t workers, std::size_t backends) {
    backends_ = backends;
    slots_ = std::vector<Slot>(workers * backends);
  }
  void add(std::size_t worker, std::size_t backend) { slot(worker, backend).fetch_add(1, std::memory_order_relaxed); }
  void remove(std::size_t worker, std::size_t backend) { slot(worker, backend).fetch_sub(1, std::memory_order_relaxed); }
  std::uint32_t total(std::size_t backend) const {
    std::uint32_t n = 0;
    for (std::size_t i = backend; backend < backends_ && i < slots_.size(); i += backends_) {
      n += slots_[i].value.load(std::memory_order_relaxed);
    }
    return n;
  }

 private:
  struct alignas(64) Slot {
    std::atomic<std::uint32_t> value{0};
  };
  std::atomic<std::uint32_t>& slot(std::size_t worker, std::size_t backend) {
    return slots_[worker * backends_ + backend].value;
  }
  std::size_t backends_ = 0;
  std::vector<Slot> slots_;
};

// A worker's copy of a shared snapshot (config, topology), re-read only when its version
// moved. Requests copy the worker's own holder, so the shared snapshot's reference count,
// which every worker would otherwise increment per request, is touched once per change.
template <typename T>
class LocalSnapshot {
 public:
  template <typename Load>
  std::shared_ptr<const T> get(std::uint64_t version, Load&& load) {
    if (!holder_ || version != version_) {
      holder_ = std::make_shared<std::shared_ptr<const T>>(load());
      version_ = version;
    }
    return std::shared_ptr<const T>(holder_, holder_->get());  // aliasing: owns the holder
  }

 private:
  std::shared_ptr<std::shared_ptr<const T>> holder_;
  std::uint64_t version_ = 0;
};

struct SharedState {
  // Swapped whole on a reload; a request keeps the snapshot it started with. A reload
  // bumps configVersion after the store, and workers re-read `config` only then.
  std::atomic<std::shared_ptr<const Config>> config;
  std::atomic<std::uint64_t> configVersion{0};
  std::atomic<std::int64_t> configLoadedAtMs{0};  // unix ms of the last successful load
  backends::ReplicationTracker* tracker = nullptr;
  const session::KeyRing* keys = nullptr;
  metrics::Metrics* metrics = nullptr;
  std::string password;  // Redis AUTH, from the environment
  std::string configPath;  // reloaded on SIGHUP or when it changes; empty: no reload
  // Set once the backend's COMMAND table has been fetched; null before.
  std::atomic<std::shared_ptr<const backends::CommandPolicy>> commands;
  std::atomic<bool> draining{false};
  // Load signals of the primary (recorded by workers) and the controller's verdict.
  routing::LatencyWindow primaryLatency;
  std::atomic<bool> overloaded{false};
  std::atomic<const char*> overloadReason{""};
  // Calls in flight per backend (config order: primary first); inFlight.total(0) is the
  // primary's, a load signal. Sized by the server for its workers.
  InFlightCounters inFlight;
};

// Per-backend connections of one worker. Call on the worker's thread only.
class BackendPool {
 public:
  BackendPool(boost::asio::any_io_executor executor, const Config& config, const std::string& password,
              std::size_t workerIndex);
  void start();
  void stop();
  // The least-busy connection to backends[index].
  backends::Connection& pick(std::size_t index);
  std::span<const routing::BackendLoad> loads();  // per backend, refreshed by each call
  // For routing::route. Sticky (replica_stickiness > 0): this worker's own replica first,
  // its number fixed for the process (a random start plus the worker's index, so the
  // workers of one process, and the processes of a fleet, spread over the replicas).
  // Otherwise a rotation that spreads ties.
  routing::ReplicaPreference preference() {
    return {stickiness_ > 0 ? affinity_ : rotation_++, stickiness_};
  }
  std::size_t size() const { return connections_.size(); }

 private:
  std::vector<std::vector<std::shared_ptr<backends::Connection>>> connections_;
  std::vector<routing::BackendLoad> loads_;
  std::size_t rotation_ = 0;
  std::size_t affinity_ = 0;
  std::uint32_t stickiness_ = 0;
};

class Worker {
 public:
  Worker(SharedState& shared, std::size_t index);
  boost::asio::io_context& io() { return io_; }
  SharedState& shared() { return shared_; }
  BackendPool& pool() { return pool_; }
  session::VerifiedTokenCache& verifiedTokens() { return verifiedTokens_; }
  session::RecentTokens& recentTokens() { return recentTokens_; }
  // Metric children this worker records on every request, by small integer keys, so the
  // data path skips Metrics' label lookup (children never move; labels never change).
  struct MetricCache {
    std::unordered_map<std::uint64_t, metrics::ShardedCounter*> counters;
    std::unordered_map<std::uint64_t, metrics::ShardedHistogram*> histograms;
  };
  MetricCache& metricCache() { return metricCache_; }
  // The current config and topology, as this worker last saw them (see LocalSnapshot).
  std::shared_ptr<const Config> config() {
    return config_.get(shared_.configVersion.load(std::memory_order_acquire),
                       [&] { return shared_.config.load(std::memory_order_acquire); });
  }
  std::shared_ptr<const backends::Topology> topology() {
    return topology_.get(shared_.tracker->version(), [&] { return shared_.tracker->snapshot(); });
  }
  std::size_t index() const { return index_; }

  // Serves one data request (README "HTTP API"): calls `done` once the response is complete, at
  // once or from a backend reply's completion. Never throws.
  void handle(const Request& request, Response& response, Responder done);

 private:
  SharedState& shared_;
  std::size_t index_;
  boost::asio::io_context io_{1};
  BackendPool pool_;
  session::VerifiedTokenCache verifiedTokens_;
  session::RecentTokens recentTokens_;
  MetricCache metricCache_;
  LocalSnapshot<Config> config_;
  LocalSnapshot<backends::Topology> topology_;
};

}  // namespace cx::proxy
