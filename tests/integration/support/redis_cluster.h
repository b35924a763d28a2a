// Real redis-server processes for integration tests: one primary and N replicas on free
// loopback ports, no persistence, with fault injection (pause, kill, restart, CLIENT PAUSE).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/support/process.h"
#include "tests/integration/support/resp_client.h"

namespace cx::testing {

// TLS-only nodes (`--port 0 --tls-port P`, replication over TLS too). The harness, which
// speaks plain RESP, reaches each node through a Unix socket next to its log instead;
// port() is the TLS port, the only one on the network.
struct RedisTlsOptions {
  std::filesystem::path certFile;  // the server's certificate (also its client certificate to its primary)
  std::filesystem::path keyFile;
  std::filesystem::path caFile;    // verifies client certificates and, on replicas, the primary's
  std::string authClients = "no";  // tls-auth-clients: no | optional | yes
};

// One redis-server process. Its data lives in `<baseDir>/<name>/` (wiped on restart: no
// persistence, a restarted node comes back empty, like a fresh pod) and its log in
// `<baseDir>/<name>.log` (kept across restarts).
//
// Threading: reply()/command()/info()/replOffset() may be called from several threads at
// once (each call borrows a pooled connection). Lifecycle calls (start, pause, resume,
// kill, restart, replicaOf) belong to one thread and must not race with each other.
// Every Redis call has a deadline (default 10 s) and throws RedisIoError when it passes,
// so calling a paused or killed node fails instead of hanging.
class RedisNode {
 public:
  static constexpr std::chrono::milliseconds kCommandTimeout{10000};
  static constexpr std::chrono::milliseconds kStartTimeout{20000};

  RedisNode(std::string name, const std::filesystem::path& baseDir, std::vector<std::string> extraArgs = {},
            std::optional<RedisTlsOptions> tls = std::nullopt);
  ~RedisNode();
  RedisNode(const RedisNode&) = delete;
  RedisNode& operator=(const RedisNode&) = delete;

  // Starts the process and waits until it answers PING. The first start picks a free
  // port (and picks another if the chosen one turns out taken); `replicaOfPort` makes it
  // a replica of 127.0.0.1:<port>. Throws with the log's tail on failure.
  void start(std::optional<int> replicaOfPort = std::nullopt, std::chrono::milliseconds timeout = kStartTimeout);
  // Kills the process if running, then starts it again on the same port with the
  // current role (see replicaOf) and empty data; waits until it answers PING.
  void restart(std::chrono::milliseconds timeout = kStartTimeout);
  // SIGKILL and reap. No-op when not running.
  void kill();
  // SIGSTOP / SIGCONT: the process keeps its sockets but answers nothing.
  void pause();
  void resume();
  // CLIENT PAUSE <ms> WRITE: reads are served, writes block for `duration`.
  void clientPauseWrite(std::chrono::milliseconds duration);
  // REPLICAOF 127.0.0.1 <port>, or REPLICAOF NO ONE for nullopt. Remembered for restart().
  void replicaOf(std::optional<int> primaryPort);

  RedisReply reply(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = kCommandTimeout);
  // reply(argv).toString(): "OK", "value", "42", "(nil)", "(error) ERR ...", "[a, b]".
  std::string command(const std::vector<std::string>& argv);
  // A dedicated connection, for stateful commands (MULTI, SUBSCRIBE, CLIENT REPLY ...)
  // or pipelining.
  std::unique_ptr<RespConnection> connect(std::chrono::milliseconds timeout = kCommandTimeout);

  // INFO <section> as key → value ("master_link_status" → "up").
  std::map<std::string, std::string> info(const std::string& section = "replication");
  // Replication offset from ROLE: master_repl_offset on a primary, the applied offset on
  // a replica (-1 while it has no link).
  long long replOffset();
  // master_replid from INFO replication.
  std::string replId();
  // "master" or "slave" from ROLE.
  std::string role();
  // master_link_status:up (false on a primary or on error).
  bool linkUp();
  // Waits for master_link_status:up; throws with the log's tail on timeout.
  void waitLinkUp(std::chrono::milliseconds timeout = kStartTimeout);

  const std::string& name() const { return name_; }
  int port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  bool running() { return process_.running(); }
  bool paused() const { return process_.stopped(); }
  std::optional<int> replicaOfPort() const { return replicaOfPort_; }
  const std::filesystem::path& logPath() const { return logPath_; }
  bool tls() const { return tls_.has_value(); }
  std::string logTail(std::size_t lines = 30) const { return tailFile(logPath_, lines); }

