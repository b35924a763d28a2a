// The real @upstash/redis and @upstash/ratelimit clients (npm) against cxproxy and a Redis
// primary with two replicas: installs tests/clients/upstash/'s locked dependencies under
// the build tree (npm ci, once per lock file), then runs tests/clients/upstash/test.mjs
// (node:test) in two phases: everything with healthy replicas, then with both replicas
// holding their writes (CLIENT PAUSE WRITE) to show where reads go.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

const fs::path kClientSource = fs::path(CXPROXY_SOURCE_DIR) / "tests/clients/upstash";
const fs::path kClientInstall = fs::path(CXPROXY_TEST_BUILD_DIR) / "clients/upstash";

// Runs argv to completion (up to `timeout`), output to `log`; the shell-style status.
int run(const std::vector<std::string>& argv, const fs::path& log, const std::map<std::string, std::string>& env,
        milliseconds timeout) {
  ChildProcess child;
  child.start(argv, log, env);
  auto status = child.waitExit(timeout);
  if (!status) {
    child.kill();
    return -1;
  }
  return *status;
}

// npm ci into kClientInstall when its lock file differs from the source's.
void installClients() {
  fs::create_directories(kClientInstall);
  const std::string lock = readFile(kClientSource / "package-lock.json");
  const fs::path installedLock = kClientInstall / "installed-package-lock.json";
  if (fs::exists(installedLock) && readFile(installedLock) == lock &&
      fs::exists(kClientInstall / "node_modules/@upstash/redis/package.json")) {
    return;
  }
  fs::copy_file(kClientSource / "package.json", kClientInstall / "package.json", fs::copy_options::overwrite_existing);
  fs::copy_file(kClientSource / "package-lock.json", kClientInstall / "package-lock.json",
                fs::copy_options::overwrite_existing);
  const fs::path log = kClientInstall / "npm-ci.log";
  const int status = run({findExecutable("npm"), "ci", "--no-audit", "--no-fund", "--prefix", kClientInstall.string()},
                         log, {}, milliseconds(300000));
  ASSERT_EQ(status, 0) << "npm ci failed (scripts/install-deps.sh installs node and npm):\n" << tailFile(log, 40);
  writeFile(installedLock, lock);
}

// The proxy every phase talks to: scripts allowed, a small batch limit (the bad-input
// test exceeds it), and a strong rule for the keys the atomicity test reads.
std::string proxyConfig() {
  return "workers: 2\n"
         "load:\n  enabled: false\n"
         "limits:\n  max_batch_commands: 100\n"
         "commands:\n  allow_scripts: true\n"
         "consistency:\n"
         "  default: {level: session, override: any, on_stale: primary}\n"
         "  rules:\n"
         "    - name: atomic\n"
         "      keys: [\"atomic:*\"]\n"
         "      level: strong\n";
}

class UpstashClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      node_ = findExecutable("node");
    } catch (const std::exception&) {
      FAIL() << "node is not installed; scripts/install-deps.sh installs Debian's nodejs and npm";
    }
    installClients();
  }

  // Runs test.mjs's `phase`; its exit status, with the output shown when it failed.
  int runPhase(const CxproxyProcess& proxy, const std::string& phase) {
    const fs::path log = dir_.path() / ("node-" + phase + ".log");
    const int status = run({node_, (kClientSource / "test.mjs").string()}, log,
                           {{"CXPROXY_URL", "http://127.0.0.1:" + std::to_string(proxy.dataPort())},
                            {"UPSTASH_CLIENT_DIR", kClientInstall.string()},
                            {"CXPROXY_PHASE", phase},
                            {"UPSTASH_DISABLE_TELEMETRY", "1"}},
                           milliseconds(240000));
    if (status != 0) ADD_FAILURE() << "node test.mjs (" << phase << ") exited " << status << ":\n" << tailFile(log, 80);
    return status;
  }

  TempDir dir_{"cxproxy-upstash"};
  std::string node_;
};

TEST_F(UpstashClientTest, RealClientsWorkUnchanged) {
  RedisCluster cluster(2);
  CxproxyOptions options;
  options.env["CXPROXY_SESSION_KEYS"] = "k1:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  CxproxyProcess proxy(cluster, proxyConfig(), options);
  EXPECT_EQ(runPhase(proxy, "main"), 0);
  // The client's calls were counted under the Upstash endpoints' own labels.
  EXPECT_GT(metricValue(proxy.adminPort(), "cxproxy_requests_total", "op=\"upstash_pipeline\""), 0);
  EXPECT_GT(metricValue(proxy.adminPort(), "cxproxy_requests_total", "op=\"upstash_multi\""), 0);
  EXPECT_GT(metricValue(proxy.adminPort(), "cxproxy_requests_total", "op=\"upstash\""), 0);

  cluster.command(cluster.primaryIndex(), {"SET", "ryw", "old"});
  cluster.waitSynced(std::chrono::seconds(20));
  for (std::size_t r : cluster.replicaIndices()) cluster.clientPauseWrite(r, milliseconds(120000));
  EXPECT_EQ(runPhase(proxy, "lag"), 0);
  for (std::size_t r : cluster.replicaIndices()) cluster.command(r, {"CLIENT", "UNPAUSE"});
}

}  // namespace
}  // namespace cx::testing
