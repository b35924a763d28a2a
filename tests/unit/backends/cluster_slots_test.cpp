// Unit tests for hash slots (CRC16 and {hash tag} rules, checked against the slots a real
// Redis 7 reports with CLUSTER KEYSLOT) and for reading MOVED/ASK and the other cluster
// error replies.
#include "backends/cluster_slots.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace cx::backends {
namespace {

using namespace std::string_view_literals;

TEST(ClusterSlots, Crc16IsTheXmodemVariantOfTheSpecification) {
  EXPECT_EQ(crc16("123456789"), 0x31c3);  // the check value in the Redis Cluster spec
  EXPECT_EQ(crc16(""), 0);
}

TEST(ClusterSlots, KeySlotMatchesRedis) {
  // Each value is what redis-server 7.0's CLUSTER KEYSLOT answers.
  EXPECT_EQ(keySlot("123456789"), 12739);
  EXPECT_EQ(keySlot("foo"), 12182);
  EXPECT_EQ(keySlot("bar"), 5061);
  EXPECT_EQ(keySlot("hello"), 866);
  EXPECT_EQ(keySlot("somekey"), 11058);
  EXPECT_EQ(keySlot("a"), 15495);
  EXPECT_EQ(keySlot("b"), 3300);
  EXPECT_EQ(keySlot(""), 0);
  EXPECT_EQ(keySlot("\xff\0x"sv), 12540);  // bytes, not characters: 0xff and NUL hash as they are
}

TEST(ClusterSlots, HashTagIsBetweenTheFirstOpenBraceAndTheFirstCloseAfterIt) {
  EXPECT_EQ(keySlot("{user1000}.following"), keySlot("{user1000}.followers"));
  EXPECT_EQ(keySlot("{user1000}.following"), keySlot("user1000"));
  EXPECT_EQ(keySlot("{user1000}.following"), 3443);
  EXPECT_EQ(keySlot("foo{hash_tag}"), 2515);
  // The first tag is empty: the whole key is hashed.
  EXPECT_EQ(hashTag("foo{}{bar}"), "foo{}{bar}");
  EXPECT_EQ(keySlot("foo{}{bar}"), 8363);
  // The tag runs from the first '{' to the first '}' after it.
  EXPECT_EQ(hashTag("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(keySlot("foo{{bar}}zap"), 4015);
  EXPECT_EQ(hashTag("foo{bar}{zap}"), "bar");
  EXPECT_EQ(keySlot("foo{bar}{zap}"), 5061);
  // A '}' before the first '{' does not count.
  EXPECT_EQ(hashTag("}{a}"), "a");
  EXPECT_EQ(keySlot("}{a}"), 15495);
  // No closing brace, or no brace at all: the whole key.
  EXPECT_EQ(hashTag("a{b"), "a{b");
  EXPECT_EQ(keySlot("a{b"), 13340);
  EXPECT_EQ(keySlot("{"), 4092);
  EXPECT_EQ(keySlot("{}"), 15257);
  EXPECT_EQ(hashTag("plain"), "plain");
}

TEST(ClusterSlots, CommonSlotOfKeysSharingATag) {
  const std::vector<std::string> tagged = {"{user1000}.following", "{user1000}.followers", "user1000"};
  EXPECT_EQ(commonSlot(tagged), 3443);
  EXPECT_TRUE(sameSlot(tagged));
  const std::vector<std::string_view> split = {"a", "b"};
  EXPECT_EQ(commonSlot(split), std::nullopt);
  EXPECT_FALSE(sameSlot(split));
  const std::vector<std::string_view> lastDiffers = {"{x}1", "{x}2", "{y}3"};
  EXPECT_FALSE(sameSlot(lastDiffers));
  // No keys: no slot, and nothing to disagree.
  EXPECT_EQ(commonSlot(std::vector<std::string_view>{}), std::nullopt);
  EXPECT_TRUE(sameSlot(std::vector<std::string_view>{}));
  EXPECT_EQ(commonSlot(std::vector<std::string_view>{"foo"}), 12182);
}

TEST(ClusterRedirect, MovedAndAskWithTheirNode) {
  auto moved = parseClusterRedirect("MOVED 3999 127.0.0.1:6381");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->kind, ClusterRedirect::Kind::Moved);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->node, (NodeAddress{"127.0.0.1", 6381}));
  EXPECT_EQ(moved->target("10.0.0.9"), (NodeAddress{"127.0.0.1", 6381}));

  auto ask = parseClusterRedirect("-ASK 0 redis-2.redis.svc:7000");  // with RESP's leading '-'
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->kind, ClusterRedirect::Kind::Ask);
  EXPECT_EQ(ask->slot, 0);
  EXPECT_EQ(ask->node, (NodeAddress{"redis-2.redis.svc", 7000}));

