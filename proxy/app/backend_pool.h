// The backend connections of one worker: per backend, redis.connections_per_worker
// pipelined connections, and the loads the router weighs (calls waiting, a batch forming).
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backends/connection.h"
#include "proxy/config/config.h"
#include "routing/router.h"

namespace cx::proxy {

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

}  // namespace cx::proxy
