// cxproxy-verify: runs concurrent sessions against a cxproxy deployment and checks the
// recorded history against each consistency level's guarantee (README "Verifying the
// guarantees on your deployment"). Exit status: 0 no violation, 1 violations, 2 could not run.
#include <cstdio>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "proxy/verify/checker.h"
#include "proxy/verify/http_client.h"
#include "proxy/verify/options.h"
#include "proxy/verify/workload.h"

namespace cx::verify {
namespace {

constexpr int kExitClean = 0;
constexpr int kExitViolations = 1;
constexpr int kExitCannotRun = 2;
constexpr std::size_t kMaxPrinted = 50;

std::string runId() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", rd());
  return buf;
}

std::string statusLine(const HttpReply& reply) {
  if (reply.status == 0) return reply.error;
  return "HTTP " + std::to_string(reply.status) + " " + reply.body.substr(0, 300);
}

// One request per level before the run, so that an unreachable proxy, a refused token or
// a rejected level is one clear message instead of thousands of failed operations.
bool preflight(const Options& options, const std::string& keyPrefix) {
  HttpConnection http(options.host, options.port, options.requestTimeout);
  std::string target = "/v1/kv/" + encodePathSegment(keyPrefix + "probe");
  // Session level for the probe's write: a strong write would also wait for replicas.
  HttpReply put = http.request("PUT", target, "probe", requestHeaders(options, Level::Session, ""));
  if (put.status / 100 != 2) {
    std::string why = put.status == 401   ? "the token was refused (--token)"
                      : put.status == 403 ? "writes are not allowed (a read-only token or a rule)"
                      : put.status == 0   ? "cxproxy is unreachable at " + options.url
                                          : "a write through cxproxy failed";
    std::cerr << "cxproxy-verify: cannot run: " << why << ": " << statusLine(put) << "\n";
    return false;
  }
  for (Level level : options.levels) {
    HttpReply get = http.request("GET", target, {}, requestHeaders(options, level, ""));
    if (get.status != 200 && get.status != 404) {  // 404: a replica without the probe yet
      std::cerr << "cxproxy-verify: cannot run: a " << toString(level) << " read failed: " << statusLine(get) << "\n";
      return false;
    }
  }
  http.request("DELETE", target, {}, requestHeaders(options, Level::Session, ""));
  return true;
}

void cleanup(const Options& options, const std::string& keyPrefix) {
  HttpConnection http(options.host, options.port, options.requestTimeout);
  for (const auto& key : workloadKeys(options, keyPrefix)) {
    http.request("DELETE", "/v1/kv/" + encodePathSegment(key), {}, requestHeaders(options, Level::Session, ""));
  }
}

void printViolations(const History& history, const CheckReport& report) {
  std::unordered_map<std::uint64_t, const Operation*> byId;
  for (const auto& op : history) byId[op.id] = &op;
  std::size_t n = 0;
  for (const auto& v : report.violations) {
    if (++n > kMaxPrinted) {
      std::cout << "... and " << report.violations.size() - kMaxPrinted << " more violations\n";
      break;
    }
    std::cout << "VIOLATION " << n << " [" << toString(v.level) << "] " << toString(v.condition) << ": " << v.message
              << "\n";
    for (auto id : v.ops) {
      if (auto it = byId.find(id); it != byId.end()) std::cout << "    " << describe(*it->second) << "\n";
    }
  }
}

void printSummary(const Options& options, const History& history, const CheckReport& report) {
  std::uint64_t reads = 0, failedReads = 0;
  for (const auto& op : history) {
    if (op.kind != OpKind::Read) continue;
    ++(op.ok ? reads : failedReads);
  }
  std::cout << "operations: " << report.operations << " in " << options.duration.count() << "s with "
            << options.sessions << " sessions (writes: " << report.writesAcknowledged << " acknowledged, "
            << report.writesFailed << " failed; reads: " << reads << " answered, " << failedReads << " failed)\n";
  std::map<Condition, std::uint64_t> byCondition;
  for (const auto& v : report.violations) byCondition[v.condition]++;
  for (const auto& [level, s] : report.levels) {
    double replicaShare =
        s.reads == 0 ? 0.0 : 100.0 * static_cast<double>(s.replicaReads) / static_cast<double>(s.reads);
    char share[32];
    std::snprintf(share, sizeof share, "%.1f%%", replicaShare);
    std::cout << "level " << toString(level) << ": " << s.reads << " reads checked (" << share << " served by replicas";
    if (s.downgradedTo > 0) std::cout << ", " << s.downgradedTo << " downgraded to it";
    if (s.failedReads > 0) std::cout << ", " << s.failedReads << " failed";
    std::cout << "); checks:";
    for (std::size_t c = 0; c < kConditionCount; ++c) {
      if (s.checked[c] > 0) std::cout << " " << toString(static_cast<Condition>(c)) << "=" << s.checked[c];
    }
    std::cout << "\n";
  }
  for (const auto& [condition, count] : byCondition) {
    std::cout << "violations of " << toString(condition) << ": " << count << "\n";
  }
}

int run(const std::vector<std::string>& args) {
  auto parsed = parseOptions(args);
  if (auto* error = std::get_if<OptionsError>(&parsed)) {
    std::cerr << "cxproxy-verify: " << error->message << "\n" << usage();
    return kExitCannotRun;
  }
  const Options& options = std::get<Options>(parsed);
  if (options.help) {
    std::cout << usage();
    return kExitClean;
  }
  std::string keyPrefix = options.prefix + runId() + ":";
  if (!preflight(options, keyPrefix)) return kExitCannotRun;
  std::cout << "cxproxy-verify: " << options.sessions << " sessions for " << options.duration.count() << "s against "
            << options.url << ", keys under " << keyPrefix << "\n"
            << std::flush;
  auto origin = Clock::now();
  History history = runWorkload(options, keyPrefix, origin);
  cleanup(options, keyPrefix);
  CheckReport report = checkHistory(history);
  printViolations(history, report);
  printSummary(options, history, report);
  std::uint64_t failed = 0;
  for (const auto& op : history) failed += op.ok ? 0 : 1;
  std::cout << "violations: " << report.violations.size() << "\n";
  if (!report.violations.empty()) return kExitViolations;
  if (history.empty() || failed * 2 > history.size()) {
    std::cerr << "cxproxy-verify: inconclusive: " << failed << " of " << history.size()
              << " operations failed (is cxproxy still up?)\n";
    return kExitCannotRun;
  }
  return kExitClean;
}

}  // namespace
}  // namespace cx::verify

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return cx::verify::run(args);
  } catch (const std::exception& e) {
    std::cerr << "cxproxy-verify: cannot run: " << e.what() << "\n";
    return 2;
  }
}
