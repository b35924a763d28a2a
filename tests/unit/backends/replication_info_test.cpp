// Unit tests for backends/replication_info: parsePollReplies (the tracker's reading of
// `ROLE` and `INFO replication persistence`), roleOffset and replicaOffsetFromInfo. The
// reply texts were captured from redis-server 7.0.15 (a primary, a replica while
// connected, handshaking, syncing, loading, with its primary shut down, and after
// REPLICAOF NO ONE), trimmed of lines the tracker ignores.
#include "backends/replication_info.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "backends/resp.h"
#include "tests/unit/support/resp_values.h"

namespace cx::backends {
namespace {

using testing::array;
using testing::bulk;
using testing::integer;

// INFO separates lines with CRLF; the literals below use '\n' for readability.
RespValue info(std::string_view text) {
  std::string crlf;
  for (char c : text) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  return bulk(crlf);
}

constexpr std::string_view kReplidA = "98746368f34485b39506dc6d5fb06935188b86ed";
constexpr std::string_view kReplidB = "425e65b2c5b86a93fd6257fc168f2372d3b54633";
constexpr std::string_view kNoReplid = "0000000000000000000000000000000000000000";

// ROLE on a primary: ["master", offset, [[ip, port, offset], ...]].
RespValue primaryRole(long long offset) {
  return array({bulk("master"), integer(offset),
                array({array({bulk("127.0.0.1"), bulk("27402"), bulk(std::to_string(offset))})})});
}

// ROLE on a replica: ["slave", host, port, state, offset] (offset -1 while not connected).
RespValue replicaRole(std::string_view state, long long offset) {
  return array({bulk("slave"), bulk("127.0.0.1"), integer(27401), bulk(state), integer(offset)});
}

const RespValue kPrimaryInfo = info(R"(# Persistence
loading:0
async_loading:0
rdb_changes_since_last_save:1
rdb_bgsave_in_progress:0
rdb_last_bgsave_status:ok
aof_enabled:0

# Replication
role:master
connected_slaves:1
slave0:ip=127.0.0.1,port=27402,state=online,offset=50,lag=0
master_failover_state:no-failover
master_replid:98746368f34485b39506dc6d5fb06935188b86ed
master_replid2:0000000000000000000000000000000000000000
master_repl_offset:50
second_repl_offset:-1
repl_backlog_active:1
repl_backlog_size:1048576
repl_backlog_first_byte_offset:1
repl_backlog_histlen:50
)");

const RespValue kConnectedReplicaInfo = info(R"(# Persistence
loading:0
async_loading:0
rdb_bgsave_in_progress:0
aof_enabled:0

# Replication
role:slave
master_host:127.0.0.1
master_port:27401
master_link_status:up
master_last_io_seconds_ago:2
master_sync_in_progress:0
slave_read_repl_offset:50
slave_repl_offset:50
slave_priority:100
slave_read_only:1
replica_announced:1
connected_slaves:0
master_failover_state:no-failover
master_replid:98746368f34485b39506dc6d5fb06935188b86ed
master_replid2:0000000000000000000000000000000000000000
master_repl_offset:50
second_repl_offset:-1
repl_backlog_active:1
repl_backlog_size:1048576
repl_backlog_first_byte_offset:51
repl_backlog_histlen:0
)");

// The primary was shut down after the replica applied 137 bytes.
const RespValue kLinkDownReplicaInfo = info(R"(# Persistence
loading:0
async_loading:0

# Replication
role:slave
master_host:127.0.0.1
master_port:27401
master_link_status:down
master_last_io_seconds_ago:-1
master_sync_in_progress:0
slave_read_repl_offset:137
slave_repl_offset:137
master_link_down_since_seconds:2
slave_priority:100
slave_read_only:1
replica_announced:1
connected_slaves:0
master_failover_state:no-failover
master_replid:98746368f34485b39506dc6d5fb06935188b86ed
master_replid2:0000000000000000000000000000000000000000
master_repl_offset:137
second_repl_offset:-1
repl_backlog_active:1
)");

// Full sync in progress, still receiving the RDB (the old dataset is being served).
const RespValue kSyncingReplicaInfo = info(R"(# Persistence
loading:0
async_loading:0

# Replication
role:slave
master_host:127.0.0.1
master_port:27401
master_link_status:down
master_last_io_seconds_ago:-1
master_sync_in_progress:1
slave_read_repl_offset:1
slave_repl_offset:1
master_sync_total_bytes:0
master_sync_read_bytes:19194677
master_sync_left_bytes:-19194677
master_sync_perc:0.00
master_sync_last_io_seconds_ago:0
master_link_down_since_seconds:-1
master_replid:1ba8de85f9624209846659953414409cab16cd24
master_replid2:0000000000000000000000000000000000000000
master_repl_offset:0
second_repl_offset:-1
)");

// Full sync, RDB received and being loaded.
const RespValue kLoadingReplicaInfo = info(R"(# Persistence
loading:1
async_loading:0
loading_start_time:1795290377
loading_total_bytes:111776533
loading_rdb_used_mem:562556608
loading_loaded_bytes:50331637
loading_loaded_perc:45.03
loading_eta_seconds:1

# Replication
role:slave
master_host:127.0.0.1
master_port:27401
master_link_status:down
master_last_io_seconds_ago:-1
master_sync_in_progress:1
master_link_down_since_seconds:-1
master_replid:1ba8de85f9624209846659953414409cab16cd24
master_replid2:0000000000000000000000000000000000000000
master_repl_offset:0
second_repl_offset:-1
)");

// The replica above after REPLICAOF NO ONE and one more write.
const RespValue kPromotedPrimaryInfo = info(R"(# Persistence
loading:0
async_loading:0

# Replication
role:master
connected_slaves:0
master_failover_state:no-failover
master_replid:425e65b2c5b86a93fd6257fc168f2372d3b54633
master_replid2:98746368f34485b39506dc6d5fb06935188b86ed
master_repl_offset:187
second_repl_offset:138
repl_backlog_active:1
repl_backlog_size:1048576
repl_backlog_first_byte_offset:51
repl_backlog_histlen:137
)");

TEST(ParsePollReplies, PrimaryReportsItsOffsetAndHistory) {
  BackendStatus s;
  ASSERT_TRUE(parsePollReplies(primaryRole(50), kPrimaryInfo, s));
  EXPECT_EQ(s.role, NodeRole::Primary);
  EXPECT_EQ(s.offset, 50u);
  EXPECT_EQ(s.replid, kReplidA);
  EXPECT_EQ(s.replid2, kNoReplid);
  EXPECT_EQ(s.secondReplOffset, 0u);  // -1: no previous history
  EXPECT_TRUE(s.linkUp);              // a primary has no link to lose
  EXPECT_FALSE(s.loading);
  EXPECT_FALSE(s.resyncing);
}

TEST(ParsePollReplies, PrimaryOffsetComesFromRoleNotFromInfo) {
  // ROLE is the offset source (ARCHITECTURE.md); INFO's master_repl_offset is only the
  // fallback for a disconnected replica. Make the two disagree to see which one is taken.
  BackendStatus s;
  ASSERT_TRUE(parsePollReplies(primaryRole(64), kPrimaryInfo, s));
  EXPECT_EQ(s.offset, 64u);
}

TEST(ParsePollReplies, PrimaryWithoutAnyReplicasParses) {
  BackendStatus s;
  RespValue role = array({bulk("master"), integer(187), array({})});
  ASSERT_TRUE(parsePollReplies(role, kPromotedPrimaryInfo, s));
  EXPECT_EQ(s.role, NodeRole::Primary);
  EXPECT_EQ(s.offset, 187u);
}

TEST(ParsePollReplies, ConnectedReplicaReportsAppliedOffsetAndLinkUp) {
  BackendStatus s;
  ASSERT_TRUE(parsePollReplies(replicaRole("connected", 50), kConnectedReplicaInfo, s));
  EXPECT_EQ(s.role, NodeRole::Replica);
  EXPECT_EQ(s.offset, 50u);
  EXPECT_EQ(s.replid, kReplidA);
  EXPECT_TRUE(s.linkUp);
  EXPECT_FALSE(s.loading);
  EXPECT_FALSE(s.resyncing);
}

TEST(ParsePollReplies, ReplicaOffsetComesFromRoleWhenConnected) {
  BackendStatus s;
  ASSERT_TRUE(parsePollReplies(replicaRole("connected", 77), kConnectedReplicaInfo, s));
  EXPECT_EQ(s.offset, 77u);
}

TEST(ParsePollReplies, ReplicaWithLinkDownKeepsAppliedOffsetFromInfo) {
  BackendStatus s;
  ASSERT_TRUE(parsePollReplies(replicaRole("connect", -1), kLinkDownReplicaInfo, s));
  EXPECT_EQ(s.role, NodeRole::Replica);
  EXPECT_EQ(s.offset, 137u);
  EXPECT_FALSE(s.linkUp);
  EXPECT_FALSE(s.loading);
  EXPECT_FALSE(s.resyncing);
  EXPECT_EQ(s.replid, kReplidA);
}

TEST(ParsePollReplies, ReplicaReceivingFullSyncIsResyncing) {
  BackendStatus s;
  ASSERT_TRUE(parsePollReplies(replicaRole("sync", -1), kSyncingReplicaInfo, s));
  EXPECT_EQ(s.role, NodeRole::Replica);
  EXPECT_TRUE(s.resyncing);
  EXPECT_FALSE(s.loading);
  EXPECT_FALSE(s.linkUp);
  EXPECT_EQ(s.offset, 0u);
}

TEST(ParsePollReplies, ReplicaLoadingTheDatasetIsLoading) {
  BackendStatus s;
  ASSERT_TRUE(parsePollReplies(replicaRole("sync", -1), kLoadingReplicaInfo, s));
  EXPECT_EQ(s.role, NodeRole::Replica);
  EXPECT_TRUE(s.loading);
  EXPECT_TRUE(s.resyncing);
  EXPECT_FALSE(s.linkUp);
}

TEST(ParsePollReplies, FlagsFromAnEarlierPollDoNotStick) {
  // The tracker parses every poll into the same BackendStatus.
  BackendStatus s;
  ASSERT_TRUE(parsePollReplies(replicaRole("sync", -1), kLoadingReplicaInfo, s));
  ASSERT_TRUE(s.loading);
  ASSERT_TRUE(parsePollReplies(replicaRole("connected", 50), kConnectedReplicaInfo, s));
  EXPECT_FALSE(s.loading);
  EXPECT_FALSE(s.resyncing);
  EXPECT_TRUE(s.linkUp);
  ASSERT_TRUE(parsePollReplies(replicaRole("connect", -1), kLinkDownReplicaInfo, s));
  EXPECT_FALSE(s.linkUp);
}

TEST(ParsePollReplies, PromotedPrimaryReportsPreviousHistoryAndWhereItEnds) {
  BackendStatus s;
  RespValue role = array({bulk("master"), integer(187), array({})});
  ASSERT_TRUE(parsePollReplies(role, kPromotedPrimaryInfo, s));
  EXPECT_EQ(s.replid, kReplidB);
  EXPECT_EQ(s.replid2, kReplidA);
  EXPECT_EQ(s.secondReplOffset, 138u);
}

TEST(ParsePollReplies, NoPreviousHistoryResetsSecondReplOffsetToZero) {
  BackendStatus s;
  RespValue role = array({bulk("master"), integer(187), array({})});
  ASSERT_TRUE(parsePollReplies(role, kPromotedPrimaryInfo, s));
  ASSERT_EQ(s.secondReplOffset, 138u);
  ASSERT_TRUE(parsePollReplies(primaryRole(50), kPrimaryInfo, s));
  EXPECT_EQ(s.secondReplOffset, 0u);
  EXPECT_EQ(s.replid2, kNoReplid);
}

TEST(ParsePollReplies, SentinelIsRejected) {
  BackendStatus s;
  s.role = NodeRole::Replica;
  RespValue role = array({bulk("sentinel"), array({bulk("mymaster")})});
  RespValue sentinelInfo = info("# Sentinel\nsentinel_masters:1\nsentinel_tilt:0\n");
  EXPECT_FALSE(parsePollReplies(role, sentinelInfo, s));
  EXPECT_EQ(s.role, NodeRole::Unknown);
}

TEST(ParsePollReplies, UnknownRoleIsRejected) {
  BackendStatus s;
  s.role = NodeRole::Primary;
  RespValue role = array({bulk("witness"), integer(50), array({})});
  EXPECT_FALSE(parsePollReplies(role, kPrimaryInfo, s));
  EXPECT_EQ(s.role, NodeRole::Unknown);
}

TEST(ParsePollReplies, MalformedRoleRepliesAreRejected) {
  BackendStatus s;
  EXPECT_FALSE(parsePollReplies(bulk("master"), kPrimaryInfo, s));
  EXPECT_FALSE(parsePollReplies(array({}), kPrimaryInfo, s));
  EXPECT_FALSE(parsePollReplies(array({integer(1)}), kPrimaryInfo, s));
  // master without an integer offset
  EXPECT_FALSE(parsePollReplies(array({bulk("master")}), kPrimaryInfo, s));
  EXPECT_FALSE(parsePollReplies(array({bulk("master"), bulk("50"), array({})}), kPrimaryInfo, s));
  // slave without the offset element, or with a string offset
  EXPECT_FALSE(parsePollReplies(array({bulk("slave"), bulk("127.0.0.1"), integer(27401), bulk("connected")}),
                                kConnectedReplicaInfo, s));
  EXPECT_FALSE(
      parsePollReplies(array({bulk("slave"), bulk("127.0.0.1"), integer(27401), bulk("connected"), bulk("50")}),
                       kConnectedReplicaInfo, s));
}

TEST(ParsePollReplies, InfoThatIsNotAStringIsRejected) {
  BackendStatus s;
  EXPECT_FALSE(parsePollReplies(primaryRole(50), RespValue::makeError("ERR unknown command"), s));
  EXPECT_FALSE(parsePollReplies(primaryRole(50), RespValue{}, s));
  EXPECT_FALSE(parsePollReplies(primaryRole(50), array({}), s));
}

TEST(RoleOffset, PrimaryOffsetOnlyWhenAPrimaryIsWanted) {
  EXPECT_EQ(roleOffset(primaryRole(50), /*wantPrimary=*/true), 50u);
  EXPECT_EQ(roleOffset(primaryRole(50), /*wantPrimary=*/false), std::nullopt);
  EXPECT_EQ(roleOffset(primaryRole(-3), true), 0u);
}

TEST(RoleOffset, ReplicaOffsetOnlyWhileItsLinkReportsOne) {
  EXPECT_EQ(roleOffset(replicaRole("connected", 77), /*wantPrimary=*/false), 77u);
  EXPECT_EQ(roleOffset(replicaRole("connected", 77), /*wantPrimary=*/true), std::nullopt);
  EXPECT_EQ(roleOffset(replicaRole("connect", -1), false), std::nullopt);
  EXPECT_EQ(roleOffset(bulk("master"), true), std::nullopt);
  EXPECT_EQ(roleOffset(array({bulk("sentinel"), array({})}), false), std::nullopt);
}

TEST(ReplicaOffsetFromInfo, AppliedOffsetOfAReplicaInTheSameHistory) {
  EXPECT_EQ(replicaOffsetFromInfo(kLinkDownReplicaInfo, kReplidA), 137u);
  EXPECT_EQ(replicaOffsetFromInfo(kLinkDownReplicaInfo, kReplidB), std::nullopt);  // another history
  EXPECT_EQ(replicaOffsetFromInfo(kLinkDownReplicaInfo, ""), std::nullopt);
  EXPECT_EQ(replicaOffsetFromInfo(kPrimaryInfo, kReplidA), std::nullopt);  // not a replica
  EXPECT_EQ(replicaOffsetFromInfo(RespValue::makeError("ERR"), kReplidA), std::nullopt);
}

TEST(InfoField, FirstValueOfAKeyOrNothing) {
  EXPECT_EQ(infoField(kLinkDownReplicaInfo.str, "master_link_status"), "down");
  EXPECT_EQ(infoField(kLinkDownReplicaInfo.str, "no_such_field"), std::nullopt);
  EXPECT_EQ(infoField("# Replication\r\nrole:slave\r\n", "role"), "slave");
}

}  // namespace
}  // namespace cx::backends
