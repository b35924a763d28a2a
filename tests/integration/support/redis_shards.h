// A real Redis Cluster for integration tests: N shards of one primary and R replicas,
// redis-server --cluster-enabled processes on free loopback ports (client and bus), formed
// with `redis-cli --cluster create`, like a real deployment.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/resp.h"
#include "tests/integration/support/process.h"
#include "tests/integration/support/redis_cluster.h"
#include "tests/integration/support/resp_client.h"

namespace cx::testing {

struct RedisShardsOptions {
  int shards = 3;
  int replicasPerShard = 1;
  // cluster-node-timeout: how long a node may be unreachable before it is failed over.
  std::chrono::milliseconds nodeTimeout{2000};
  // Extra redis-server arguments for every node.
  std::vector<std::string> extraArgs;
  // Starting the processes, forming the cluster, and waiting until it is healthy.
  std::chrono::milliseconds startTimeout{60000};
};

// shards × (1 + replicasPerShard) nodes ("node-0" ...), a healthy cluster when the
// constructor returns: every node says cluster_state:ok, knows every other node with the
// role it has, and every replica's master_link_status is up. Which node became which
// shard's primary is redis-cli's choice: ask primaryIndices() and primaryOf(). The
// destructor kills every process and prints each log's tail when the test has failed.
//
// Nodes have no persistence and their cluster config (nodes.conf) lives in their data
// directory, so a node must not be restart()ed through node(i): it would come back as
// a stranger with no slots. Threading as for RedisNode.
class RedisShards {
 public:
  explicit RedisShards(RedisShardsOptions options = {});
  ~RedisShards();
  RedisShards(const RedisShards&) = delete;
  RedisShards& operator=(const RedisShards&) = delete;

  std::size_t size() const { return nodes_.size(); }
  RedisNode& node(std::size_t i);
  int port(std::size_t i) const;
  std::vector<int> ports() const;
  // The node listening on `port`, if it is one of ours.
  std::optional<std::size_t> indexOfPort(int port) const;

  RedisReply reply(std::size_t i, const std::vector<std::string>& argv,
                   std::chrono::milliseconds timeout = RedisNode::kCommandTimeout) {
    return node(i).reply(argv, timeout);
  }
  std::string command(std::size_t i, const std::vector<std::string>& argv) { return node(i).command(argv); }

  // From each node's own ROLE, now: the primaries (in index order), and the primary a
  // replica follows (nullopt for a primary).
  std::vector<std::size_t> primaryIndices();
  bool isPrimary(std::size_t i);
  std::optional<std::size_t> primaryOf(std::size_t replica);

  // The primary serving `slot` according to node i's CLUSTER SLOTS (an answer this
  // fixture reads itself, independent of backends/cluster_topology). Throws when the
  // slot is unserved or served by a node that is not ours.
  std::size_t slotOwner(int slot, std::size_t askNode = 0);

  // Healthy as the constructor leaves it (see above); throws with the unhealthy nodes'
  // CLUSTER INFO and log tails after `timeout`.
  void waitHealthy(std::chrono::milliseconds timeout);
  // Why node i is not healthy, or "" when it is.
  std::string unhealthyReason(std::size_t i);

  // Kills every process. Idempotent; the destructor calls it.
  void stop();
  const std::filesystem::path& dir() const { return dir_.path(); }

 private:
  void create();

  RedisShardsOptions options_;
  TempDir dir_;
  std::vector<std::unique_ptr<RedisNode>> nodes_;
};

// A test-client reply as the proxy's RESP value, for the backends/ parsers.
backends::RespValue toRespValue(const RedisReply& reply);

}  // namespace cx::testing