 private:
  std::vector<std::string> arguments() const;
  void spawn();
  void finishStart(std::chrono::milliseconds timeout);
  // Waits for PING → PONG. False (with *why set) if the process exited or time ran out.
  bool awaitReady(std::chrono::milliseconds timeout, std::string* why, bool* addressInUse);
  void dropConnections();
  std::unique_ptr<RespConnection> openConnection(std::chrono::milliseconds timeout) const;

  std::string name_;
  std::filesystem::path dataDir_;
  std::filesystem::path logPath_;
  std::vector<std::string> extraArgs_;
  std::optional<RedisTlsOptions> tls_;
  std::filesystem::path unixSocket_;  // with tls_
  std::string redisServer_;
  int port_ = 0;
  bool everReady_ = false;
  std::optional<int> replicaOfPort_;
  std::uintmax_t logOffset_ = 0;  // log size when the current process was spawned
  ChildProcess process_;

  std::mutex poolMutex_;
  std::vector<std::unique_ptr<RespConnection>> idle_;
  std::uint64_t generation_ = 0;  // bumped on kill/restart: pooled connections are stale
};

struct RedisClusterOptions {
  int replicas = 2;
  // Extra redis-server arguments for every node, e.g. {"--repl-timeout", "5"}.
  std::vector<std::string> extraArgs;
  std::optional<RedisTlsOptions> tls;  // TLS-only nodes; see RedisTlsOptions
  std::chrono::milliseconds startTimeout = RedisNode::kStartTimeout;
};

// A primary (node 0, named "primary") and replicas (nodes 1..N, "replica-1" ...), started
// and replicating when the constructor returns (every replica's master_link_status:up).
// The destructor kills every process (paused ones too), and prints the tail of each log
// when the current test has failed. Indices stay fixed; roles can change with promote()
// and replicaOf(). Threading as for RedisNode.
class RedisCluster {
 public:
  explicit RedisCluster(int replicas = 2);
  explicit RedisCluster(RedisClusterOptions options);
  ~RedisCluster();
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  std::size_t size() const { return nodes_.size(); }
  RedisNode& node(std::size_t i);
  const RedisNode& node(std::size_t i) const;
  int port(std::size_t i) const { return node(i).port(); }
  pid_t pid(std::size_t i) const { return node(i).pid(); }
  const std::string& name(std::size_t i) const { return node(i).name(); }
  // The node currently acting as primary (0 unless promote() moved it).
  std::size_t primaryIndex() const { return primaryIndex_; }
  int primaryPort() const { return port(primaryIndex_); }
  // Every index except primaryIndex(), in order.
  std::vector<std::size_t> replicaIndices() const;

  std::string command(std::size_t i, const std::vector<std::string>& argv) { return node(i).command(argv); }
  RedisReply reply(std::size_t i, const std::vector<std::string>& argv,
                   std::chrono::milliseconds timeout = RedisNode::kCommandTimeout) {
    return node(i).reply(argv, timeout);
  }

  void pause(std::size_t i) { node(i).pause(); }
  void resume(std::size_t i) { node(i).resume(); }
  void clientPauseWrite(std::size_t i, std::chrono::milliseconds duration) { node(i).clientPauseWrite(duration); }
  void kill(std::size_t i) { node(i).kill(); }
  // Same port, same role, empty data; waits until it answers PING. A restarted replica
  // resyncs in the background: call waitLinkUp(i) if the test needs it replicating.
  void restart(std::size_t i) { node(i).restart(options_.startTimeout); }

  long long replOffset(std::size_t i) { return node(i).replOffset(); }
  std::string replId(std::size_t i) { return node(i).replId(); }
  bool linkUp(std::size_t i) { return node(i).linkUp(); }
  void waitLinkUp(std::size_t i, std::chrono::milliseconds timeout = RedisNode::kStartTimeout) {
    node(i).waitLinkUp(timeout);
  }
  // Waits until every running, unpaused replica has a link up and has applied at least
  // the primary's offset as of the call. Throws on timeout.
  void waitSynced(std::chrono::milliseconds timeout = RedisNode::kStartTimeout);

  // REPLICAOF NO ONE on node i, which becomes primaryIndex(). Other replicas are not
  // moved: call replicaOf(j, i) for each.
  void promote(std::size_t i);
  // Makes node `replica` replicate node `primary`.
  void replicaOf(std::size_t replica, std::size_t primary);

  // Kills every process. Idempotent; the destructor calls it.
  void stop();
  const std::filesystem::path& dir() const { return dir_.path(); }

 private:
  RedisClusterOptions options_;
  TempDir dir_;
  std::vector<std::unique_ptr<RedisNode>> nodes_;
  std::size_t primaryIndex_ = 0;
};

}  // namespace cx::testing
