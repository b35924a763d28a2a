// Unit tests for reading CLUSTER SHARDS (Redis 7, RESP2 form) into shards and a slot map,
// the readiness check over all 16384 slots, and the errors for replies of another shape.
#include "backends/cluster_topology.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "tests/unit/support/resp_values.h"

namespace cx::backends {
namespace {

using cx::testing::array;
using cx::testing::bulk;
using cx::testing::integer;

// A RESP2 map: a flat array of key, value, key, value ...
RespValue flat(std::initializer_list<std::pair<std::string, RespValue>> fields) {
  RespValue v;
  v.type = RespType::Array;
  for (const auto& [key, value] : fields) {
    v.elements.push_back(bulk(key));
    v.elements.push_back(value);
  }
  return v;
}

RespValue node(std::string id, long long port, std::string role, std::string health = "online",
               long long offset = 1234) {
  return flat({{"id", bulk(id)},
               {"port", integer(port)},
               {"ip", bulk("127.0.0.1")},
               {"endpoint", bulk("127.0.0.1")},
               {"role", bulk(role)},
               {"replication-offset", integer(offset)},
               {"health", bulk(health)}});
}

RespValue slots(std::initializer_list<long long> bounds) {
  RespValue v;
  v.type = RespType::Array;
  for (long long b : bounds) v.elements.push_back(integer(b));
  return v;
}

RespValue shard(RespValue slotList, std::vector<RespValue> nodes) {
  return flat({{"slots", std::move(slotList)}, {"nodes", array(std::move(nodes))}});
}

// Three shards with one replica each, as `redis-cli --cluster create` makes them.
RespValue threeShards() {
  return array({shard(slots({0, 5460}), {node("a0", 7000, "master"), node("a1", 7004, "replica")}),
                shard(slots({5461, 10922}), {node("b0", 7001, "master"), node("b1", 7005, "replica")}),
                shard(slots({10923, 16383}),
                      {node("c1", 7003, "replica", "online", 99), node("c0", 7002, "master", "online", 100)})});
}

ClusterShards parsed(const RespValue& reply) {
  auto result = parseClusterShards(reply);
  if (auto* error = std::get_if<ClusterShardsError>(&result)) {
    ADD_FAILURE() << error->message;
    return {};
  }
  return std::get<ClusterShards>(std::move(result));
}

std::string errorOf(const RespValue& reply) {
  auto result = parseClusterShards(reply);
  if (auto* error = std::get_if<ClusterShardsError>(&result)) return error->message;
  ADD_FAILURE() << "parsed a reply that should have been refused";
  return {};
}

TEST(ClusterShardsParse, ThreeShardsCoverEverySlot) {
  ClusterShards cluster = parsed(threeShards());
  ASSERT_EQ(cluster.shards.size(), 3u);
  const ClusterShard& c = cluster.shards[2];
  ASSERT_TRUE(c.primary);
  EXPECT_EQ(c.primary->id, "c0");
  EXPECT_EQ(c.primary->name, "127.0.0.1:7002");
  EXPECT_EQ(c.primary->role, NodeRole::Primary);
  EXPECT_EQ(c.primary->health, ClusterNodeHealth::Online);
  EXPECT_EQ(c.primary->replicationOffset, 100u);
  EXPECT_EQ(c.primary->endpoint, "127.0.0.1");
  EXPECT_EQ(c.primary->hostname, "");
  ASSERT_EQ(c.replicas.size(), 1u);  // listed before the primary: order does not make the role
  EXPECT_EQ(c.replicas[0].name, "127.0.0.1:7003");
  EXPECT_EQ(c.replicas[0].role, NodeRole::Replica);
  EXPECT_EQ(c.replicas[0].replicationOffset, 99u);
  EXPECT_EQ(c.slots, (std::vector<SlotRange>{{10923, 16383}}));
  EXPECT_TRUE(c.primaryOnline());

  EXPECT_EQ(cluster.shardOf(0), 0u);
  EXPECT_EQ(cluster.shardOf(5460), 0u);
  EXPECT_EQ(cluster.shardOf(5461), 1u);
  EXPECT_EQ(cluster.shardOf(10922), 1u);
  EXPECT_EQ(cluster.shardOf(10923), 2u);
  EXPECT_EQ(cluster.shardOf(16383), 2u);
  EXPECT_EQ(cluster.shardOf(16384), std::nullopt);
  EXPECT_EQ(cluster.shardOfKey("foo"), 2u);  // slot 12182
  EXPECT_EQ(cluster.shardOfKey("bar"), 0u);  // slot 5061

  SlotCoverage coverage = cluster.coverage();
  EXPECT_TRUE(coverage.ready());
  EXPECT_EQ(coverage.describe(), "all 16384 slots served");
}

TEST(ClusterShardsParse, SlotsNoShardClaimsAreReportedUnready) {
  RespValue reply = array({shard(slots({0, 100, 200, 300}), {node("a0", 7000, "master")}),
                           shard(slots({301, 16383}), {node("b0", 7001, "master")})});
  ClusterShards cluster = parsed(reply);
  EXPECT_EQ(cluster.shards[0].slots, (std::vector<SlotRange>{{0, 100}, {200, 300}}));
  EXPECT_EQ(cluster.shardOf(150), std::nullopt);
  EXPECT_EQ(cluster.shardOf(250), 0u);
  SlotCoverage coverage = cluster.coverage();
  EXPECT_FALSE(coverage.ready());
  EXPECT_EQ(coverage.unassigned, (std::vector<SlotRange>{{101, 199}}));
  EXPECT_TRUE(coverage.withoutPrimary.empty());
  EXPECT_EQ(coverage.describe(), "slots 101-199 unassigned");
}

TEST(ClusterShardsParse, NoShardsLeaveEverySlotUnassigned) {
  ClusterShards cluster = parsed(array({}));
  EXPECT_TRUE(cluster.shards.empty());
  SlotCoverage coverage = cluster.coverage();
  EXPECT_EQ(coverage.unassigned, (std::vector<SlotRange>{{0, 16383}}));
  EXPECT_EQ(coverage.describe(), "slots 0-16383 unassigned");
}

TEST(ClusterShardsParse, SlotsOfAFailedLoadingOrMissingPrimaryAreNotServed) {
  // "fail" is what Redis 7.0 sends (CLUSTER SHARDS's documentation says "failed").
  RespValue reply = array({shard(slots({0, 5460}), {node("a0", 7000, "master", "fail"), node("a1", 7004, "replica")}),
                           shard(slots({5461, 5461}), {node("b0", 7001, "master", "loading")}),
                           shard(slots({5462, 10922}), {node("x1", 7006, "replica")}),
                           shard(slots({10923, 16383}), {node("c0", 7002, "master")})});
  ClusterShards cluster = parsed(reply);
  EXPECT_FALSE(cluster.shards[0].primaryOnline());
  EXPECT_EQ(cluster.shards[0].primary->health, ClusterNodeHealth::Failed);
  EXPECT_EQ(cluster.shards[1].primary->health, ClusterNodeHealth::Loading);
  EXPECT_FALSE(cluster.shards[2].primary);
  ASSERT_EQ(cluster.shards[2].replicas.size(), 1u);
  SlotCoverage coverage = cluster.coverage();
  EXPECT_TRUE(coverage.unassigned.empty());
  EXPECT_EQ(coverage.withoutPrimary, (std::vector<SlotRange>{{0, 10922}}));
  EXPECT_EQ(coverage.describe(), "slots 0-10922 without an online primary");
  EXPECT_FALSE(coverage.ready());
}

TEST(ClusterShardsParse, HealthAsRedisSpellsItAndAsDocumented) {
  for (auto [spelled, health] :
       {std::pair{"online", ClusterNodeHealth::Online}, std::pair{"fail", ClusterNodeHealth::Failed},
        std::pair{"failed", ClusterNodeHealth::Failed}, std::pair{"loading", ClusterNodeHealth::Loading}}) {
    ClusterShards cluster = parsed(array({shard(slots({0, 16383}), {node("a0", 7000, "master", spelled)})}));
    ASSERT_EQ(cluster.shards.size(), 1u);
    EXPECT_EQ(cluster.shards[0].primary->health, health) << spelled;
    EXPECT_EQ(cluster.coverage().ready(), health == ClusterNodeHealth::Online) << spelled;
  }
}

// A failed primary whose replica took over stays listed, as a shard of its own that
// serves no slots (what Redis 7.0 answered after a primary was stopped for longer than
// cluster-node-timeout).
TEST(ClusterShardsParse, FailedFormerPrimaryIsAShardWithoutSlots) {
  RespValue reply = array({shard(slots({10923, 16383}), {node("c1", 7003, "master", "online", 68)}),
                           shard(slots({}), {node("c0", 7002, "master", "fail", 68)}),
                           shard(slots({0, 10922}), {node("a0", 7000, "master")})});
  ClusterShards cluster = parsed(reply);
  ASSERT_EQ(cluster.shards.size(), 3u);
  EXPECT_TRUE(cluster.shards[1].slots.empty());
  EXPECT_EQ(cluster.shards[1].primary->health, ClusterNodeHealth::Failed);
  EXPECT_EQ(cluster.shardOf(16383), 0u);
  EXPECT_TRUE(cluster.coverage().ready());
}

TEST(ClusterShardsParse, CoverageNamesTheFirstRangesOnly) {
  SlotCoverage coverage;
  coverage.unassigned = {{1, 1}, {3, 3}, {5, 9}, {11, 11}, {13, 13}, {15, 15}};
  coverage.withoutPrimary = {{7, 7}};
  EXPECT_EQ(coverage.describe(), "slots 1, 3, 5-9, 11 and 2 more ranges unassigned; slot 7 without an online primary");
}

TEST(ClusterShardsParse, AnnouncedHostnameNamesTheNode) {
  RespValue withHost = flat({{"id", bulk("h0")},
                             {"port", integer(6379)},
                             {"ip", bulk("10.0.0.5")},
                             {"endpoint", bulk("redis-0.redis")},
                             {"hostname", bulk("redis-0.redis")},
                             {"role", bulk("master")},
                             {"replication-offset", integer(0)},
                             {"health", bulk("online")}});
  ClusterShards cluster = parsed(array({shard(slots({0, 16383}), {withHost})}));
  const ClusterNode& primary = *cluster.shards[0].primary;
  EXPECT_EQ(primary.name, "redis-0.redis:6379");
  EXPECT_EQ(primary.ip, "10.0.0.5");
  EXPECT_EQ(primary.address(false), (NodeAddress{"redis-0.redis", 6379}));
  EXPECT_EQ(primary.address(true), std::nullopt);
}

TEST(ClusterShardsParse, TlsOnlyNodeIsNamedByItsTlsPort) {
  RespValue tlsOnly = flat({{"id", bulk("t0")},
                            {"tls-port", integer(7100)},
                            {"ip", bulk("10.0.0.6")},
                            {"endpoint", bulk("10.0.0.6")},
                            {"role", bulk("master")},
                            {"replication-offset", integer(7)},
                            {"health", bulk("online")}});
  ClusterShards cluster = parsed(array({shard(slots({0, 16383}), {tlsOnly})}));
  const ClusterNode& primary = *cluster.shards[0].primary;
  EXPECT_EQ(primary.port, 0);
  EXPECT_EQ(primary.tlsPort, 7100);
  EXPECT_EQ(primary.name, "10.0.0.6:7100");
  EXPECT_EQ(primary.address(false), std::nullopt);
  EXPECT_EQ(primary.address(true), (NodeAddress{"10.0.0.6", 7100}));
}

TEST(ClusterShardsParse, UnknownFieldsAndHealthAreTolerated) {
  RespValue later = flat({{"id", bulk("n0")},
                          {"port", integer(7000)},
                          {"ip", bulk("127.0.0.1")},
                          {"availability-zone", bulk("az-1")},
                          {"role", bulk("master")},
                          {"health", bulk("resting")}});
  RespValue laterShard = flat({{"shard-id", bulk("s0")}, {"slots", slots({0, 16383})}, {"nodes", array({later})}});
  ClusterShards cluster = parsed(array({laterShard}));
  EXPECT_EQ(cluster.shards[0].primary->health, ClusterNodeHealth::Unknown);
  EXPECT_EQ(cluster.shards[0].primary->endpoint, "");
  EXPECT_FALSE(cluster.coverage().ready());  // an unknown health gets no traffic
}

TEST(ClusterShardsParse, ErrorReplyAndWrongOuterShapesAreRefused) {
  EXPECT_EQ(errorOf(RespValue::makeError("ERR This instance has cluster support disabled")),
            "CLUSTER SHARDS failed: ERR This instance has cluster support disabled");
  EXPECT_EQ(errorOf(bulk("shards")), "CLUSTER SHARDS: the reply is not an array of shards");
  EXPECT_EQ(errorOf(RespValue{}), "CLUSTER SHARDS: the reply is not an array of shards");  // nil
  EXPECT_EQ(errorOf(array({bulk("slots")})), "CLUSTER SHARDS: shard 0 is not a key/value array");
  EXPECT_EQ(errorOf(array({array({bulk("slots")})})), "CLUSTER SHARDS: shard 0 has a key without a value");
  EXPECT_EQ(errorOf(array({array({integer(1), slots({})})})), "CLUSTER SHARDS: shard 0 has a key that is not a string");
  EXPECT_EQ(errorOf(array({flat({{"nodes", array({node("a0", 7000, "master")})}})})),
            "CLUSTER SHARDS: shard 0 has no \"slots\"");
  EXPECT_EQ(errorOf(array({flat({{"slots", slots({0, 1})}})})), "CLUSTER SHARDS: shard 0 has no \"nodes\"");
  EXPECT_EQ(errorOf(array({flat({{"slots", slots({0, 1})}, {"nodes", bulk("x")}})})),
            "CLUSTER SHARDS: shard 0 \"nodes\" is not an array");
  EXPECT_EQ(errorOf(array({shard(slots({0, 1}), {})})), "CLUSTER SHARDS: shard 0 lists no nodes");
}

TEST(ClusterShardsParse, BadSlotListsAreRefused) {
  auto withSlots = [](RespValue slotList) {
    return array({shard(slots({0, 99}), {node("a0", 7000, "master")}),
                  shard(std::move(slotList), {node("b0", 7001, "master")})});
  };
  EXPECT_EQ(errorOf(withSlots(bulk("0-16383"))), "CLUSTER SHARDS: shard 1 \"slots\" is not an array");
  EXPECT_EQ(errorOf(withSlots(slots({100, 200, 300}))), "CLUSTER SHARDS: shard 1 \"slots\" has a range without an end");
  EXPECT_EQ(errorOf(withSlots(array({bulk("100"), bulk("200")}))),
            "CLUSTER SHARDS: shard 1 \"slots\" holds something other than integers");
  EXPECT_EQ(errorOf(withSlots(slots({100, 16384}))),
            "CLUSTER SHARDS: shard 1 has slot range 100-16384, not within 0-16383 in order");
  EXPECT_EQ(errorOf(withSlots(slots({-1, 5}))),
            "CLUSTER SHARDS: shard 1 has slot range -1-5, not within 0-16383 in order");
  EXPECT_EQ(errorOf(withSlots(slots({300, 200}))),
            "CLUSTER SHARDS: shard 1 has slot range 300-200, not within 0-16383 in order");
  EXPECT_EQ(errorOf(withSlots(slots({50, 200}))), "CLUSTER SHARDS: slot 50 is claimed by shard 0 and shard 1");
  EXPECT_EQ(errorOf(withSlots(slots({100, 200, 150, 160}))), "CLUSTER SHARDS: slot 150 is listed twice by shard 1");
}

TEST(ClusterShardsParse, BadNodesAreRefused) {
  auto withNode = [](RespValue bad) {
    return array({shard(slots({0, 16383}), {node("a0", 7000, "master"), std::move(bad)})});
  };
  auto without = [](std::string_view dropped) {
    RespValue n = node("a1", 7001, "replica");
    RespValue out;
    out.type = RespType::Array;
    for (std::size_t i = 0; i < n.elements.size(); i += 2) {
      if (n.elements[i].str == dropped) continue;
      out.elements.push_back(n.elements[i]);
      out.elements.push_back(n.elements[i + 1]);
    }
    return out;
  };
  EXPECT_EQ(errorOf(withNode(bulk("a1"))), "CLUSTER SHARDS: shard 0, node 1 is not a key/value array");
  EXPECT_EQ(errorOf(withNode(without("id"))), "CLUSTER SHARDS: shard 0, node 1 has no \"id\"");
  EXPECT_EQ(errorOf(withNode(without("ip"))), "CLUSTER SHARDS: shard 0, node 1 (a1) has no \"ip\"");
  EXPECT_EQ(errorOf(withNode(without("role"))), "CLUSTER SHARDS: shard 0, node 1 (a1) has no \"role\"");
  EXPECT_EQ(errorOf(withNode(without("health"))), "CLUSTER SHARDS: shard 0, node 1 (a1) has no \"health\"");
  EXPECT_EQ(errorOf(withNode(without("port"))),
            "CLUSTER SHARDS: shard 0, node 1 (a1) has neither \"port\" nor \"tls-port\"");
  EXPECT_EQ(errorOf(withNode(node("a1", 0, "replica"))),
            "CLUSTER SHARDS: shard 0, node 1 \"port\" is not a port number");
  EXPECT_EQ(errorOf(withNode(node("a1", 70000, "replica"))),
            "CLUSTER SHARDS: shard 0, node 1 \"port\" is not a port number");
  EXPECT_EQ(errorOf(withNode(flat({{"id", bulk("a1")}, {"port", bulk("7001")}}))),
            "CLUSTER SHARDS: shard 0, node 1 \"port\" is not a port number");
  EXPECT_EQ(errorOf(withNode(flat({{"id", integer(1)}}))), "CLUSTER SHARDS: shard 0, node 1 \"id\" is not a string");
  EXPECT_EQ(errorOf(withNode(node("a1", 7001, "sentinel"))),
            "CLUSTER SHARDS: shard 0, node 1 \"role\" is \"sentinel\", neither master nor replica");
  EXPECT_EQ(errorOf(withNode(node("a1", 7001, "replica", "online", -1))),
            "CLUSTER SHARDS: shard 0, node 1 \"replication-offset\" is not an offset");
  EXPECT_EQ(errorOf(withNode(node("a1", 7001, "master"))),
            "CLUSTER SHARDS: shard 0 has two primaries, 127.0.0.1:7000 and 127.0.0.1:7001");
  RespValue noAddress = flat({{"id", bulk("a1")},
                              {"port", integer(7001)},
                              {"ip", bulk("")},
                              {"role", bulk("replica")},
                              {"health", bulk("online")}});
  EXPECT_EQ(errorOf(withNode(noAddress)), "CLUSTER SHARDS: shard 0, node 1 (a1) has neither an ip nor a hostname");
}

TEST(ClusterSlotMap, EachSlotIsAssignedOnce) {
  SlotMap map;
  EXPECT_EQ(map.shardOf(7), std::nullopt);
  EXPECT_TRUE(map.assign(7, 3));
  EXPECT_EQ(map.shardOf(7), 3u);
  EXPECT_FALSE(map.assign(7, 4));
  EXPECT_EQ(map.shardOf(7), 3u);
  EXPECT_FALSE(map.assign(16384, 0));
  EXPECT_FALSE(map.assign(8, 0xffff));
  EXPECT_EQ(map.shardOf(8), std::nullopt);
}

}  // namespace
}  // namespace cx::backends
