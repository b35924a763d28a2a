// /proc/self readers behind the process_* metric families (names as in the Prometheus
// client libraries' process collectors, so standard dashboards work unchanged).
#include "metrics/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace cx::metrics {
namespace {

std::optional<std::string> readWhole(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Boot time (unix seconds) from the "btime" line of /proc/stat.
std::optional<double> bootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("btime ", 0) == 0) {
      try {
        return std::stod(line.substr(6));
      } catch (...) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

// /proc/self/stat: "pid (comm) state ppid ..." where comm may itself contain spaces and
// parentheses, so fields are counted from the last ')'. Field numbers as in proc(5).
void readStat(ProcessSnapshot& out) {
  auto text = readWhole("/proc/self/stat");
  if (!text) return;
  auto close = text->rfind(')');
  if (close == std::string::npos) return;
  std::istringstream fields(text->substr(close + 1));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  for (std::string word; fields >> word;) f.push_back(word);
  auto field = [&](int number) -> std::optional<double> {
    const auto index = static_cast<std::size_t>(number - 3);
    if (index >= f.size()) return std::nullopt;
    try {
      return std::stod(f[index]);
    } catch (...) {
      return std::nullopt;
    }
  };
  const long ticks = ::sysconf(_SC_CLK_TCK);
  const long pageSize = ::sysconf(_SC_PAGESIZE);
  auto utime = field(14);
  auto stime = field(15);
  if (utime && stime && ticks > 0) out.cpuSeconds = (*utime + *stime) / static_cast<double>(ticks);
  if (auto start = field(22); start && ticks > 0) {
    if (auto boot = bootTimeSeconds()) out.startTimeSeconds = *boot + *start / static_cast<double>(ticks);
  }
  out.virtualBytes = field(23);
  if (auto rssPages = field(24); rssPages && pageSize > 0) {
    out.residentBytes = *rssPages * static_cast<double>(pageSize);
  }
}

std::optional<double> countOpenFds() {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/self/fd", ec);
  if (ec) return std::nullopt;
  double n = 0;
  for (const auto& entry : it) {
    (void)entry;
    ++n;
  }
  return n - 1;  // the directory stream's own descriptor
}

std::optional<double> maxOpenFds() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return std::nullopt;
  return static_cast<double>(limit.rlim_cur);
}

void addFamily(std::vector<prometheus::MetricFamily>& out, const char* name, const char* help,
               prometheus::MetricType type, std::optional<double> value) {
  if (!value) return;
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = *value;
  } else {
    metric.gauge.value = *value;
  }
  family.metric.push_back(std::move(metric));
  out.push_back(std::move(family));
}

}  // namespace

ProcessSnapshot readProcessSnapshot() {
  ProcessSnapshot out;
  readStat(out);
  out.openFds = countOpenFds();
  out.maxFds = maxOpenFds();
  return out;
}

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  const auto s = readProcessSnapshot();
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  addFamily(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", MetricType::Counter,
            s.cpuSeconds);
  addFamily(out, "process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge, s.residentBytes);
  addFamily(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge, s.virtualBytes);
  addFamily(out, "process_open_fds", "Number of open file descriptors.", MetricType::Gauge, s.openFds);
  addFamily(out, "process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge, s.maxFds);
  addFamily(out, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
            MetricType::Gauge, s.startTimeSeconds);
  return out;
}

}  // namespace cx::metrics
