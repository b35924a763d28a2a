// Real redis-sentinel processes for integration tests (see redis_sentinel.h).
#include "tests/integration/support/redis_sentinel.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <thread>

namespace cx::testing {
namespace {

std::string sentinelPath() {
  const char* overridePath = std::getenv("REDIS_SENTINEL");
  if (overridePath != nullptr && *overridePath != '\0') return findExecutable(overridePath);
  try {
    return findExecutable("redis-sentinel");
  } catch (const std::exception&) {
    return findExecutable("/usr/bin/redis-sentinel");
  }
}

// A flat key/value array reply as a lookup.
std::string field(const RedisReply& r, const std::string& key) {
  for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    if (r.elements[i].str == key) return r.elements[i + 1].str;
  }
  return "";
}

}  // namespace

SentinelNode::SentinelNode(std::string name, const std::filesystem::path& baseDir)
    : name_(std::move(name)),
      configPath_(baseDir / (name_ + ".conf")),
      logPath_(baseDir / (name_ + ".log")),
      binary_(sentinelPath()) {}

SentinelNode::~SentinelNode() { kill(); }

void SentinelNode::spawn() { process_.start({binary_, configPath_.string()}, logPath_); }

bool SentinelNode::awaitReady(std::chrono::milliseconds timeout) {
  return waitUntil(
      [&] {
        if (!process_.running()) throw std::runtime_error("exited");
        RespConnection conn(port_, 1000ms);
        return conn.command({"PING"}).str == "PONG";
      },
      timeout, 20ms);
}

void SentinelNode::start(const std::string& configBody, std::chrono::milliseconds timeout, bool tlsPort) {
  for (int attempt = 1;; ++attempt) {
    port_ = freePort();
    std::string head = "port " + std::to_string(port_) + "\nbind 127.0.0.1\ndaemonize no\n";
    if (tlsPort) {
      tlsPort_ = freePort();
      head += "tls-port " + std::to_string(tlsPort_) + "\n";
    }
    writeFile(configPath_, head + configBody);
    spawn();
    if (awaitReady(timeout)) return;
    const bool inUse = readFile(logPath_).find("Address already in use") != std::string::npos;
    process_.kill();
    if (!inUse || attempt >= 5) {
      throw std::runtime_error("sentinel " + name_ + " failed to start\n" + logTail(30));
    }
  }
}

void SentinelNode::restart(std::chrono::milliseconds timeout) {
  kill();
  spawn();
  if (!awaitReady(timeout)) throw std::runtime_error("sentinel " + name_ + " failed to restart\n" + logTail(30));
}

void SentinelNode::kill() { process_.kill(); }
void SentinelNode::pause() { process_.pause(); }
void SentinelNode::resume() { process_.resume(); }

RedisReply SentinelNode::command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  RespConnection conn(port_, timeout);
  return conn.command(argv);
}

SentinelSet::SentinelSet(RedisCluster& cluster, SentinelOptions options)
    : options_(std::move(options)), dir_("cxproxy-sentinel") {
  const std::string m = options_.master;
  const std::string body =
      "dir " + dir_.path().string() + "\n" + "sentinel monitor " + m + " 127.0.0.1 " +
      std::to_string(cluster.primaryPort()) + " " + std::to_string(options_.quorum) + "\n" +
      "sentinel down-after-milliseconds " + m + " " + std::to_string(options_.downAfter.count()) + "\n" +
      "sentinel failover-timeout " + m + " " + std::to_string(options_.failoverTimeout.count()) + "\n" +
      "sentinel parallel-syncs " + m + " 2\n" +
      (options_.tls ? "tls-cert-file " + options_.tls->certFile.string() + "\ntls-key-file " +
                          options_.tls->keyFile.string() + "\ntls-ca-cert-file " + options_.tls->caFile.string() +
                          "\ntls-replication yes\ntls-auth-clients " + options_.tls->authClients + "\n"
                    : std::string());
  try {
    for (int i = 0; i < options_.sentinels; ++i) {
      nodes_.push_back(std::make_unique<SentinelNode>("sentinel-" + std::to_string(i + 1), dir_.path()));
      nodes_.back()->start(body, options_.startTimeout, options_.tls.has_value());
    }
    waitDiscovered(options_.startTimeout);
  } catch (...) {
    for (auto& n : nodes_) n->kill();
    throw;
  }
}

