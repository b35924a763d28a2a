// The shape of a Redis Cluster as one node describes it: the reply of `CLUSTER SHARDS`
// (Redis 7) read into shards (a primary, its replicas, the slot ranges they serve) and a
// slot map from each of the 16384 slots to its shard. What the answering node believes,
// by gossip: the tracker confirms roles and offsets on the nodes themselves (ROLE) before
// anything is routed by it. Pure: no I/O, never throws on bad input.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "backends/cluster_slots.h"
#include "backends/resp.h"
#include "backends/sentinel.h"  // NodeAddress
#include "backends/topology.h"  // NodeRole

namespace cx::backends {

// A node's "health" in CLUSTER SHARDS. Only Online nodes should get traffic; Loading
// ones may later. Redis 7.0 reports a replica as "loading" whenever its replication
// offset (as gossiped) is 0, which includes every replica of a fresh cluster before the
// first write or replication PING moves the offsets: Loading says "not yet", not "down".
enum class ClusterNodeHealth : std::uint8_t { Online, Failed, Loading, Unknown };
std::string_view toString(ClusterNodeHealth health);

struct ClusterNode {
  std::string id;  // the 40-character node id
  std::string ip;
  std::string hostname;               // empty when the node announces none
  std::string endpoint;               // the cluster's preferred endpoint for it (may be "" or "?")
  std::uint16_t port = 0;             // plain TCP; 0 when the node has none (TLS only)
  std::uint16_t tlsPort = 0;          // 0 when the node has none
  NodeRole role = NodeRole::Unknown;  // Primary ("master") or Replica
  std::uint64_t replicationOffset = 0;
  ClusterNodeHealth health = ClusterNodeHealth::Unknown;
  // "hostname:port" when a hostname is announced, else "ip:port"; the TLS port when the
  // node has no plain one. The backend name in metrics and /v1/status.
  std::string name;

  // Where to connect: the hostname (else the ip) and the plain or TLS port; nullopt when
  // the node has no port of that kind.
  std::optional<NodeAddress> address(bool tls) const;
};

// Slots first..last, both included.
struct SlotRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  friend bool operator==(const SlotRange&, const SlotRange&) = default;
};

struct ClusterShard {
  std::optional<ClusterNode> primary;  // nullopt: the reply lists no primary for it
  std::vector<ClusterNode> replicas;   // in reply order
  std::vector<SlotRange> slots;        // in reply order; empty for a shard that serves none
  // Its primary is listed and its health is online: its slots are served.
  bool primaryOnline() const { return primary && primary->health == ClusterNodeHealth::Online; }
};

// Which shard serves each slot (an index into ClusterShards::shards).
class SlotMap {
 public:
  SlotMap() { shardOf_.fill(kUnassigned); }
  std::optional<std::size_t> shardOf(std::uint16_t slot) const;
  // Assigns a slot; false (and no change) when it is out of range or already assigned.
  bool assign(std::uint16_t slot, std::size_t shard);

 private:
  static constexpr std::uint16_t kUnassigned = 0xffff;
  std::array<std::uint16_t, kClusterSlotCount> shardOf_;
};

// The readiness check: every slot must be served by a shard whose primary is online.
struct SlotCoverage {
  std::vector<SlotRange> unassigned;      // no shard claims them
  std::vector<SlotRange> withoutPrimary;  // their shard has no online primary
  bool ready() const { return unassigned.empty() && withoutPrimary.empty(); }
  // "all 16384 slots served", or what is missing: "slots 0-5460 unassigned; slots
  // 5461-10922 without an online primary" (the first few ranges of each).
  std::string describe() const;
};

struct ClusterShards {
  std::vector<ClusterShard> shards;  // in reply order
  SlotMap slots;

  // The shard serving `slot`, or nullopt when none claims it.
  std::optional<std::size_t> shardOf(std::uint16_t slot) const { return slots.shardOf(slot); }
  std::optional<std::size_t> shardOfKey(std::string_view key) const { return shardOf(keySlot(key)); }
  SlotCoverage coverage() const;
};

struct ClusterShardsError {
  std::string message;  // names the shard and node the problem is in, and the problem
};

// Reads a CLUSTER SHARDS reply in RESP2 form: an array of shards, each a flat key/value
// array with "slots" (a flat array of start/end integer pairs) and "nodes" (an array of
// flat key/value arrays: id, port, tls-port, ip, endpoint, hostname, role,
// replication-offset, health). Keys it does not know are ignored. An error reply, a shape
// that is not this one, a node without id, ip, role, health or any port, a shard with no
// nodes or two primaries, a slot range out of order or out of 0-16383, or a slot claimed
// twice gives a ClusterShardsError.
std::variant<ClusterShards, ClusterShardsError> parseClusterShards(const RespValue& reply);

}  // namespace cx::backends
