// The standard Prometheus process metrics (process_cpu_seconds_total, memory, file
// descriptors, start time), read from /proc/self each time /metrics is scraped.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace cx::metrics {

// One reading of /proc/self. Fields that could not be read are nullopt (and their
// metric family is left out of the scrape rather than reported as 0).
struct ProcessSnapshot {
  std::optional<double> cpuSeconds;  // user + system time
  std::optional<double> residentBytes;
  std::optional<double> virtualBytes;
  std::optional<double> openFds;
  std::optional<double> maxFds;            // soft RLIMIT_NOFILE
  std::optional<double> startTimeSeconds;  // unix time
};

// Reads /proc/self/stat, /proc/stat (boot time), /proc/self/fd and the fd limit. Never
// throws. Linux only; elsewhere every field is nullopt.
ProcessSnapshot readProcessSnapshot();

// A Collectable for Metrics::serialize(): every Collect() takes a fresh snapshot, so the
// values are as of the scrape. Thread-safe (holds no state).
class ProcessMetrics : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace cx::metrics
