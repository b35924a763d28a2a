// The cxproxy binary under test as a child process (see cxproxy_process.h).
#include "tests/integration/support/cxproxy_process.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/integration/support/http_client.h"
#include "tests/integration/support/redis_cluster.h"

#ifndef CXPROXY_BINARY
#error "CXPROXY_BINARY must be defined as the path of the cxproxy executable"
#endif

namespace cx::testing {
namespace {

bool hasTopLevelKey(const std::string& yaml, const std::string& key) {
  std::istringstream lines(yaml);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(key + ":", 0) == 0) return true;
  }
  return false;
}

bool mentionsAddressInUse(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text.find("address already in use") != std::string::npos || text.find("address in use") != std::string::npos ||
         text.find("eaddrinuse") != std::string::npos;
}

}  // namespace

std::string redisSection(const RedisCluster& cluster, const std::string& extraLines) {
  std::ostringstream yaml;
  std::size_t primary = cluster.primaryIndex();
  yaml << "redis:\n"
       << "  primary: {name: " << cluster.name(primary) << ", address: 127.0.0.1:" << cluster.port(primary) << "}\n";
  auto replicas = cluster.replicaIndices();
  if (replicas.empty()) {
    yaml << "  replicas: []\n";
  } else {
    yaml << "  replicas:\n";
    for (std::size_t i : replicas) {
      yaml << "    - {name: " << cluster.name(i) << ", address: 127.0.0.1:" << cluster.port(i) << "}\n";
    }
  }
  yaml << extraLines;
  return yaml.str();
}

std::string basicConfig(const RedisCluster& cluster, int dataPort, int adminPort, const std::string& extra) {
  std::ostringstream yaml;
  if (!hasTopLevelKey(extra, "listen")) {
    yaml << "listen:\n"
         << "  data: 127.0.0.1:" << dataPort << "\n"
         << "  admin: 127.0.0.1:" << adminPort << "\n";
  }
  if (!hasTopLevelKey(extra, "redis")) yaml << redisSection(cluster);
  if (!hasTopLevelKey(extra, "tracking")) {
    yaml << "tracking:\n"
         << "  interval: 20ms\n";
  }
  yaml << extra;
  if (!extra.empty() && extra.back() != '\n') yaml << "\n";
  return yaml.str();
}

std::string cxproxyBinary() {
  const char* fromEnv = std::getenv("CXPROXY_BINARY");
  if (fromEnv != nullptr && *fromEnv != '\0') return fromEnv;
  return CXPROXY_BINARY;
}

CxproxyProcess::CxproxyProcess(ConfigRenderer render, CxproxyOptions options)
    : render_(std::move(render)),
      options_(std::move(options)),
      dir_("cxproxy-proc"),
      configPath_(dir_.path() / "cxproxy.yaml"),
      outputPath_(dir_.path() / "cxproxy.log") {
  for (int attempt = 1;; ++attempt) {
    dataPort_ = freePort();
    adminPort_ = freePort();
    configText_ = render_(dataPort_, adminPort_);
    writeFile(configPath_, configText_);
    startOnce();
    if (!options_.waitReady) return;
    std::string why;
    bool addressInUse = false;
    if (awaitReady(options_.readyTimeout, &why, &addressInUse)) return;
    process_.kill();
    if (addressInUse && attempt < 4) continue;
    throw std::runtime_error("cxproxy did not become ready: " + why + "\n--- " + outputPath_.string() + " ---\n" +
                             outputTail(40));
  }
}

CxproxyProcess::CxproxyProcess(const RedisCluster& cluster, const std::string& extra, CxproxyOptions options)
    : CxproxyProcess(
          [&cluster, extra](int dataPort, int adminPort) { return basicConfig(cluster, dataPort, adminPort, extra); },
          std::move(options)) {}

CxproxyProcess::~CxproxyProcess() {
  if (::testing::Test::HasFailure()) {
    std::cerr << "--- last lines of cxproxy output (" << outputPath_.string() << ") ---\n" << outputTail(40);
  }
  process_.kill();
}