  auto last = parseClusterRedirect("MOVED 16383 10.1.2.3:65535");
  ASSERT_TRUE(last);
  EXPECT_EQ(last->slot, 16383);
  EXPECT_EQ(last->node.port, 65535);
}

TEST(ClusterRedirect, Ipv6AndUnknownEndpoints) {
  auto v6 = parseClusterRedirect("MOVED 12 ::1:7001");  // Redis does not bracket IPv6 here
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->node, (NodeAddress{"::1", 7001}));
  auto bracketed = parseClusterRedirect("MOVED 12 [fe80::1]:7001");
  ASSERT_TRUE(bracketed);
  EXPECT_EQ(bracketed->node, (NodeAddress{"fe80::1", 7001}));

  // An empty endpoint (cluster-preferred-endpoint-type unknown-endpoint) means: the host
  // this redirect came from, with the port given. "?" is Redis's hostname-type placeholder.
  for (std::string_view error : {"MOVED 3999 :6380", "ASK 3999 ?:6380"}) {
    auto unknown = parseClusterRedirect(error);
    ASSERT_TRUE(unknown) << error;
    EXPECT_EQ(unknown->node, (NodeAddress{"", 6380})) << error;
    EXPECT_EQ(unknown->target("10.0.0.9"), (NodeAddress{"10.0.0.9", 6380})) << error;
  }
}

TEST(ClusterRedirect, MalformedRedirectsAreNotRead) {
  for (std::string_view error : {"",
                                 "-",
                                 "MOVED",
                                 "MOVED ",
                                 "MOVED 3999",
                                 "MOVED 3999 ",
                                 "ASK 3999",
                                 "MOVED x 127.0.0.1:6381",
                                 "MOVED 16384 127.0.0.1:6381",
                                 "MOVED -1 127.0.0.1:6381",
                                 "MOVED +1 127.0.0.1:6381",
                                 "MOVED 99999999999999999999 h:1",
                                 "MOVED 3999 127.0.0.1",
                                 "MOVED 3999 127.0.0.1:",
                                 "MOVED 3999 127.0.0.1:0",
                                 "MOVED 3999 127.0.0.1:65536",
                                 "MOVED 3999 127.0.0.1:63x",
                                 "MOVED 3999 :",
                                 "MOVED 3999 :0",
                                 "MOVED 3999 127.0.0.1:6381 extra",
                                 "MOVED 3999 127.0.0.1:6381 10.0.0.1:6381",
                                 "MOVED  3999 127.0.0.1:6381",
                                 "moved 3999 127.0.0.1:6381",
                                 "MOVEDX 3999 127.0.0.1:6381",
                                 "TRYAGAIN Multiple keys request during rehashing of slot",
                                 "ERR MOVED 3999 127.0.0.1:6381"}) {
    EXPECT_EQ(parseClusterRedirect(error), std::nullopt) << '"' << error << '"';
  }
}

TEST(ClusterErrors, ClassifiedByTheirFirstWord) {
  EXPECT_EQ(classifyClusterError("MOVED 3999 127.0.0.1:6381"), ClusterErrorKind::Moved);
  EXPECT_EQ(classifyClusterError("-ASK 3999 127.0.0.1:6381"), ClusterErrorKind::Ask);
  EXPECT_EQ(classifyClusterError("TRYAGAIN Multiple keys request during rehashing of slot"),
            ClusterErrorKind::TryAgain);
  EXPECT_EQ(classifyClusterError("CLUSTERDOWN The cluster is down"), ClusterErrorKind::ClusterDown);
  EXPECT_EQ(classifyClusterError("CLUSTERDOWN Hash slot not served"), ClusterErrorKind::ClusterDown);
  EXPECT_EQ(classifyClusterError("CROSSSLOT Keys in request don't hash to the same slot"), ClusterErrorKind::CrossSlot);
  EXPECT_EQ(classifyClusterError("TRYAGAIN"), ClusterErrorKind::TryAgain);
  for (std::string_view other : {"", "ERR unknown command", "MOVEDX 1 h:1", "moved 1 h:1", "WRONGTYPE Operation",
                                 "READONLY You can't write against a read only replica.", "ERR CLUSTERDOWN"}) {
    EXPECT_EQ(classifyClusterError(other), ClusterErrorKind::NotCluster) << '"' << other << '"';
  }
  EXPECT_EQ(toString(ClusterErrorKind::Moved), "moved");
  EXPECT_EQ(toString(ClusterErrorKind::Ask), "ask");
}

}  // namespace
}  // namespace cx::backends
