// The backend connections of one worker: per backend, redis.connections_per_worker
// pipelined connections, and the loads the router weighs (calls waiting, a batch forming).
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
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
//
// Static mode: built once from the config, slot 0 the primary. Sentinel mode (README
// "Failover"): empty at first, and follows the topology's slots (sync()): a slot gets its
// connections when it first appears, new ones when it is handed to another address
// (slotGeneration), and loses them while it is Departed.
class BackendPool {
 public:
  // `tls`: TLS to every backend when set (README "Security").
  BackendPool(boost::asio::any_io_executor executor, const Config& config, const std::string& password,
              std::shared_ptr<backends::TlsClientContext> tls, std::size_t workerIndex);
  void start();
  void stop();
  // Sentinel mode: brings the slots in line with `topology` (a no-op in static mode).
  void sync(const backends::Topology& topology);
  // The least-busy connection to backends[index]; a connection that is never connected
  // (every call: Unavailable, nothing sent) for a slot without connections.
  backends::Connection& pick(std::size_t index);
  std::span<const routing::BackendLoad> loads();  // per backend, refreshed by each call
  // For routing::route. Sticky (replica_stickiness > 0): this worker's own replica first,
  // its number fixed for the process (a random start plus the worker's index, so the
  // workers of one process, and the processes of a fleet, spread over the replicas).
  // Otherwise a rotation that spreads ties.
  routing::ReplicaPreference preference() { return {stickiness_ > 0 ? affinity_ : rotation_++, stickiness_}; }
  std::size_t size() const { return connections_.size(); }

 private:
  std::vector<std::shared_ptr<backends::Connection>> connect(const std::string& host, std::uint16_t port,
                                                             bool trackReplid);

  boost::asio::any_io_executor executor_;
  std::string username_;
  std::string password_;
  std::shared_ptr<backends::TlsClientContext> tls_;
  std::chrono::milliseconds connectTimeout_;
  int connectionsPerWorker_ = 1;
  bool sentinelMode_ = false;
  bool started_ = false;
  std::vector<std::vector<std::shared_ptr<backends::Connection>>> connections_;
  struct SlotState {
    std::string address;
    std::uint32_t generation = 0;
  };
  std::vector<SlotState> slots_;  // sentinel mode: what each slot's connections go to
  // Stopped connections a call still in flight may point at; kept for the process (a
  // slot is rebuilt only when it departs or is handed to another address: rare).
  std::vector<std::shared_ptr<backends::Connection>> retired_;
  std::shared_ptr<backends::Connection> unavailable_;
  std::vector<routing::BackendLoad> loads_;
  std::size_t rotation_ = 0;
  std::size_t affinity_ = 0;
  std::uint32_t stickiness_ = 0;
};

}  // namespace cx::proxy