void CxproxyProcess::startOnce() {
  std::vector<std::string> argv = {cxproxyBinary(), "--config", configPath_.string()};
  argv.insert(argv.end(), options_.extraArgs.begin(), options_.extraArgs.end());
  outputOffset_ = std::filesystem::exists(outputPath_) ? std::filesystem::file_size(outputPath_) : 0;
  process_.start(argv, outputPath_, options_.env);
}

bool CxproxyProcess::awaitReady(std::chrono::milliseconds timeout, std::string* why, bool* addressInUse) {
  *addressInUse = false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last = "no answer";
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_.running()) {
      std::string text = output();
      if (text.size() > outputOffset_) text = text.substr(outputOffset_);
      *addressInUse = mentionsAddressInUse(text);
      int status = process_.lastWaitStatus() ? exitStatusOf(*process_.lastWaitStatus()) : -1;
      *why = "exited with status " + std::to_string(status);
      return false;
    }
    try {
      HttpClient client(adminPort_, 1000ms);
      HttpResponse response = client.get("/readyz");
      if (response.status == 200) return true;
      last = "/readyz answered " + std::to_string(response.status) + " " + response.body;
    } catch (const std::exception& e) {
      last = e.what();
    }
    std::this_thread::sleep_for(20ms);
  }
  *why = "not ready after " + std::to_string(timeout.count()) + " ms (" + last + ")";
  return false;
}

void CxproxyProcess::waitReady(std::chrono::milliseconds timeout) {
  std::string why;
  bool addressInUse = false;
  if (awaitReady(timeout, &why, &addressInUse)) return;
  throw std::runtime_error("cxproxy did not become ready: " + why + "\n--- " + outputPath_.string() + " ---\n" +
                           outputTail(40));
}

bool CxproxyProcess::waitAdminStatus(const std::string& path, int status, std::chrono::milliseconds timeout) {
  return waitUntil(
      [&] {
        HttpClient client(adminPort_, 1000ms);
        return client.get(path).status == status;
      },
      timeout, 20ms);
}

int CxproxyProcess::terminate(std::chrono::milliseconds timeout) {
  if (!process_.running()) {
    auto status = process_.lastWaitStatus();
    if (!status) throw std::runtime_error("cxproxy terminate: not started");
    return exitStatusOf(*status);
  }
  process_.signal(SIGTERM);
  auto status = process_.waitExit(timeout);
  if (status) return *status;
  process_.kill();
  throw std::runtime_error("cxproxy did not exit within " + std::to_string(timeout.count()) +
                           " ms of SIGTERM (killed)\n--- " + outputPath_.string() + " ---\n" + outputTail(40));
}

void CxproxyProcess::kill() { process_.kill(); }

void CxproxyProcess::restart(bool waitForReady) {
  process_.kill();
  configText_ = readFile(configPath_);
  startOnce();
  if (waitForReady) waitReady(options_.readyTimeout);
}

CxproxyRun runCxproxy(std::vector<std::string> args, const std::string& configText,
                      const std::map<std::string, std::string>& env, std::chrono::milliseconds timeout) {
  TempDir dir("cxproxy-run");
  std::filesystem::path configPath = dir.path() / "cxproxy.yaml";
  std::filesystem::path outputPath = dir.path() / "output.log";
  if (!configText.empty()) {
    writeFile(configPath, configText);
    for (auto& arg : args) {
      for (auto pos = arg.find("{config}"); pos != std::string::npos; pos = arg.find("{config}")) {
        arg.replace(pos, 8, configPath.string());
      }
    }
  }
  std::vector<std::string> argv = {cxproxyBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess process;
  process.start(argv, outputPath, env);
  CxproxyRun run;
  auto status = process.waitExit(timeout);
  if (status) {
    run.exitStatus = *status;
  } else {
    process.kill();
  }
  run.output = readFile(outputPath);
  return run;
}

}  // namespace cx::testing
