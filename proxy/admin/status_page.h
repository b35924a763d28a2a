// The human view of /v1/status: a per-backend history of staleness bounds and lag, and
// a self-contained HTML page (inline CSS and SVG sparklines, no scripts) rendering it
// with what the proxy did: traffic per level, rules and their advice, and the audit's
// observed staleness next to the bound served.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/topology.h"
#include "proxy/admin/traffic.h"
#include "proxy/app/advice.h"

namespace cx::proxy {

struct StalenessSample {
  backends::Clock::time_point at{};
  std::optional<std::chrono::milliseconds> bound;  // nullopt: no bound (untracked, down)
  std::uint64_t lagBytes = 0;
  bool up = false;
};

// A fixed-capacity ring of samples; the oldest is overwritten once it is full.
class SampleRing {
 public:
  explicit SampleRing(std::size_t capacity) : slots_(capacity == 0 ? 1 : capacity) {}
  void push(const StalenessSample& sample);
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return slots_.size(); }
  bool empty() const { return size_ == 0; }
  // 0 is the oldest sample held, size() - 1 the newest.
  const StalenessSample& operator[](std::size_t i) const { return slots_[(head_ + i) % slots_.size()]; }
  const StalenessSample& newest() const { return (*this)[size_ - 1]; }

 private:
  std::vector<StalenessSample> slots_;
  std::size_t head_ = 0;  // index of the oldest sample
  std::size_t size_ = 0;
};

// What each backend's staleness bound and lag were over the last `window`, one sample per
// sample() call (the admin listener calls it once per `interval`). Backends are keyed by
// name; a backend that leaves the topology (config reload) loses its history. Not
// thread-safe: the admin thread owns it.
class StalenessHistory {
 public:
  static constexpr std::chrono::seconds kDefaultWindow{600};
  static constexpr std::chrono::seconds kDefaultInterval{1};

  explicit StalenessHistory(std::chrono::seconds window = kDefaultWindow,
                            std::chrono::seconds interval = kDefaultInterval);

  void sample(const backends::Topology& topology, backends::Clock::time_point now);
  // The samples of `backend`, oldest first; nullptr if it has never been sampled.
  const SampleRing* samples(std::string_view backend) const;
  std::chrono::seconds window() const { return window_; }
  std::chrono::seconds interval() const { return interval_; }
  std::size_t capacity() const { return capacity_; }

 private:
  std::chrono::seconds window_;
  std::chrono::seconds interval_;
  std::size_t capacity_;
  std::map<std::string, SampleRing, std::less<>> rings_;
};

// Everything on the page that is not in the topology snapshot.
struct StatusPageContext {
  backends::Clock::time_point now{};
  std::string_view loadState = "normal";
  std::string_view configVersion;
  std::string_view proxyVersion;
  bool draining = false;
  // What the proxy did (the page leaves the section out when traffic is null).
  const TrafficSummary* traffic = nullptr;
  std::vector<RuleTraffic> rules;
  std::vector<AdviceRow> advice;
  double auditSampleRate = 0;
};

// The page served for GET /v1/status to browsers. Every text from outside (names,
// addresses, errors, versions) is HTML-escaped. Refreshes itself every 2 s.
std::string renderStatusHtml(const backends::Topology& topology, const StalenessHistory& history,
                             const StatusPageContext& context);

// `text` with & < > " ' replaced by entities.
std::string htmlEscape(std::string_view text);

// True when an Accept header ranks text/html above application/json (a browser's
// "text/html,...,*/*;q=0.8"). Missing, "*/*" or equal preference → false (JSON).
bool prefersHtml(std::string_view accept);

}  // namespace cx::proxy
