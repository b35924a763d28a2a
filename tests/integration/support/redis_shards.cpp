// A real Redis Cluster for integration tests (see redis_shards.h).
#include "tests/integration/support/redis_shards.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace cx::testing {
namespace {

std::string redisCliPath() {
  const char* overridePath = std::getenv("REDIS_CLI");
  if (overridePath != nullptr && *overridePath != '\0') return findExecutable(overridePath);
  return findExecutable("redis-cli");
}

bool hasFlag(const std::string& flags, const std::string& flag) {
  std::stringstream in(flags);
  std::string one;
  while (std::getline(in, one, ',')) {
    if (one == flag) return true;
  }
  return false;
}

}  // namespace

RedisShards::RedisShards(RedisShardsOptions options) : options_(std::move(options)), dir_("cxproxy-shards") {
  if (options_.shards < 3) {
    throw std::invalid_argument("RedisShards: redis-cli --cluster create needs at least 3 shards");
  }
  if (options_.replicasPerShard < 0) throw std::invalid_argument("RedisShards: negative replicasPerShard");
  try {
    const int total = options_.shards * (1 + options_.replicasPerShard);
    for (int i = 0; i < total; ++i) {
      // The bus port is chosen like the client port, not left at port + 10000, which
      // could fall in the ephemeral range or on a port that is taken.
      std::vector<std::string> args = {"--cluster-enabled",      "yes",
                                       "--cluster-config-file",  "nodes.conf",  // in the node's data dir
                                       "--cluster-node-timeout", std::to_string(options_.nodeTimeout.count()),
                                       "--cluster-port",         std::to_string(freePort())};
      args.insert(args.end(), options_.extraArgs.begin(), options_.extraArgs.end());
      nodes_.push_back(std::make_unique<RedisNode>("node-" + std::to_string(i), dir_.path(), std::move(args)));
    }
    for (auto& node : nodes_) node->start(std::nullopt, options_.startTimeout);
    create();
    waitHealthy(options_.startTimeout);
  } catch (...) {
    if (!nodes_.empty()) {
      std::cerr << "--- last lines of " << (dir_.path() / "redis-cli.log").string() << " ---\n"
                << tailFile(dir_.path() / "redis-cli.log", 20);
    }
    stop();
    throw;
  }
}

RedisShards::~RedisShards() {
  if (::testing::Test::HasFailure()) {
    for (auto& node : nodes_) {
      std::cerr << "--- last lines of " << node->logPath().string() << " ---\n" << node->logTail(15);
    }
  }
  stop();
}

void RedisShards::create() {
  std::vector<std::string> argv = {redisCliPath(), "--cluster", "create"};
  for (auto& node : nodes_) argv.push_back("127.0.0.1:" + std::to_string(node->port()));
  argv.insert(argv.end(), {"--cluster-replicas", std::to_string(options_.replicasPerShard), "--cluster-yes"});
  const auto log = dir_.path() / "redis-cli.log";
  ChildProcess cli;
  cli.start(argv, log);
  auto status = cli.waitExit(options_.startTimeout);
  if (!status) {
    cli.kill();
    throw std::runtime_error("redis-cli --cluster create did not finish within " +
                             std::to_string(options_.startTimeout.count()) + " ms\n" + tailFile(log, 20));
  }
  if (*status != 0) {
    throw std::runtime_error("redis-cli --cluster create exited with " + std::to_string(*status) + "\n" +
                             tailFile(log, 20));
  }
}

RedisNode& RedisShards::node(std::size_t i) {
  if (i >= nodes_.size()) throw std::out_of_range("RedisShards::node " + std::to_string(i));
  return *nodes_[i];
}

int RedisShards::port(std::size_t i) const {
  if (i >= nodes_.size()) throw std::out_of_range("RedisShards::port " + std::to_string(i));
  return nodes_[i]->port();
}

std::vector<int> RedisShards::ports() const {
  std::vector<int> out;
  for (const auto& node : nodes_) out.push_back(node->port());
  return out;
}

std::optional<std::size_t> RedisShards::indexOfPort(int port) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->port() == port) return i;
  }
  return std::nullopt;
}

std::vector<std::size_t> RedisShards::primaryIndices() {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (isPrimary(i)) out.push_back(i);
  }
  return out;
}

bool RedisShards::isPrimary(std::size_t i) { return node(i).role() == "master"; }

std::optional<std::size_t> RedisShards::primaryOf(std::size_t replica) {
  RedisReply role = node(replica).reply({"ROLE"});
  if (role.type != RedisReply::Type::Array || role.elements.size() < 3 || role.elements[0].str != "slave") {
    return std::nullopt;
  }
  auto index = indexOfPort(static_cast<int>(role.elements[2].integer));
  if (!index)
    throw std::runtime_error(node(replica).name() + " replicates a node that is not ours: " + role.toString());
  return index;
}

