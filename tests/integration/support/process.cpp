// Child processes, temp dirs, free ports and polling for integration tests.
#include "tests/integration/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace cx::testing {
namespace {

std::string errnoText(int err) { return std::strerror(err); }

// --- spawning -------------------------------------------------------------------------
//
// PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process.
// Tests may start or restart processes from short-lived threads, so every fork happens on
// one spawner thread that lives as long as the test binary: children then die exactly
// when the test binary does (crash, CTest timeout, abort), and never earlier.

struct SpawnRequest {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value"
  std::filesystem::path outputPath;
  std::promise<pid_t> result;
};

pid_t forkExec(SpawnRequest& request) {
  // Everything the child touches is prepared here: after fork() only async-signal-safe
  // calls are allowed.
  std::vector<char*> argv;
  for (auto& arg : request.argv) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& var : request.env) envp.push_back(var.data());
  envp.push_back(nullptr);

  int outFd = ::open(request.outputPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (outFd < 0) {
    throw std::runtime_error("cannot open " + request.outputPath.string() + ": " + errnoText(errno));
  }
  int nullFd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int execPipe[2];
  if (nullFd < 0 || ::pipe2(execPipe, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(outFd);
    if (nullFd >= 0) ::close(nullFd);
    throw std::runtime_error("spawn setup failed: " + errnoText(err));
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(nullFd, 0);
    ::dup2(outFd, 1);
    ::dup2(outFd, 2);
    ::dup2(execPipe[1], 3);
    ::fcntl(3, F_SETFD, FD_CLOEXEC);
    if (::syscall(SYS_close_range, 4U, ~0U, 0U) != 0) {
      for (int fd = 4; fd < 65536; ++fd) ::close(fd);
    }
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2}) {
      ::signal(sig, SIG_DFL);
    }
    ::execve(argv[0], argv.data(), envp.data());
    int err = errno;
    [[maybe_unused]] auto n = ::write(3, &err, sizeof err);
    ::_exit(127);
  }
  int forkErr = errno;
  ::close(outFd);
  ::close(nullFd);
  ::close(execPipe[1]);
  if (pid < 0) {
    ::close(execPipe[0]);
    throw std::runtime_error("fork failed: " + errnoText(forkErr));
  }
  int execErr = 0;
  ssize_t n;
  do {
    n = ::read(execPipe[0], &execErr, sizeof execErr);
  } while (n < 0 && errno == EINTR);
  ::close(execPipe[0]);
  if (n > 0) {
    int status;
    ::waitpid(pid, &status, 0);
    throw std::runtime_error("cannot exec " + request.argv[0] + ": " + errnoText(execErr));
  }
  return pid;
}

class Spawner {
 public:
  static Spawner& instance() {
    // Never destroyed: the thread may still wait on the queue during static destruction.
    static Spawner* spawner = new Spawner;
    return *spawner;
  }

  pid_t spawn(SpawnRequest request) {
    auto future = request.result.get_future();
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(request));
    }
    wake_.notify_one();
    return future.get();
  }

 private:
  Spawner() {
    std::thread([this] { loop(); }).detach();
  }

  void loop() {
    sigset_t all;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, nullptr);  // signals are for the test's threads
    for (;;) {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return !queue_.empty(); });
      SpawnRequest request = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      try {
        request.result.set_value(forkExec(request));
      } catch (...) {
        request.result.set_exception(std::current_exception());
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<SpawnRequest> queue_;
};

int ephemeralLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  int high = 0;
  if (in >> low >> high && low > 12000) return low;
  return 32768;
}

