// The process-wide state every thread of the proxy shares: the config and command-table
// snapshots, the tracker, the keys, the load controller's verdict and the in-flight
// counters. Fields are immutable after start-up, atomic, or thread-safe objects.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/command_table.h"
#include "backends/tls_client.h"
#include "backends/tracker.h"
#include "metrics/metrics.h"
#include "proxy/api/auth.h"
#include "proxy/app/advice.h"
#include "proxy/config/config.h"
#include "proxy/http/tls_server.h"
#include "routing/latency_window.h"
#include "session/token.h"

namespace cx::proxy {

// Calls in flight per backend, each worker's on cache lines of its own: a worker writes
// only its counters and readers sum them, so counting a call moves no line between cores.
class InFlightCounters {
 public:
  void resize(std::size_t workers, std::size_t backends) {
    backends_ = backends;
    slots_ = std::vector<Slot>(workers * backends);
  }
  void add(std::size_t worker, std::size_t backend) { slot(worker, backend).fetch_add(1, std::memory_order_relaxed); }
  void remove(std::size_t worker, std::size_t backend) {
    slot(worker, backend).fetch_sub(1, std::memory_order_relaxed);
  }
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

struct SharedState {
  // Swapped whole on a reload; a request keeps the snapshot it started with. A reload
  // bumps configVersion after the store, and workers re-read `config` only then.
  std::atomic<std::shared_ptr<const Config>> config;
  std::atomic<std::uint64_t> configVersion{0};
  std::atomic<std::int64_t> configLoadedAtMs{0};  // unix ms of the last successful load
  backends::ReplicationTracker* tracker = nullptr;
  const session::KeyRing* keys = nullptr;
  metrics::Metrics* metrics = nullptr;
  std::string password;                                  // Redis AUTH, from the environment
  std::shared_ptr<backends::TlsClientContext> redisTls;  // TLS to every Redis node; null: plain TCP
  // HTTPS on the listeners (null: plain HTTP); their files are re-read on SIGHUP and change.
  std::shared_ptr<TlsServerContext> dataTls;
  std::shared_ptr<TlsServerContext> adminTls;
  // Bearer tokens on the data listener (README "Security"): off when authEnabled is
  // false; otherwise never null, replaced whole on a reload, which bumps the version.
  bool authEnabled = false;
  std::atomic<std::shared_ptr<const ApiTokens>> apiTokens;
  std::atomic<std::uint64_t> apiTokensVersion{0};
  std::string configPath;  // reloaded on SIGHUP or when it changes; empty: no reload
  // Set once the backend's COMMAND table has been fetched; null before.
  std::atomic<std::shared_ptr<const backends::CommandPolicy>> commands;
  std::atomic<bool> draining{false};
  // Load signals of the primary (recorded by workers) and the controller's verdict.
  routing::LatencyWindow primaryLatency;
  std::atomic<bool> overloaded{false};
  std::atomic<const char*> overloadReason{""};
  // Calls in flight per backend slot (static mode: config order, primary first). Sized
  // once by the server for its workers and Topology::kMaxBackends slots, never resized
  // (read across threads); inFlight.total(primaryIndex) is the primary's, a load signal.
  InFlightCounters inFlight;
  // The read audit (proxy/api/read_audit.h): audits in flight in the whole process
  // (bounded by audit.max_in_flight) and the advice its samples feed.
  std::atomic<int> auditsInFlight{0};
  AdviceBoard advice;
};

}  // namespace cx::proxy
