// What the proxy did, for the status page and /v1/status: requests per level (requested
// and served), the share replicas served, fallbacks, downgrades, and the served-bound and
// audit observed-staleness histograms, summed from the metric families (no counter of
// its own on the data path).
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "backends/topology.h"
#include "routing/level.h"

namespace cx::proxy {

struct Config;
class AdviceBoard;

struct LevelTraffic {
  double requested = 0;        // requests that asked for the level (X-Consistency or not)
  double served = 0;           // requests served at the level
  double servedByReplica = 0;  // ... by a replica
};

struct HistogramSummary {
  std::vector<double> upperBounds;        // ascending, +Inf last
  std::vector<std::uint64_t> cumulative;  // per bound
  std::uint64_t count = 0;
  double sum = 0;
};

struct TrafficSummary {
  std::map<std::string, LevelTraffic> levels;  // by level name; "default" = no header
  double requests = 0;
  // Served GETs and /v1/cmd calls (the metric does not tell a command's reads from its
  // writes, and commands that write always go to the primary).
  double reads = 0;
  double servedByReplica = 0;
  std::map<std::string, double> fallbacks;                    // by reason
  std::map<std::string, double> downgrades;                   // by "from->to"
  std::map<std::string, double> audits;                       // by result
  double auditMismatches = 0;                                 // violations{type="audit_mismatch"}
  std::map<std::string, HistogramSummary> servedStaleness;    // by level
  std::map<std::string, HistogramSummary> observedStaleness;  // by level (audit)
};

TrafficSummary summarizeTraffic(const std::vector<prometheus::MetricFamily>& families);

// Per rule (the default last): its level and, from the audit's draws over the advice
// window, how many of its reads were sampled and the traffic that suggests.
struct RuleTraffic {
  std::string name;
  std::vector<std::string> keys;
  routing::Level level = routing::Level::Session;
  std::uint64_t sampledLastHour = 0;
  double estimatedReadsLastHour = 0;  // sampled / audit.sample_rate; 0 with the audit off
};
std::vector<RuleTraffic> ruleTraffic(const Config& config, const AdviceBoard& advice, backends::Clock::time_point now);

}  // namespace cx::proxy
