// Redis Cluster's key space: which of the 16384 hash slots a key belongs to (CRC16 with
// {hash tags}, exactly as Redis computes it), and the cluster's redirection and state
// errors (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, CROSSSLOT) read into values.
// Pure: no I/O, never throws on bad input.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "backends/sentinel.h"  // NodeAddress, parseNodeAddress

namespace cx::backends {

inline constexpr std::uint16_t kClusterSlotCount = 16384;

// CRC16-CCITT in its XMODEM form (polynomial 0x1021, initial value 0, no reflection, no
// final xor), the checksum the Redis Cluster specification names: crc16("123456789")
// is 0x31c3.
std::uint16_t crc16(std::string_view bytes);

// The part of `key` that is hashed: the bytes between the first '{' and the first '}'
// after it, when there are any; otherwise the whole key. "{user1000}.following" hashes
// "user1000"; "foo{}{bar}" has an empty first tag and hashes whole; "foo{{bar}}zap"
// hashes "{bar". A view into `key`.
std::string_view hashTag(std::string_view key);

// crc16(hashTag(key)) mod 16384, as Redis's keyHashSlot().
std::uint16_t keySlot(std::string_view key);

// The slot every key is in; nullopt when there are no keys or they are in more than one
// slot (Redis answers CROSSSLOT then).
std::optional<std::uint16_t> commonSlot(std::span<const std::string_view> keys);
std::optional<std::uint16_t> commonSlot(std::span<const std::string> keys);
// True when no two keys are in different slots (so also for zero or one key).
bool sameSlot(std::span<const std::string_view> keys);
bool sameSlot(std::span<const std::string> keys);

// What a cluster error reply means for the caller. Matched on the error's first word,
// exactly as Redis spells it (error codes are upper case).
enum class ClusterErrorKind : std::uint8_t {
  NotCluster,   // anything else: an ordinary error reply, for the client
  Moved,        // the slot lives elsewhere for good: refresh the slot map, retry there
  Ask,          // the slot is migrating and this key has moved: ASKING + the command, there, once
  TryAgain,     // a multi-key command during a migration, keys split: retry shortly
  ClusterDown,  // the cluster (or this slot) is not served right now
  CrossSlot,    // the command's keys are in more than one slot
};
std::string_view toString(ClusterErrorKind kind);

// The kind of an error reply's text (RespValue::str of an Error, which comes without
// the leading '-'; a leading '-' is accepted too).
ClusterErrorKind classifyClusterError(std::string_view error);

// `MOVED <slot> <endpoint>:<port>` or `ASK <slot> <endpoint>:<port>`.
struct ClusterRedirect {
  enum class Kind : std::uint8_t { Moved, Ask };
  Kind kind = Kind::Moved;
  std::uint16_t slot = 0;
  // The node to go to. An empty host means the cluster announces no endpoint for it
  // (Redis sends ":<port>" with cluster-preferred-endpoint-type unknown-endpoint, and
  // "?:<port>" for type hostname when the node has none): the specification says to use
  // the host of the connection that got the redirect, with this port (see target()).
  NodeAddress node;

  // Where to send the command: `node`, or `currentHost` with node's port when the
  // endpoint is unknown.
  NodeAddress target(std::string_view currentHost) const;
  friend bool operator==(const ClusterRedirect&, const ClusterRedirect&) = default;
};

// Reads a MOVED or ASK error reply (with or without the leading '-'). nullopt for any
// other error and for a malformed one: a missing or out-of-range slot, a port that is not
// 1-65535, extra words.
std::optional<ClusterRedirect> parseClusterRedirect(std::string_view error);

}  // namespace cx::backends