std::size_t RedisShards::slotOwner(int slot, std::size_t askNode) {
  RedisReply slots = node(askNode).reply({"CLUSTER", "SLOTS"});
  if (slots.type != RedisReply::Type::Array) {
    throw std::runtime_error("CLUSTER SLOTS on " + node(askNode).name() + ": " + slots.toString());
  }
  // Each entry: start, end, [ip, port, id, ...] of the primary, then its replicas.
  for (const RedisReply& range : slots.elements) {
    if (range.elements.size() < 3 || range.elements[0].integer > slot || range.elements[1].integer < slot) continue;
    const RedisReply& primary = range.elements[2];
    if (primary.elements.size() < 2) break;
    auto index = indexOfPort(static_cast<int>(primary.elements[1].integer));
    if (!index)
      throw std::runtime_error("slot " + std::to_string(slot) + " is served by a stranger: " + primary.toString());
    return *index;
  }
  throw std::runtime_error("slot " + std::to_string(slot) + " is not served, says " + node(askNode).name());
}

std::string RedisShards::unhealthyReason(std::size_t i) {
  RedisNode& n = node(i);
  RedisReply info = n.reply({"CLUSTER", "INFO"}, 2000ms);
  if (info.type != RedisReply::Type::Bulk) return "CLUSTER INFO: " + info.toString();
  const std::string expectedNodes = std::to_string(nodes_.size());
  for (const std::string& want : {std::string("cluster_state:ok"), std::string("cluster_slots_ok:16384"),
                                  "cluster_known_nodes:" + expectedNodes}) {
    if (info.str.find(want + "\r\n") == std::string::npos) return "CLUSTER INFO lacks " + want;
  }
  // Every node known by the role it has, with a connected link: then CLUSTER SHARDS on
  // this node lists every replica in its shard.
  RedisReply nodes = n.reply({"CLUSTER", "NODES"}, 2000ms);
  if (nodes.type != RedisReply::Type::Bulk) return "CLUSTER NODES: " + nodes.toString();
  int primaries = 0;
  int replicas = 0;
  std::istringstream lines(nodes.str);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string id, address, flags, master, pingSent, pongReceived, epoch, link;
    if (!(words >> id >> address >> flags >> master >> pingSent >> pongReceived >> epoch >> link)) continue;
    for (const char* bad : {"fail", "fail?", "handshake", "noaddr"}) {
      if (hasFlag(flags, bad)) return "CLUSTER NODES: " + address + " is " + flags;
    }
    if (link != "connected") return "CLUSTER NODES: link to " + address + " is " + link;
    if (hasFlag(flags, "master")) ++primaries;
    if (hasFlag(flags, "slave")) ++replicas;
  }
  if (primaries != options_.shards || replicas != options_.shards * options_.replicasPerShard) {
    return "CLUSTER NODES lists " + std::to_string(primaries) + " primaries and " + std::to_string(replicas) +
           " replicas";
  }
  if (!isPrimary(i) && !n.linkUp()) return "master_link_status is not up";
  return "";
}

void RedisShards::waitHealthy(std::chrono::milliseconds timeout) {
  const bool healthy = waitUntil(
      [&] {
        for (std::size_t i = 0; i < nodes_.size(); ++i) {
          if (!unhealthyReason(i).empty()) return false;
        }
        return true;
      },
      timeout, 50ms);
  if (healthy) return;
  std::string report;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    std::string why;
    try {
      why = unhealthyReason(i);
    } catch (const std::exception& e) {
      why = e.what();
    }
    if (why.empty()) continue;
    report += node(i).name() + " (port " + std::to_string(port(i)) + "): " + why + "\n" + node(i).logTail(10);
  }
  throw std::runtime_error("Redis Cluster not healthy after " + std::to_string(timeout.count()) + " ms\n" + report);
}

void RedisShards::stop() {
  for (auto& node : nodes_) node->kill();
}

backends::RespValue toRespValue(const RedisReply& reply) {
  backends::RespValue out;
  switch (reply.type) {
    case RedisReply::Type::Status: out.type = backends::RespType::Status; break;
    case RedisReply::Type::Bulk: out.type = backends::RespType::Bulk; break;
    case RedisReply::Type::Nil: out.type = backends::RespType::Nil; break;
    case RedisReply::Type::Integer: out.type = backends::RespType::Integer; break;
    case RedisReply::Type::Error: out.type = backends::RespType::Error; break;
    case RedisReply::Type::Array: out.type = backends::RespType::Array; break;
  }
  out.str = reply.str;
  out.integer = reply.integer;
  for (const RedisReply& element : reply.elements) out.elements.push_back(toRespValue(element));
  return out;
}

}  // namespace cx::testing
