// cxproxy-verify end to end (README "Verifying the guarantees on your deployment"): the
// real binary against a real cxproxy in front of a real primary and two replicas. A
// correct deployment, even with lagging replicas, shows no violation; the same deployment
// behind a shim that drops session tokens and reads at `eventual` while claiming the
// level asked for is reported, with exit status 1.
//
// Replicas lag with CLIENT PAUSE WRITE (they keep answering reads from old data) for
// longer than a run can take, and are unpaused right after, so no check depends on timing.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

using std::chrono::milliseconds;

std::string verifyBinary() {
  if (const char* env = std::getenv("CXPROXY_VERIFY_BINARY")) return env;
  return CXPROXY_VERIFY_BINARY;
}

struct VerifyRun {
  int exitStatus = -1;  // -1: killed at the deadline
  std::string output;
};

VerifyRun runVerify(int port, std::vector<std::string> extra = {}) {
  TempDir dir("cxproxy-verify");
  std::vector<std::string> argv = {verifyBinary(),
                                   "--url",
                                   "http://127.0.0.1:" + std::to_string(port),
                                   "--seconds",
                                   "3",
                                   "--sessions",
                                   "6",
                                   "--levels",
                                   "session,bounded,prefix",
                                   "--max-staleness",
                                   "200ms"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  ChildProcess process;
  process.start(argv, dir.path() / "output.log");
  VerifyRun run;
  if (auto status = process.waitExit(180s)) {
    run.exitStatus = *status;
  } else {
    process.kill();
  }
  run.output = readFile(dir.path() / "output.log");
  return run;
}

// No load-driven downgrading: ASan latencies would look like overload.
const std::string kProxyConfig = "workers: 2\nload:\n  enabled: false\n";

class VerifyTest : public ::testing::Test {
 protected:
  void pauseReplicas() {
    for (auto r : cluster_.replicaIndices()) cluster_.clientPauseWrite(r, milliseconds{120000});
  }
  void TearDown() override {
    for (auto r : cluster_.replicaIndices()) cluster_.command(r, {"CLIENT", "UNPAUSE"});
  }

  RedisCluster cluster_{2};
  CxproxyProcess proxy_{cluster_, kProxyConfig};
};

TEST_F(VerifyTest, CorrectDeploymentHasNoViolations) {
  VerifyRun run = runVerify(proxy_.dataPort());
  EXPECT_EQ(run.exitStatus, 0) << run.output;
  EXPECT_NE(run.output.find("\nviolations: 0\n"), std::string::npos) << run.output;
  // Every data condition was actually exercised, not vacuously true.
  for (const char* check : {"read_your_writes=", "monotonic_reads=", "bounded_staleness=", "consistent_prefix="}) {
    EXPECT_NE(run.output.find(check), std::string::npos) << check << "\n" << run.output;
  }
}

TEST_F(VerifyTest, LaggingReplicasBehindAnHonestForwarderAreNoViolation) {
  FaultShim shim(proxy_.dataPort(), {.lie = false});
  pauseReplicas();
  VerifyRun run = runVerify(shim.port());
  EXPECT_EQ(run.exitStatus, 0) << run.output;
  EXPECT_NE(run.output.find("\nviolations: 0\n"), std::string::npos) << run.output;
  EXPECT_GT(shim.forwarded(), 0);
}

TEST_F(VerifyTest, DroppedTokensAndEventualReadsClaimedAsStrongerAreReported) {
  FaultShim shim(proxy_.dataPort(), {.lie = true});
  pauseReplicas();
  VerifyRun run = runVerify(shim.port());
  EXPECT_EQ(run.exitStatus, 1) << run.output;
  EXPECT_EQ(run.output.find("\nviolations: 0\n"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("\nviolations: "), std::string::npos) << run.output;
  // Each violation is printed with the operations that show it.
  EXPECT_NE(run.output.find("] read_your_writes: session s"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("[bounded] bounded_staleness: read "), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("    #"), std::string::npos) << run.output;
}

TEST_F(VerifyTest, UnreachableProxyCannotRun) {
  VerifyRun run = runVerify(freePort(), {"--seconds", "1"});
  EXPECT_EQ(run.exitStatus, 2) << run.output;
  EXPECT_NE(run.output.find("cannot run: cxproxy is unreachable"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace cx::testing
