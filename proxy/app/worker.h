// One data worker: an io_context on its own thread with its own backend connections,
// token caches, metric children and snapshot copies (ARCHITECTURE.md, threading). Every
// member is used on the worker's thread only.
#pragma once

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <memory>

#include "backends/topology.h"
#include "proxy/api/request_metrics.h"
#include "proxy/api/scripts.h"
#include "proxy/app/backend_pool.h"
#include "proxy/app/shared_state.h"
#include "proxy/config/config.h"
#include "proxy/http/http_loop.h"
#include "proxy/http/request.h"
#include "proxy/http/response.h"
#include "session/token_cache.h"

namespace cx::proxy {

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

class Worker {
 public:
  Worker(SharedState& shared, std::size_t index);
  boost::asio::io_context& io() { return io_; }
  SharedState& shared() { return shared_; }
  BackendPool& pool() { return pool_; }
  session::VerifiedTokenCache& verifiedTokens() { return verifiedTokens_; }
  session::RecentTokens& recentTokens() { return recentTokens_; }
  RequestMetrics& requestMetrics() { return requestMetrics_; }
  ScriptAliases& scriptAliases() { return scriptAliases_; }
  // The current config and topology, as this worker last saw them (see LocalSnapshot).
  std::shared_ptr<const Config> config() {
    return config_.get(shared_.configVersion.load(std::memory_order_acquire),
                       [&] { return shared_.config.load(std::memory_order_acquire); });
  }
  // The bearer tokens as this worker last saw them; null when auth is off.
  std::shared_ptr<const ApiTokens> apiTokens() {
    if (!shared_.authEnabled) return nullptr;
    return apiTokens_.get(shared_.apiTokensVersion.load(std::memory_order_acquire),
                          [&] { return shared_.apiTokens.load(std::memory_order_acquire); });
  }
  std::shared_ptr<const backends::Topology> topology() {
    return topology_.get(shared_.tracker->version(), [&] {
      auto snapshot = shared_.tracker->snapshot();
      pool_.sync(*snapshot);  // sentinel mode: connections follow the slots
      return snapshot;
    });
  }
  std::size_t index() const { return index_; }
  // One draw of the worker's xorshift generator: true with probability `rate` (0..1).
  // The only cost the audit adds to a read it does not sample.
  bool drawSample(double rate) {
    if (rate <= 0) return false;
    if (rate >= 1) return true;
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return static_cast<double>(rng_ >> 11) * 0x1p-53 < rate;
  }

  // Serves one data request (README "HTTP API", proxy/api/data_request.h): calls `done`
  // once the response is complete, at once or from a backend reply's completion.
  void handle(const Request& request, Response& response, Responder done);

 private:
  SharedState& shared_;
  std::size_t index_;
  boost::asio::io_context io_{1};
  BackendPool pool_;
  session::VerifiedTokenCache verifiedTokens_;
  session::RecentTokens recentTokens_;
  RequestMetrics requestMetrics_;
  ScriptAliases scriptAliases_;
  LocalSnapshot<Config> config_;
  LocalSnapshot<backends::Topology> topology_;
  LocalSnapshot<ApiTokens> apiTokens_;
  std::uint64_t rng_;  // xorshift64 state, never 0 (seeded in the constructor)
};

}  // namespace cx::proxy
