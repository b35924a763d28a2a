// Child processes, temp dirs, free ports and polling for integration tests. Children are
// forked without a shell and die with the test binary even if it crashes (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cx::testing {

using namespace std::chrono_literals;

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on
// destruction unless CXPROXY_KEEP_TEST_DIRS is set in the environment.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "cxproxy-it");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A loopback TCP port nothing listens on right now, chosen at random below the kernel's
// ephemeral range (so outgoing connections do not take it later) and never handed out
// twice by this process. Another process may still take it before the caller binds it:
// starters retry with a new port when the child reports "address already in use".
int freePort();

// Absolute path of an executable: `name` if it contains '/', else searched in $PATH.
// Throws std::runtime_error when not found.
std::string findExecutable(const std::string& name);

// Polls `condition` every `interval` until it returns true (→ true) or `timeout`
// passes (→ false). Exceptions from `condition` count as false.
bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval = 10ms);

std::string readFile(const std::filesystem::path& path);
void writeFile(const std::filesystem::path& path, const std::string& text);
// The last `lines` lines of a file ("" if it does not exist).
std::string tailFile(const std::filesystem::path& path, std::size_t lines);

// Converts a waitpid() status to a shell-style exit status: the exit code, or 128 + the
// signal number when the process was killed by a signal.
int exitStatusOf(int waitStatus);

// One child process. Its stdout and stderr go (appended) to an output file, stdin is
// /dev/null, all other descriptors are closed. Not thread-safe: drive it from one thread
// at a time. The destructor SIGKILLs and reaps a child that is still running.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts argv[0] (an absolute path) with the inherited environment plus `env`
  // (overriding variables of the same name). Throws if a child is already running or
  // the exec fails.
  void start(const std::vector<std::string>& argv, const std::filesystem::path& outputPath,
             const std::map<std::string, std::string>& env = {});

  pid_t pid() const { return pid_; }
  // True while the child has not exited. Reaps it (without blocking) when it has.
  bool running();
  bool stopped() const { return stopped_; }
  // waitpid() status of the last exit, once reaped.
  std::optional<int> lastWaitStatus() const { return lastWaitStatus_; }

  void signal(int signalNumber);
  // SIGSTOP, returning once the kernel reports the child stopped.
  void pause();
  // SIGCONT.
  void resume();
  // SIGKILL (and SIGCONT, so a stopped child dies too), then reap. Returns the shell-style
  // exit status, or nullopt if no child was running.
  std::optional<int> kill();
  // Waits up to `timeout` for the child to exit; returns its shell-style exit status, or
  // nullopt on timeout (the child keeps running).
  std::optional<int> waitExit(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  bool stopped_ = false;
  std::optional<int> lastWaitStatus_;
};

}  // namespace cx::testing
