// Reading CLUSTER SHARDS and checking slot coverage (see cluster_topology.h).
#include "backends/cluster_topology.h"

#include <limits>
#include <utility>

#include "backends/text.h"

namespace cx::backends {

namespace {

using Failure = ClusterShardsError;

// Calls fn(key, value) for each pair of a RESP2 map (a flat array of key, value, ...).
// A Failure when `map` is not an array of even length with string keys, or fn fails.
template <typename Fn>
std::optional<Failure> forEachField(const RespValue& map, const std::string& what, Fn&& fn) {
  if (map.type != RespType::Array) return Failure{what + " is not a key/value array"};
  if (map.elements.size() % 2 != 0) return Failure{what + " has a key without a value"};
  for (std::size_t i = 0; i < map.elements.size(); i += 2) {
    const RespValue& key = map.elements[i];
    if (!key.isString()) return Failure{what + " has a key that is not a string"};
    if (auto failure = fn(std::string_view(key.str), map.elements[i + 1])) return failure;
  }
  return std::nullopt;
}

std::optional<Failure> readPort(const RespValue& value, std::string_view what, std::uint16_t& out) {
  if (value.type != RespType::Integer || value.integer < 1 || value.integer > 65535) {
    return Failure{std::string(what) + " is not a port number"};
  }
  out = static_cast<std::uint16_t>(value.integer);
  return std::nullopt;
}

std::optional<Failure> readString(const RespValue& value, std::string_view what, std::string& out) {
  if (!value.isString()) return Failure{std::string(what) + " is not a string"};
  out = value.str;
  return std::nullopt;
}

std::variant<ClusterNode, Failure> parseNode(const RespValue& reply, const std::string& where) {
  ClusterNode node;
  bool haveIp = false;
  bool haveRole = false;
  bool haveHealth = false;
  auto failure =
      forEachField(reply, where, [&](std::string_view key, const RespValue& value) -> std::optional<Failure> {
        const std::string field = where + " \"" + std::string(key) + "\"";
        if (text::iequals(key, "id")) return readString(value, field, node.id);
        if (text::iequals(key, "port")) return readPort(value, field, node.port);
        if (text::iequals(key, "tls-port")) return readPort(value, field, node.tlsPort);
        if (text::iequals(key, "ip")) {
          haveIp = true;
          return readString(value, field, node.ip);
        }
        if (text::iequals(key, "endpoint")) return readString(value, field, node.endpoint);
        if (text::iequals(key, "hostname")) return readString(value, field, node.hostname);
        if (text::iequals(key, "replication-offset")) {
          if (value.type != RespType::Integer || value.integer < 0) return Failure{field + " is not an offset"};
          node.replicationOffset = static_cast<std::uint64_t>(value.integer);
          return std::nullopt;
        }
        if (text::iequals(key, "role")) {
          if (!value.isString()) return Failure{field + " is not a string"};
          haveRole = true;
          if (text::iequals(value.str, "master")) {
            node.role = NodeRole::Primary;
          } else if (text::iequals(value.str, "replica") || text::iequals(value.str, "slave")) {
            node.role = NodeRole::Replica;
          } else {
            return Failure{field + " is \"" + value.str + "\", neither master nor replica"};
          }
          return std::nullopt;
        }
        if (text::iequals(key, "health")) {
          if (!value.isString()) return Failure{field + " is not a string"};
          haveHealth = true;
          // Redis 7.0 sends "fail" where its documentation says "failed"; both are read. A
          // health this version does not know gets no traffic (Unknown), rather than
          // refusing the whole topology.
          const bool failed = text::iequals(value.str, "fail") || text::iequals(value.str, "failed");
          node.health = text::iequals(value.str, "online")    ? ClusterNodeHealth::Online
                        : failed                              ? ClusterNodeHealth::Failed
                        : text::iequals(value.str, "loading") ? ClusterNodeHealth::Loading
                                                              : ClusterNodeHealth::Unknown;
          return std::nullopt;
        }
        return std::nullopt;  // a field of a later Redis
      });
  if (failure) return *failure;
  if (node.id.empty()) return Failure{where + " has no \"id\""};
  if (!haveIp) return Failure{where + " (" + node.id + ") has no \"ip\""};
  if (!haveRole) return Failure{where + " (" + node.id + ") has no \"role\""};
  if (!haveHealth) return Failure{where + " (" + node.id + ") has no \"health\""};
  if (node.port == 0 && node.tlsPort == 0)
    return Failure{where + " (" + node.id + ") has neither \"port\" nor \"tls-port\""};
  const std::string& host = node.hostname.empty() ? node.ip : node.hostname;
  if (host.empty()) return Failure{where + " (" + node.id + ") has neither an ip nor a hostname"};
  node.name = NodeAddress{host, node.port != 0 ? node.port : node.tlsPort}.name();
  return node;
}

std::optional<Failure> parseSlots(const RespValue& value, const std::string& where, std::vector<SlotRange>& out) {
  if (value.type != RespType::Array) return Failure{where + " \"slots\" is not an array"};
  if (value.elements.size() % 2 != 0) return Failure{where + " \"slots\" has a range without an end"};
  for (std::size_t i = 0; i < value.elements.size(); i += 2) {
    const RespValue& first = value.elements[i];
    const RespValue& last = value.elements[i + 1];
    if (first.type != RespType::Integer || last.type != RespType::Integer) {
      return Failure{where + " \"slots\" holds something other than integers"};
    }
    const std::string range = std::to_string(first.integer) + "-" + std::to_string(last.integer);
    if (first.integer < 0 || last.integer >= kClusterSlotCount || first.integer > last.integer) {
      return Failure{where + " has slot range " + range + ", not within 0-16383 in order"};
    }
    out.push_back(SlotRange{static_cast<std::uint16_t>(first.integer), static_cast<std::uint16_t>(last.integer)});
  }
  return std::nullopt;
}

std::variant<ClusterShard, Failure> parseShard(const RespValue& reply, const std::string& where) {
  ClusterShard shard;
  const RespValue* nodes = nullptr;
  bool haveSlots = false;
  auto failure =
      forEachField(reply, where, [&](std::string_view key, const RespValue& value) -> std::optional<Failure> {
        if (text::iequals(key, "slots")) {
          haveSlots = true;
          return parseSlots(value, where, shard.slots);
        }
        if (text::iequals(key, "nodes")) nodes = &value;
        return std::nullopt;
      });
  if (failure) return *failure;
  if (!haveSlots) return Failure{where + " has no \"slots\""};
  if (nodes == nullptr) return Failure{where + " has no \"nodes\""};
  if (nodes->type != RespType::Array) return Failure{where + " \"nodes\" is not an array"};
  if (nodes->elements.empty()) return Failure{where + " lists no nodes"};
  for (std::size_t i = 0; i < nodes->elements.size(); ++i) {
    auto node = parseNode(nodes->elements[i], where + ", node " + std::to_string(i));
    if (auto* bad = std::get_if<Failure>(&node)) return std::move(*bad);
    auto& parsed = std::get<ClusterNode>(node);
    if (parsed.role != NodeRole::Primary) {
      shard.replicas.push_back(std::move(parsed));
    } else if (shard.primary) {
      return Failure{where + " has two primaries, " + shard.primary->name + " and " + parsed.name};
    } else {
      shard.primary = std::move(parsed);
    }
  }
  return shard;
}

void appendRanges(std::string& out, const std::vector<SlotRange>& ranges, std::string_view what) {
  constexpr std::size_t kShown = 4;
  out += ranges.size() == 1 && ranges[0].first == ranges[0].last ? "slot " : "slots ";
  for (std::size_t i = 0; i < ranges.size() && i < kShown; ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(ranges[i].first);
    if (ranges[i].last != ranges[i].first) out += "-" + std::to_string(ranges[i].last);
  }
  if (ranges.size() > kShown) out += " and " + std::to_string(ranges.size() - kShown) + " more ranges";
  out += " ";
  out += what;
}

// Adds `slot` to the last range when it extends it, else starts a new one.
void extend(std::vector<SlotRange>& ranges, std::uint16_t slot) {
  if (!ranges.empty() && ranges.back().last + 1 == slot) {
    ranges.back().last = slot;
  } else {
    ranges.push_back(SlotRange{slot, slot});
  }
}

}  // namespace

std::string_view toString(ClusterNodeHealth health) {
  switch (health) {
    case ClusterNodeHealth::Online: return "online";
    case ClusterNodeHealth::Failed: return "failed";
    case ClusterNodeHealth::Loading: return "loading";
    case ClusterNodeHealth::Unknown: return "unknown";
  }
  return "unknown";
}

std::optional<NodeAddress> ClusterNode::address(bool tls) const {
  const std::uint16_t p = tls ? tlsPort : port;
  if (p == 0) return std::nullopt;
  return NodeAddress{hostname.empty() ? ip : hostname, p};
}

std::optional<std::size_t> SlotMap::shardOf(std::uint16_t slot) const {
  if (slot >= kClusterSlotCount || shardOf_[slot] == kUnassigned) return std::nullopt;
  return shardOf_[slot];
}

bool SlotMap::assign(std::uint16_t slot, std::size_t shard) {
  if (slot >= kClusterSlotCount || shard >= kUnassigned || shardOf_[slot] != kUnassigned) return false;
  shardOf_[slot] = static_cast<std::uint16_t>(shard);
  return true;
}

std::string SlotCoverage::describe() const {
  if (ready()) return "all 16384 slots served";
  std::string out;
  if (!unassigned.empty()) appendRanges(out, unassigned, "unassigned");
  if (!withoutPrimary.empty()) {
    if (!out.empty()) out += "; ";
    appendRanges(out, withoutPrimary, "without an online primary");
  }
  return out;
}

SlotCoverage ClusterShards::coverage() const {
  SlotCoverage out;
  for (std::uint16_t slot = 0; slot < kClusterSlotCount; ++slot) {
    auto shard = slots.shardOf(slot);
    if (!shard) {
      extend(out.unassigned, slot);
    } else if (!shards[*shard].primaryOnline()) {
      extend(out.withoutPrimary, slot);
    }
  }
  return out;
}

std::variant<ClusterShards, ClusterShardsError> parseClusterShards(const RespValue& reply) {
  if (reply.isError()) return Failure{"CLUSTER SHARDS failed: " + reply.str};
  if (reply.type != RespType::Array) return Failure{"CLUSTER SHARDS: the reply is not an array of shards"};
  // Shard indices are kept in 16 bits (SlotMap); a real cluster has at most a few hundred.
  if (reply.elements.size() >= std::numeric_limits<std::uint16_t>::max()) {
    return Failure{"CLUSTER SHARDS: " + std::to_string(reply.elements.size()) + " shards, too many"};
  }
  ClusterShards out;
  for (std::size_t i = 0; i < reply.elements.size(); ++i) {
    auto shard = parseShard(reply.elements[i], "CLUSTER SHARDS: shard " + std::to_string(i));
    if (auto* bad = std::get_if<Failure>(&shard)) return std::move(*bad);
    out.shards.push_back(std::move(std::get<ClusterShard>(shard)));
    for (const SlotRange& range : out.shards.back().slots) {
      for (unsigned slot = range.first; slot <= range.last; ++slot) {
        if (out.slots.assign(static_cast<std::uint16_t>(slot), i)) continue;
        const std::size_t owner = out.slots.shardOf(static_cast<std::uint16_t>(slot)).value_or(i);
        return Failure{"CLUSTER SHARDS: slot " + std::to_string(slot) +
                       (owner == i
                            ? " is listed twice by shard " + std::to_string(i)
                            : " is claimed by shard " + std::to_string(owner) + " and shard " + std::to_string(i))};
      }
    }
  }
  return out;
}

}  // namespace cx::backends