SentinelSet::~SentinelSet() {
  if (::testing::Test::HasFailure()) {
    for (auto& n : nodes_) std::cerr << "--- last lines of " << n->name() << ".log ---\n" << n->logTail(20);
  }
  for (auto& n : nodes_) n->kill();
}

std::vector<std::string> SentinelSet::addresses() const {
  std::vector<std::string> out;
  for (const auto& n : nodes_) out.push_back(n->address());
  return out;
}

std::vector<std::string> SentinelSet::tlsAddresses() const {
  std::vector<std::string> out;
  for (const auto& n : nodes_) out.push_back(n->tlsAddress());
  return out;
}

void SentinelSet::waitDiscovered(std::chrono::milliseconds timeout) {
  const std::string others = std::to_string(nodes_.size() - 1);
  for (auto& n : nodes_) {
    bool ok = waitUntil(
        [&] {
          RedisReply r = n->command({"SENTINEL", "master", options_.master}, 1000ms);
          return field(r, "num-other-sentinels") == others && field(r, "num-slaves") != "0" &&
                 field(r, "flags") == "master";
        },
        timeout, 50ms);
    if (!ok) throw std::runtime_error("sentinel " + n->name() + " did not discover its peers\n" + n->logTail(20));
  }
  // Every replica known, and none still flagged down from before it was first seen.
  for (auto& n : nodes_) {
    bool ok = waitUntil(
        [&] {
          RedisReply r = n->command({"SENTINEL", "replicas", options_.master}, 1000ms);
          if (r.type != RedisReply::Type::Array || r.elements.empty()) return false;
          for (const auto& rep : r.elements) {
            if (field(rep, "flags") != "slave" || field(rep, "master-link-status") != "ok") return false;
          }
          return true;
        },
        timeout, 50ms);
    if (!ok) throw std::runtime_error("sentinel " + n->name() + " does not see healthy replicas\n" + n->logTail(20));
  }
}

std::optional<int> SentinelSet::primaryPort(std::size_t i) {
  try {
    RedisReply r = sentinel(i).command({"SENTINEL", "get-master-addr-by-name", options_.master}, 1000ms);
    if (r.type != RedisReply::Type::Array || r.elements.size() != 2) return std::nullopt;
    return std::stoi(r.elements[1].str);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void SentinelSet::failover(std::size_t i, std::chrono::milliseconds timeout) {
  std::string last;
  bool ok = waitUntil(
      [&] {
        RedisReply r = sentinel(i).command({"SENTINEL", "FAILOVER", options_.master});
        last = r.toString();
        return !r.isError();
      },
      timeout, 100ms);
  if (!ok) throw std::runtime_error("SENTINEL FAILOVER refused: " + last);
}

int SentinelSet::waitForNewPrimary(int oldPort, std::chrono::milliseconds timeout) {
  int agreed = 0;
  bool ok = waitUntil(
      [&] {
        std::optional<int> seen;
        for (std::size_t i = 0; i < nodes_.size(); ++i) {
          if (!nodes_[i]->running()) continue;
          auto p = primaryPort(i);
          if (!p || *p == oldPort || (seen && *seen != *p)) return false;
          seen = p;
        }
        agreed = seen.value_or(0);
        return seen.has_value();
      },
      timeout, 50ms);
  if (!ok) throw std::runtime_error("the Sentinels did not agree on a new primary");
  return agreed;
}

void SentinelSet::killSubscriptions() {
  for (auto& n : nodes_) {
    if (!n->running()) continue;
    try {
      n->command({"CLIENT", "KILL", "TYPE", "pubsub"}, 1000ms);
    } catch (const std::exception&) {
    }
  }
}

}  // namespace cx::testing
