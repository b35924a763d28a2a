// The cluster parsers against a real Redis Cluster (3 shards × 1 replica, formed with
// redis-cli --cluster create): CLUSTER SHARDS from every node reads into three shards
// covering every slot, keySlot() agrees with CLUSTER KEYSLOT, and the MOVED a wrong node
// answers reads as a redirect to the slot's owner.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "backends/cluster_slots.h"
#include "backends/cluster_topology.h"
#include "tests/integration/support/redis_shards.h"

namespace cx::testing {
namespace {

using backends::ClusterShards;
using backends::ClusterShardsError;
using backends::NodeRole;

// One cluster for the whole suite: the tests only read it.
class ClusterTopologyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { shards_ = std::make_unique<RedisShards>(); }
  static void TearDownTestSuite() { shards_.reset(); }
  void SetUp() override { ASSERT_TRUE(shards_) << "the cluster did not start (see above)"; }

  // CLUSTER SHARDS on `node`, parsed. A parse error is a test failure, or, when `why` is
  // given (polling), written there instead.
  static ClusterShards shardsFrom(std::size_t node, std::string* why = nullptr) {
    RedisReply reply = shards_->reply(node, {"CLUSTER", "SHARDS"});
    auto parsed = backends::parseClusterShards(toRespValue(reply));
    if (auto* error = std::get_if<ClusterShardsError>(&parsed)) {
      std::string message = "node " + std::to_string(node) + ": " + error->message + "\nreply: " + reply.toString();
      if (why) {
        *why = std::move(message);
      } else {
        ADD_FAILURE() << message;
      }
      return {};
    }
    return std::get<ClusterShards>(std::move(parsed));
  }

  static std::string nameOf(std::size_t node) { return "127.0.0.1:" + std::to_string(shards_->port(node)); }

  static std::unique_ptr<RedisShards> shards_;
};

std::unique_ptr<RedisShards> ClusterTopologyTest::shards_;

TEST_F(ClusterTopologyTest, ShardsFromEveryNodeCoverAllSlotsWithTheirPrimaryAndReplica) {
  const std::vector<std::size_t> primaries = shards_->primaryIndices();
  ASSERT_EQ(primaries.size(), 3u);
  for (std::size_t asked = 0; asked < shards_->size(); ++asked) {
    SCOPED_TRACE("CLUSTER SHARDS on " + shards_->node(asked).name());
    ClusterShards cluster = shardsFrom(asked);
    ASSERT_EQ(cluster.shards.size(), 3u);
    EXPECT_TRUE(cluster.coverage().ready()) << cluster.coverage().describe();
    std::size_t slotCount = 0;
    std::set<std::string> primaryNames;
    for (const backends::ClusterShard& shard : cluster.shards) {
      ASSERT_TRUE(shard.primary);
      EXPECT_EQ(shard.primary->role, NodeRole::Primary);
      EXPECT_EQ(shard.primary->health, backends::ClusterNodeHealth::Online);
      EXPECT_EQ(shard.primary->id.size(), 40u);
      auto primary = shards_->indexOfPort(shard.primary->port);
      ASSERT_TRUE(primary) << shard.primary->name;
      EXPECT_TRUE(shards_->isPrimary(*primary));
      EXPECT_EQ(shard.primary->name, nameOf(*primary));
      primaryNames.insert(shard.primary->name);

      ASSERT_EQ(shard.replicas.size(), 1u);
      const backends::ClusterNode& replica = shard.replicas[0];
      EXPECT_EQ(replica.role, NodeRole::Replica);
      // Redis 7.0 says "loading" for a replica whose gossiped offset is 0: in a cluster
      // that has had no write yet (ReplicasAreOnlineOnceTheirOffsetsMove).
      if (replica.replicationOffset == 0) {
        EXPECT_NE(replica.health, backends::ClusterNodeHealth::Failed);
      } else {
        EXPECT_EQ(replica.health, backends::ClusterNodeHealth::Online);
      }
      auto replicaIndex = shards_->indexOfPort(replica.port);
      ASSERT_TRUE(replicaIndex) << replica.name;
      EXPECT_EQ(shards_->primaryOf(*replicaIndex), primary) << replica.name << " follows another primary";

      // The slot ranges agree with CLUSTER SLOTS, which the fixture reads on its own.
      for (const backends::SlotRange& range : shard.slots) {
        slotCount += range.last - range.first + 1u;
        EXPECT_EQ(shards_->slotOwner(range.first, asked), *primary);
        EXPECT_EQ(shards_->slotOwner(range.last, asked), *primary);
      }
    }
    EXPECT_EQ(slotCount, 16384u);
    EXPECT_EQ(primaryNames.size(), 3u);
  }
}

TEST_F(ClusterTopologyTest, ReplicasAreOnlineOnceTheirOffsetsMove) {
  // A write on every shard moves its offsets; gossip then carries the replicas' offsets
  // to node 0, whose CLUSTER SHARDS reports them online.
  for (std::size_t primary : shards_->primaryIndices()) {
    std::string key;
    for (int n = 0; key.empty(); ++n) {
      const std::string candidate = "online:" + std::to_string(n);
      if (shards_->slotOwner(backends::keySlot(candidate)) == primary) key = candidate;
    }
    ASSERT_EQ(shards_->command(primary, {"SET", key, "v"}), "OK");
  }
  std::string last;
  const bool allOnline = waitUntil(
      [&] {
        last.clear();
        ClusterShards cluster = shardsFrom(0, &last);
        for (const auto& shard : cluster.shards) {
          for (const auto& replica : shard.replicas) {
            if (replica.health != backends::ClusterNodeHealth::Online) {
              last += replica.name + " is " + std::string(backends::toString(replica.health)) + " at offset " +
                      std::to_string(replica.replicationOffset) + "; ";
            }
          }
        }
        return cluster.shards.size() == 3 && last.empty();
      },
      30s, 50ms);
  EXPECT_TRUE(allOnline) << last;
}

TEST_F(ClusterTopologyTest, KeySlotAgreesWithClusterKeyslot) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const std::string alphabet = "abcxyz019{}{}{}:._-";
  auto randomText = [&](std::size_t maxLength, bool binary) {
    std::string out(std::uniform_int_distribution<std::size_t>(0, maxLength)(rng), '\0');
    for (char& c : out) {
      c = binary ? static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng))
                 : alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(rng)];
    }
    return out;
  };
  std::vector<std::string> keys = {"",
                                   "{",
                                   "}",
                                   "{}",
                                   "{}{a}",
                                   "{{a}}",
                                   "a}b{c}d",
                                   "{user1000}.following",
                                   "{user1000}.followers",
                                   "foo{}{bar}",
                                   "foo{{bar}}zap",
                                   "foo{bar}{zap}"};
  for (int i = 0; i < 100; ++i) keys.push_back(randomText(24, false));
  for (int i = 0; i < 100; ++i) keys.push_back(randomText(24, true));
  for (int i = 0; i < 100; ++i) {
    keys.push_back(randomText(6, true) + "{" + randomText(8, i % 2 == 0) + "}" + randomText(6, true));
  }

  auto conn = shards_->node(0).connect();
  for (const std::string& key : keys) conn->send({"CLUSTER", "KEYSLOT", key});
  for (const std::string& key : keys) {
    RedisReply slot = conn->read();
    ASSERT_EQ(slot.type, RedisReply::Type::Integer) << slot.toString();
    EXPECT_EQ(backends::keySlot(key), slot.integer)
        << "key of " << key.size() << " bytes: " << ::testing::PrintToString(key);
  }
}

