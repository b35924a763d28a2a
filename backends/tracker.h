// The replication tracker: polls every backend on its own thread and connections,
// keeps the primary's offset history and publishes immutable Topology snapshots that
// workers read without locks held across a request.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "backends/sentinel.h"
#include "backends/tls_client.h"
#include "backends/topology.h"

namespace cx::metrics {
class Metrics;
}

namespace cx::backends {

struct BackendAddress {
  std::string name;
  std::string host;
  std::uint16_t port = 0;
};

// What the primary's offset history says about one applied offset (see OffsetHistory).
struct OffsetHistoryView {
  std::optional<Clock::time_point> freshAsOf;    // latest sample time with offset <= it
  std::optional<Clock::time_point> firstBeyond;  // earliest sample time with offset > it
};

struct TrackerOptions {
  // Static mode: the configured primary and replicas (slot 0 and 1..N, see Topology).
  BackendAddress primary;
  std::vector<BackendAddress> replicas;
  // Sentinel mode when set: primary and replicas are ignored; the members are discovered
  // and named host:port. `password` (and `username`) are still the data nodes'.
  std::optional<SentinelSettings> sentinel;
  std::string username;
  std::string password;
  std::shared_ptr<TlsClientContext> tls;  // TLS to every data node when set (not to Sentinels yet)
  // A node's connect attempt failed for a new reason (see ConnectionOptions::onConnectFailed);
  // called on the tracker's thread.
  std::function<void(const BackendAddress& node, const std::string& error)> onConnectFailed;
  std::chrono::milliseconds interval{50};
  std::chrono::milliseconds downAfter{1000};
  std::chrono::milliseconds connectTimeout{1000};
};

class ReplicationTracker {
 public:
  ReplicationTracker(TrackerOptions options, metrics::Metrics* metrics);
  ~ReplicationTracker();

  void start();  // spawns the tracker thread
  void stop();   // joins it

  // Latest snapshot; never null after construction. Safe from any thread.
  std::shared_ptr<const Topology> snapshot() const { return snapshot_.load(std::memory_order_acquire); }
  // Bumped after every new snapshot: a reader whose last version differs re-reads it.
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  // Calls `fn` on the tracker's thread (tests: e.g. to look at the Sentinel client).
  void post(std::function<void()> fn);
  // The offset history around `appliedOffset` in history `replid`; both empty when the
  // tracker's history is another one. Safe from any thread: takes a mutex the tracker
  // holds only while it records a sample, so it is for rare callers (the audit), not
  // for every request.
  OffsetHistoryView historyAround(std::string_view replid, std::uint64_t appliedOffset) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::atomic<std::shared_ptr<const Topology>> snapshot_;
  std::atomic<std::uint64_t> version_{1};
  std::thread thread_;
};

}  // namespace cx::backends
