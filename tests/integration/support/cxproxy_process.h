// The cxproxy binary under test (CXPROXY_BINARY) as a child process: config in a temp
// file, free data/admin ports, output captured to a file, started when /readyz says 200.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/support/process.h"

namespace cx::testing {

class RedisCluster;

// listen/redis/tracking sections (README "Configuration") for `cluster`: its primaryIndex() node as
// primary and every other node as a replica, named as in the cluster ("primary",
// "replica-1" ...), and `tracking: {interval: 20ms}`. `extra` (more top-level YAML) is
// appended; if it has its own top-level `listen:`, `redis:` or `tracking:` section, that
// section is left out here.
std::string basicConfig(const RedisCluster& cluster, int dataPort, int adminPort, const std::string& extra = "");
// basicConfig's `redis:` section, with `extraLines` (indented keys such as
// "  replica_stickiness: 0\n") added: put it in `extra` to change a redis key.
std::string redisSection(const RedisCluster& cluster, const std::string& extraLines = "");

// Path of the cxproxy binary: $CXPROXY_BINARY if set, else the CXPROXY_BINARY compile
// definition.
std::string cxproxyBinary();

struct CxproxyOptions {
  std::map<std::string, std::string> env;  // added to (overriding) the test's environment
  std::vector<std::string> extraArgs;      // after `--config FILE`
  bool waitReady = true;                   // false: return once started (e.g. primary down)
  std::chrono::milliseconds readyTimeout{20000};
};

// Renders the YAML config for the ports the process will listen on.
using ConfigRenderer = std::function<std::string(int dataPort, int adminPort)>;

// One cxproxy process. The constructor picks free ports, writes the rendered config to
// a temp file, runs `cxproxy --config FILE [extraArgs]` with stdout+stderr to
// outputPath(), and (unless waitReady is false) waits for GET /readyz → 200 on the admin
// port. If the process exits saying its address is in use, it retries on new ports.
// Failures throw std::runtime_error carrying the output's tail. The destructor SIGKILLs
// a process still running and, when the current test has failed, prints the output's
// last lines. Drive it from one thread.
class CxproxyProcess {
 public:
  explicit CxproxyProcess(ConfigRenderer render, CxproxyOptions options = {});
  // basicConfig(cluster, dataPort, adminPort, extra).
  explicit CxproxyProcess(const RedisCluster& cluster, const std::string& extra = "", CxproxyOptions options = {});
  ~CxproxyProcess();
  CxproxyProcess(const CxproxyProcess&) = delete;
  CxproxyProcess& operator=(const CxproxyProcess&) = delete;

  int dataPort() const { return dataPort_; }
  int adminPort() const { return adminPort_; }
  pid_t pid() const { return process_.pid(); }
  bool running() { return process_.running(); }
  const std::filesystem::path& configPath() const { return configPath_; }
  const std::string& configText() const { return configText_; }
  // stdout and stderr of every run of this process, appended.
  const std::filesystem::path& outputPath() const { return outputPath_; }
  const std::filesystem::path& stderrPath() const { return outputPath_; }
  std::string output() const { return readFile(outputPath_); }
  std::string outputTail(std::size_t lines = 40) const { return tailFile(outputPath_, lines); }

  // Polls GET /readyz until 200; throws with the output's tail if the process exits or
  // `timeout` passes.
  void waitReady(std::chrono::milliseconds timeout = 20s);
  // Polls GET `path` on the admin port until it answers `status`. False on timeout.
  bool waitAdminStatus(const std::string& path, int status, std::chrono::milliseconds timeout);

  // SIGTERM, then waits up to `timeout` for exit. Returns the exit status (the exit code,
  // or 128 + signal). If it does not exit in time it is SIGKILLed and this throws.
  int terminate(std::chrono::milliseconds timeout = 30s);
  // SIGKILL and reap. No-op when not running.
  void kill();
  void signal(int signalNumber) { process_.signal(signalNumber); }
  // Waits for the process to exit on its own (shell-style status), nullopt on timeout.
  std::optional<int> waitExit(std::chrono::milliseconds timeout) { return process_.waitExit(timeout); }
  // Starts again (after terminate/kill) with the same ports and config file; waits for
  // readiness unless waitReady is false. Rewrite configPath() first to change the config.
  void restart(bool waitForReady = true);

 private:
  void startOnce();
  // Waits for readiness; false (with *addressInUse set) if the process exited first.
  bool awaitReady(std::chrono::milliseconds timeout, std::string* why, bool* addressInUse);

  ConfigRenderer render_;
  CxproxyOptions options_;
  TempDir dir_;
  std::filesystem::path configPath_;
  std::filesystem::path outputPath_;
  std::string configText_;
  int dataPort_ = 0;
  int adminPort_ = 0;
  std::uintmax_t outputOffset_ = 0;
  ChildProcess process_;
};

// Runs cxproxy to completion (e.g. `--check-config FILE`), with a deadline. `configText`,
// when non-empty, is written to a temp file and every "{config}" in args is replaced by
// its path.
struct CxproxyRun {
  int exitStatus = -1;  // shell-style; -1 if it had to be killed at the deadline
  std::string output;   // stdout + stderr
};
CxproxyRun runCxproxy(std::vector<std::string> args, const std::string& configText = "",
                      const std::map<std::string, std::string>& env = {}, std::chrono::milliseconds timeout = 30s);

}  // namespace cx::testing