TEST_F(ClusterTopologyTest, WrongNodeAnswersMovedToTheSlotsOwner) {
  ClusterShards cluster = shardsFrom(0);
  ASSERT_EQ(cluster.shards.size(), 3u);
  const std::vector<std::size_t> primaries = shards_->primaryIndices();
  // One key per shard, so every primary is the owner once.
  std::set<std::size_t> ownersSeen;
  for (int n = 0; ownersSeen.size() < 3 && n < 1000; ++n) {
    const std::string key = "key:" + std::to_string(n);
    const std::uint16_t slot = backends::keySlot(key);
    auto shard = cluster.shardOfKey(key);
    ASSERT_TRUE(shard);
    const std::size_t owner = shards_->slotOwner(slot);
    if (!ownersSeen.insert(owner).second) continue;
    ASSERT_TRUE(cluster.shards[*shard].primary);
    EXPECT_EQ(cluster.shards[*shard].primary->name, nameOf(owner));
    EXPECT_EQ(shards_->command(owner, {"SET", key, "v"}), "OK");

    std::vector<std::size_t> wrong;
    for (std::size_t p : primaries) {
      if (p != owner) wrong.push_back(p);
    }
    // The owner's replica redirects too, until a connection says READONLY.
    for (std::size_t i = 0; i < shards_->size(); ++i) {
      if (shards_->primaryOf(i) == owner) wrong.push_back(i);
    }
    ASSERT_EQ(wrong.size(), 3u);
    for (std::size_t node : wrong) {
      SCOPED_TRACE(key + " (slot " + std::to_string(slot) + ") on " + shards_->node(node).name());
      RedisReply reply = shards_->reply(node, {"GET", key});
      ASSERT_TRUE(reply.isError()) << reply.toString();
      EXPECT_EQ(backends::classifyClusterError(reply.str), backends::ClusterErrorKind::Moved);
      auto redirect = backends::parseClusterRedirect(reply.str);
      ASSERT_TRUE(redirect) << reply.str;
      EXPECT_EQ(redirect->kind, backends::ClusterRedirect::Kind::Moved);
      EXPECT_EQ(redirect->slot, slot);
      EXPECT_EQ(redirect->target("unused").name(), nameOf(owner));
    }
  }
  EXPECT_EQ(ownersSeen.size(), 3u);
}

TEST_F(ClusterTopologyTest, KeysOfTwoSlotsInOneCommandAreCrossSlot) {
  // "a" and "b" are in different slots (15495 and 3300); ask the owner of one of them.
  const std::size_t owner = shards_->slotOwner(backends::keySlot("a"));
  RedisReply reply = shards_->reply(owner, {"MGET", "a", "b"});
  ASSERT_TRUE(reply.isError()) << reply.toString();
  EXPECT_EQ(backends::classifyClusterError(reply.str), backends::ClusterErrorKind::CrossSlot) << reply.str;
  const std::vector<std::string_view> keys = {"a", "b"};
  EXPECT_FALSE(backends::sameSlot(keys));
  const std::vector<std::string_view> tagged = {"{a}1", "{a}2"};
  EXPECT_TRUE(backends::sameSlot(tagged));
  reply = shards_->reply(shards_->slotOwner(backends::keySlot("a")), {"MGET", "{a}1", "{a}2"});
  EXPECT_FALSE(reply.isError()) << reply.toString();
}

}  // namespace
}  // namespace cx::testing
