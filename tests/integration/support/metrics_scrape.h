// Reading cxproxy's /metrics in integration tests.
#pragma once

#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/integration/support/http_client.h"

namespace cx::testing {

// Sum of the samples of metric `name` whose line contains every one of `labels` (text
// fragments such as `backend="replica-1"`); nullopt when no sample matches.
inline std::optional<double> scrapeMetric(int adminPort, const std::string& name,
                                          const std::vector<std::string>& labels = {}) {
  HttpClient admin(adminPort, 10s);
  const HttpResponse response = admin.get("/metrics");
  if (response.status != 200) throw std::runtime_error("GET /metrics answered " + std::to_string(response.status));
  std::optional<double> sum;
  std::istringstream lines(response.body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#' || line.rfind(name, 0) != 0) continue;
    if (line.size() <= name.size() || (line[name.size()] != '{' && line[name.size()] != ' ')) continue;
    bool all = true;
    for (const auto& label : labels) all = all && line.find(label) != std::string::npos;
    if (all) sum = sum.value_or(0) + std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

// The same, 0 when no sample matches.
inline double metricValue(int adminPort, const std::string& name, const std::vector<std::string>& labels = {}) {
  return scrapeMetric(adminPort, name, labels).value_or(0);
}
inline double metricValue(int adminPort, const std::string& name, const char* label) {
  return metricValue(adminPort, name, std::vector<std::string>{label});
}

}  // namespace cx::testing
