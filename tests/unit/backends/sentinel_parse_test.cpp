// Unit tests for reading Sentinel's replies and combining several Sentinels' views into
// one membership (highest config epoch wins; a stale or silent Sentinel cannot mislead).
#include "backends/sentinel.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace cx::backends {
namespace {

RespValue bulk(std::string s) {
  RespValue v;
  v.type = RespType::Bulk;
  v.str = std::move(s);
  return v;
}

RespValue array(std::initializer_list<RespValue> items) {
  RespValue v;
  v.type = RespType::Array;
  v.elements.assign(items.begin(), items.end());
  return v;
}

RespValue flat(std::initializer_list<std::pair<std::string, std::string>> kv) {
  RespValue v;
  v.type = RespType::Array;
  for (const auto& [k, val] : kv) {
    v.elements.push_back(bulk(k));
    v.elements.push_back(bulk(val));
  }
  return v;
}

RespValue masterReply(std::string ip, std::string port, std::string flags, std::string epoch) {
  return flat({{"name", "mymaster"},
               {"ip", ip},
               {"port", port},
               {"runid", "x"},
               {"flags", flags},
               {"config-epoch", epoch},
               {"num-slaves", "2"}});
}

RespValue replicaReply(std::string ip, std::string port, std::string flags) {
  return flat({{"name", ip + ":" + port}, {"ip", ip}, {"port", port}, {"flags", flags}, {"master-link-status", "ok"}});
}

TEST(ParseNodeAddress, HostPortAndBracketedIpv6) {
  EXPECT_EQ(parseNodeAddress("127.0.0.1:26379"), (NodeAddress{"127.0.0.1", 26379}));
  EXPECT_EQ(parseNodeAddress("sentinel-0.svc:26379"), (NodeAddress{"sentinel-0.svc", 26379}));
  EXPECT_EQ(parseNodeAddress("[::1]:6379"), (NodeAddress{"::1", 6379}));
  EXPECT_EQ(parseNodeAddress("127.0.0.1"), std::nullopt);
  EXPECT_EQ(parseNodeAddress(":6379"), std::nullopt);
  EXPECT_EQ(parseNodeAddress("h:0"), std::nullopt);
  EXPECT_EQ(parseNodeAddress("h:70000"), std::nullopt);
  EXPECT_EQ(parseNodeAddress("h:12x"), std::nullopt);
  EXPECT_EQ((NodeAddress{"10.0.0.5", 6379}).name(), "10.0.0.5:6379");
}

TEST(ParseSentinelReplies, ReadsPrimaryEpochAndReplicas) {
  std::string error;
  auto view = parseSentinelReplies(
      masterReply("10.0.0.1", "6379", "master", "7"), array({bulk("10.0.0.1"), bulk("6379")}),
      array({replicaReply("10.0.0.2", "6379", "slave"), replicaReply("10.0.0.3", "6379", "s_down,slave,disconnected")}),
      &error);
  ASSERT_TRUE(view) << error;
  EXPECT_EQ(view->configEpoch, 7u);
  EXPECT_EQ(view->primary, (NodeAddress{"10.0.0.1", 6379}));
  EXPECT_FALSE(view->primaryDown);
  ASSERT_EQ(view->replicas.size(), 2u);
  EXPECT_FALSE(view->replicas[0].down);
  EXPECT_TRUE(view->replicas[1].down);
}

TEST(ParseSentinelReplies, TheAddressComesFromGetMasterAddrByName) {
  // Mid-failover the leader's SENTINEL master still shows the old address, while
  // get-master-addr-by-name already names the promoted replica (and the epoch moved).
  std::string error;
  auto view = parseSentinelReplies(
      masterReply("10.0.0.1", "6379", "s_down,o_down,master,failover_in_progress", "8"),
      array({bulk("10.0.0.2"), bulk("6379")}),
      array({replicaReply("10.0.0.2", "6379", "slave"), replicaReply("10.0.0.3", "6379", "slave")}), &error);
  ASSERT_TRUE(view) << error;
  EXPECT_EQ(view->primary, (NodeAddress{"10.0.0.2", 6379}));
  EXPECT_TRUE(view->primaryDown);
  EXPECT_TRUE(view->failoverInProgress);
  ASSERT_EQ(view->replicas.size(), 1u) << "the promoted node is not also a replica";
  EXPECT_EQ(view->replicas[0].address, (NodeAddress{"10.0.0.3", 6379}));
}

TEST(ParseSentinelReplies, AnUnknownMasterOrAnErrorIsNoView) {
  std::string error;
  RespValue nil;
  EXPECT_FALSE(parseSentinelReplies(RespValue::makeError("ERR No such master with that name"), nil, array({}), &error));
  EXPECT_NE(error.find("No such master"), std::string::npos);
  EXPECT_FALSE(parseSentinelReplies(masterReply("h", "1", "master", "1"), nil, array({}), &error));
  EXPECT_FALSE(parseSentinelReplies(masterReply("h", "1", "master", "1"), array({bulk("h")}), array({}), &error));
  EXPECT_FALSE(
      parseSentinelReplies(masterReply("h", "1", "master", "1"), array({bulk("h"), bulk("port")}), array({}), &error));
}

SentinelState sentinel(std::string address, bool up, std::uint64_t epoch, NodeAddress primary,
                       std::vector<NodeAddress> replicas) {
  SentinelState s;
  s.address = std::move(address);
  s.up = up;
  SentinelView v;
  v.configEpoch = epoch;
  v.primary = std::move(primary);
  for (auto& r : replicas) v.replicas.push_back({std::move(r), false});
  s.view = std::move(v);
  return s;
}

const NodeAddress kN1{"10.0.0.1", 6379};
const NodeAddress kN2{"10.0.0.2", 6379};
const NodeAddress kN3{"10.0.0.3", 6379};

TEST(CombineViews, TheHighestConfigEpochWinsOverAStaleMajority) {
  Membership m;
  m.sentinels.push_back(sentinel("s1", true, 1, kN1, {kN2, kN3}));
  m.sentinels.push_back(sentinel("s2", true, 1, kN1, {kN2, kN3}));
  m.sentinels.push_back(sentinel("s3", true, 2, kN2, {kN1, kN3}));
  combineViews(m);
  EXPECT_EQ(m.configEpoch, 2u);
  EXPECT_EQ(m.primary, kN2);
  ASSERT_EQ(m.replicas.size(), 2u);
  EXPECT_EQ(m.replicas[0].address, kN1);
  EXPECT_EQ(m.replicas[1].address, kN3);
}

TEST(CombineViews, ADownSentinelsLastWordStandsUntilOverridden) {
  Membership m;
  m.sentinels.push_back(sentinel("s1", false, 3, kN3, {kN1, kN2}));
  m.sentinels.push_back(sentinel("s2", true, 2, kN2, {kN1, kN3}));
  combineViews(m);
  EXPECT_EQ(m.primary, kN3);
  EXPECT_EQ(m.configEpoch, 3u);
}

TEST(CombineViews, AtOneEpochTheMostNamedPrimaryWinsAndReplicasAreUnited) {
  Membership m;
  m.sentinels.push_back(sentinel("s1", true, 4, kN1, {kN2}));
  m.sentinels.push_back(sentinel("s2", true, 4, kN2, {kN1, kN3}));
  m.sentinels.push_back(sentinel("s3", true, 4, kN2, {kN3}));
  combineViews(m);
  EXPECT_EQ(m.primary, kN2);
  ASSERT_EQ(m.replicas.size(), 2u) << "kN2 is the primary, never also a replica";
  EXPECT_EQ(m.replicas[0].address, kN1);
  EXPECT_EQ(m.replicas[1].address, kN3);
}

TEST(CombineViews, NoViewAtAllKeepsTheLastMembership) {
  Membership m;
  m.primary = kN1;
  m.configEpoch = 5;
  SentinelState silent;
  silent.address = "s1";
  m.sentinels.push_back(silent);
  combineViews(m);
  EXPECT_EQ(m.primary, kN1);
  EXPECT_EQ(m.configEpoch, 5u);
  EXPECT_FALSE(m.anySentinelUp());
}

}  // namespace
}  // namespace cx::backends