bool canBind(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  // No SO_REUSEADDR: a port with TIME_WAIT leftovers is skipped too.
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

// --- TempDir ------------------------------------------------------------------------

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + errnoText(errno));
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  if (std::getenv("CXPROXY_KEEP_TEST_DIRS") != nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

// --- helpers --------------------------------------------------------------------------

int freePort() {
  static std::mutex mutex;
  static std::set<int> handedOut;
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  std::lock_guard lock(mutex);
  const int low = 10000;
  const int high = ephemeralLow() - 1;
  std::uniform_int_distribution<int> dist(low, high);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    int port = dist(rng);
    if (handedOut.count(port) != 0) continue;
    if (!canBind(port)) continue;
    handedOut.insert(port);
    return port;
  }
  throw std::runtime_error("freePort: no free loopback port found");
}

std::string findExecutable(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) == 0) return name;
    throw std::runtime_error("not executable: " + name);
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error("executable not found in PATH: " + name);
}

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    try {
      if (condition()) return true;
    } catch (const std::exception&) {
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

void writeFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string tailFile(const std::filesystem::path& path, std::size_t lines) {
  std::string text = readFile(path);
  if (lines == 0 || text.empty()) return {};
  std::size_t pos = text.size();
  if (text.back() == '\n') --pos;
  std::size_t seen = 0;
  while (pos > 0) {
    --pos;
    if (text[pos] == '\n' && ++seen == lines) return text.substr(pos + 1);
  }
  return text;
}

int exitStatusOf(int waitStatus) {
  if (WIFEXITED(waitStatus)) return WEXITSTATUS(waitStatus);
  if (WIFSIGNALED(waitStatus)) return 128 + WTERMSIG(waitStatus);
  return -1;
}

// --- ChildProcess ----------------------------------------------------------------------

ChildProcess::~ChildProcess() { kill(); }

void ChildProcess::start(const std::vector<std::string>& argv, const std::filesystem::path& outputPath,
                         const std::map<std::string, std::string>& env) {
  if (running()) throw std::runtime_error("ChildProcess::start: already running");
  if (argv.empty()) throw std::runtime_error("ChildProcess::start: empty argv");
  SpawnRequest request;
  request.argv = argv;
  request.outputPath = outputPath;
  for (char** var = environ; var != nullptr && *var != nullptr; ++var) {
    std::string entry = *var;
    std::string name = entry.substr(0, entry.find('='));
    if (env.count(name) == 0) request.env.push_back(std::move(entry));
  }
  for (const auto& [name, value] : env) request.env.push_back(name + "=" + value);
  pid_ = Spawner::instance().spawn(std::move(request));
  stopped_ = false;
  lastWaitStatus_.reset();
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) lastWaitStatus_ = status;
  pid_ = -1;
  stopped_ = false;
  return false;
}

void ChildProcess::signal(int signalNumber) {
  if (pid_ > 0) ::kill(pid_, signalNumber);
}

void ChildProcess::pause() {
  if (!running()) throw std::runtime_error("ChildProcess::pause: not running");
  if (stopped_) return;
  ::kill(pid_, SIGSTOP);
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, WUNTRACED);
  } while (r < 0 && errno == EINTR);
  if (r == pid_ && !WIFSTOPPED(status)) {  // it died instead
    lastWaitStatus_ = status;
    pid_ = -1;
    throw std::runtime_error("ChildProcess::pause: process exited");
  }
  stopped_ = true;
}

void ChildProcess::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
  stopped_ = false;
}

std::optional<int> ChildProcess::kill() {
  if (pid_ <= 0) return std::nullopt;
  ::kill(pid_, SIGKILL);
  ::kill(pid_, SIGCONT);
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  pid_ = -1;
  stopped_ = false;
  if (r < 0) return std::nullopt;
  lastWaitStatus_ = status;
  return exitStatusOf(status);
}

std::optional<int> ChildProcess::waitExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) {
    return lastWaitStatus_ ? std::optional<int>(exitStatusOf(*lastWaitStatus_)) : std::nullopt;
  }
  bool exited = waitUntil([this] { return !running(); }, timeout, 5ms);
  if (!exited || !lastWaitStatus_) return std::nullopt;
  return exitStatusOf(*lastWaitStatus_);
}

}  // namespace cx::testing
