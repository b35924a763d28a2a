// The process-wide state workers share (read-only or thread-safe) and one worker: an
// io_context on its own thread with its own backend connections (DESIGN §6).
#pragma once

#include <boost/asio/awaitable.hpp>
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
#include "proxy/http_response.h"
#include "routing/latency_window.h"
#include "routing/router.h"
#include "session/token.h"
#include "session/token_cache.h"

namespace cx::proxy {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;

struct SharedState {
  // Swapped whole on a reload; a request keeps the snapshot it started with.
  std::atomic<std::shared_ptr<const Config>> config;
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
  std::atomic<std::uint32_t> primaryInFlight{0};
  std::atomic<bool> overloaded{false};
  std::atomic<const char*> overloadReason{""};
  // Calls in flight per backend (config order: primary first), summed over workers.
  std::unique_ptr<std::atomic<std::uint32_t>[]> backendInFlight;
};

// Per-backend connections of one worker. Call on the worker's thread only.
class BackendPool {
 public:
  BackendPool(boost::asio::any_io_executor executor, const Config& config, const std::string& password);
  void start();
  void stop();
  // The least-busy connection to backends[index].
  backends::Connection& pick(std::size_t index);
  std::span<const routing::BackendLoad> loads();  // per backend, refreshed by each call
  std::size_t rotation() { return rotation_++; }  // for routing::route: spreads ties
  std::size_t size() const { return connections_.size(); }

 private:
  std::vector<std::vector<std::shared_ptr<backends::Connection>>> connections_;
  std::vector<routing::BackendLoad> loads_;
  std::size_t rotation_ = 0;
};

class Worker {
 public:
  Worker(SharedState& shared, std::size_t index);
  boost::asio::io_context& io() { return io_; }
  SharedState& shared() { return shared_; }
  BackendPool& pool() { return pool_; }
  session::VerifiedTokenCache& verifiedTokens() { return verifiedTokens_; }
  // Metric children this worker records on every request, by small integer keys, so the
  // data path skips Metrics' label lookup (children never move; labels never change).
  struct MetricCache {
    std::unordered_map<std::uint64_t, metrics::ShardedCounter*> counters;
    std::unordered_map<std::uint64_t, metrics::ShardedHistogram*> histograms;
  };
  MetricCache& metricCache() { return metricCache_; }
  std::size_t index() const { return index_; }

  // Serves one data request (DESIGN §3). Never throws.
  boost::asio::awaitable<void> handle(const Request& request, Response& response);

 private:
  SharedState& shared_;
  std::size_t index_;
  boost::asio::io_context io_{1};
  BackendPool pool_;
  session::VerifiedTokenCache verifiedTokens_;
  MetricCache metricCache_;
};

}  // namespace cx::proxy
