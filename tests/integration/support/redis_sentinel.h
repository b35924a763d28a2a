// Real redis-sentinel processes for integration tests: N Sentinels on free loopback ports
// monitoring the primary of a RedisCluster, with small down-after / failover timeouts so
// a failover takes a few seconds, and fault injection (kill, pause, restart, killing
// their subscription connections).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/support/process.h"
#include "tests/integration/support/redis_cluster.h"
#include "tests/integration/support/resp_client.h"

namespace cx::testing {

struct SentinelOptions {
  int sentinels = 3;
  std::string master = "mymaster";
  int quorum = 2;
  std::chrono::milliseconds downAfter{1000};
  std::chrono::milliseconds failoverTimeout{4000};
  std::chrono::milliseconds startTimeout{20000};
  // Sentinels that speak TLS to TLS-only nodes (tls-replication yes) and listen on a
  // tls-port too (tlsAddresses()); the plain port stays for the harness.
  std::optional<RedisTlsOptions> tls;
};

// One redis-sentinel process; its config file (which Sentinel rewrites with what it
// learns) and log live in `<baseDir>/<name>.conf|.log` and survive restarts.
class SentinelNode {
 public:
  SentinelNode(std::string name, const std::filesystem::path& baseDir);
  ~SentinelNode();
  SentinelNode(const SentinelNode&) = delete;
  SentinelNode& operator=(const SentinelNode&) = delete;

  // Writes the config (first start only) and starts; waits until it answers PING.
  // With `tlsPort`, a TLS port is opened next to the plain one (the body has the TLS files).
  void start(const std::string& configBody, std::chrono::milliseconds timeout, bool tlsPort = false);
  // Starts again on the same port with the config as Sentinel last rewrote it.
  void restart(std::chrono::milliseconds timeout = 20s);
  void kill();
  void pause();
  void resume();
  bool running() { return process_.running(); }

  // A fresh connection per call (Sentinels are few and calls rare). Throws RedisIoError.
  RedisReply command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 5s);
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string tlsAddress() const { return "127.0.0.1:" + std::to_string(tlsPort_); }
  const std::string& name() const { return name_; }
  std::string logTail(std::size_t lines = 30) const { return tailFile(logPath_, lines); }

 private:
  void spawn();
  bool awaitReady(std::chrono::milliseconds timeout);

  std::string name_;
  std::filesystem::path configPath_;
  std::filesystem::path logPath_;
  std::string binary_;
  int port_ = 0;
  int tlsPort_ = 0;
  ChildProcess process_;
};

// Sentinels watching `cluster`'s current primary. The constructor returns once every
// Sentinel knows every replica and every other Sentinel (so a failover can be agreed on
// at once). The destructor kills them and prints their logs' tails if the test failed.
class SentinelSet {
 public:
  SentinelSet(RedisCluster& cluster, SentinelOptions options = {});
  ~SentinelSet();
  SentinelSet(const SentinelSet&) = delete;
  SentinelSet& operator=(const SentinelSet&) = delete;

  std::size_t size() const { return nodes_.size(); }
  SentinelNode& sentinel(std::size_t i) { return *nodes_.at(i); }
  std::vector<std::string> addresses() const;
  std::vector<std::string> tlsAddresses() const;  // with options.tls
  const std::string& master() const { return options_.master; }
  const SentinelOptions& options() const { return options_; }

  // get-master-addr-by-name on Sentinel i: the primary's port, nullopt on no answer.
  std::optional<int> primaryPort(std::size_t i);
  // SENTINEL FAILOVER on Sentinel i, retried while Sentinel refuses it for a moment
  // (another failover in progress, replicas not judged yet). Throws after `timeout`.
  void failover(std::size_t i = 0, std::chrono::milliseconds timeout = 20s);
  // Waits until every running Sentinel names a primary other than `oldPort`, and they
  // agree; returns its port. Throws on timeout.
  int waitForNewPrimary(int oldPort, std::chrono::milliseconds timeout = 30s);
  // CLIENT KILL TYPE pubsub on every running Sentinel: drops every subscription.
  void killSubscriptions();

 private:
  void waitDiscovered(std::chrono::milliseconds timeout);

  SentinelOptions options_;
  TempDir dir_;
  std::vector<std::unique_ptr<SentinelNode>> nodes_;
};

}  // namespace cx::testing
