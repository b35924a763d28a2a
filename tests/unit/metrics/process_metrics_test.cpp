// Unit tests for the process_* metrics: values read from /proc/self are plausible for
// this very test process, and Metrics::serialize() exports them with Prometheus names.
#include "metrics/process_metrics.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <string>

#include "metrics/metrics.h"

namespace cx::metrics {
namespace {

// Seconds of CPU this process has used, from the kernel's own clock.
double processCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Burns `duration` of CPU time on this thread, however long that takes on a busy machine
// (at most a minute of wall time).
double spin(std::chrono::milliseconds duration) {
  volatile double sink = 0;
  const double until = processCpuSeconds() + std::chrono::duration<double>(duration).count();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (processCpuSeconds() < until && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 10000; ++i) sink = sink + std::sqrt(static_cast<double>(i));
  }
  return sink;
}

TEST(ProcessMetrics, SnapshotValuesAreSaneForThisProcess) {
  const auto s = readProcessSnapshot();
  ASSERT_TRUE(s.residentBytes);
  EXPECT_GT(*s.residentBytes, 1024.0 * 1024.0);  // a gtest binary needs more than 1 MiB
  ASSERT_TRUE(s.virtualBytes);
  EXPECT_GE(*s.virtualBytes, *s.residentBytes);
  ASSERT_TRUE(s.openFds);
  EXPECT_GE(*s.openFds, 3.0);  // stdin, stdout, stderr
  ASSERT_TRUE(s.maxFds);
  EXPECT_GE(*s.maxFds, *s.openFds);
  ASSERT_TRUE(s.cpuSeconds);
  EXPECT_GE(*s.cpuSeconds, 0.0);
  ASSERT_TRUE(s.startTimeSeconds);
  const double nowUnix = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(*s.startTimeSeconds, nowUnix + 1);
  EXPECT_GT(*s.startTimeSeconds, nowUnix - 24 * 3600);  // started within the last day
}

TEST(ProcessMetrics, CpuSecondsGrowAfterBusyWork) {
  const auto before = readProcessSnapshot().cpuSeconds;
  ASSERT_TRUE(before);
  spin(std::chrono::milliseconds(300));
  const auto after = readProcessSnapshot().cpuSeconds;
  ASSERT_TRUE(after);
  EXPECT_GE(*after - *before, 0.1) << "300 ms of CPU time should show up in process_cpu_seconds_total";
}

TEST(ProcessMetrics, OpenFdsCountsNewDescriptors) {
  const auto before = readProcessSnapshot().openFds;
  int fds[4];
  for (int& fd : fds) fd = ::open("/dev/null", O_RDONLY);
  const auto during = readProcessSnapshot().openFds;
  for (int fd : fds) ::close(fd);
  ASSERT_TRUE(before && during);
  EXPECT_EQ(*during - *before, 4.0);
}

TEST(ProcessMetrics, ScrapeExportsStandardFamilies) {
  Metrics metrics;
  const std::string text = metrics.serialize();
  for (const char* line : {"# TYPE process_cpu_seconds_total counter", "# TYPE process_resident_memory_bytes gauge",
                           "# TYPE process_virtual_memory_bytes gauge", "# TYPE process_open_fds gauge",
                           "# TYPE process_max_fds gauge", "# TYPE process_start_time_seconds gauge"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  EXPECT_NE(text.find("\nprocess_open_fds "), std::string::npos);
}

TEST(BackendMetrics, RequestsAndDurationsAreLabelledByBackend) {
  Metrics metrics;
  metrics.backendRequests("replica-1", "ok").Increment();
  metrics.backendRequests("replica-1", "ok").Increment();
  metrics.backendRequests("primary", "timeout").Increment();
  metrics.backendRequestDuration("replica-1").Observe(0.002);
  EXPECT_EQ(&metrics.backendRequests("replica-1", "ok"), &metrics.backendRequests("replica-1", "ok"));
  const std::string text = metrics.serialize();
  EXPECT_NE(text.find("cxproxy_backend_requests_total{backend=\"replica-1\",result=\"ok\"} 2"), std::string::npos)
      << text;
  EXPECT_NE(text.find("cxproxy_backend_requests_total{backend=\"primary\",result=\"timeout\"} 1"), std::string::npos);
  EXPECT_NE(text.find("cxproxy_backend_request_duration_seconds_count{backend=\"replica-1\"} 1"), std::string::npos);
  EXPECT_NE(text.find("cxproxy_backend_request_duration_seconds_bucket{backend=\"replica-1\",le=\"0.0025\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace cx::metrics
