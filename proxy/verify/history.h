// The history cxproxy-verify records (README "Verifying the guarantees on your deployment"):
// every operation with its invoke/complete times on the verifier's own monotonic clock and
// what the response said about how it was served. Pure values.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/level.h"

namespace cx::verify {

using routing::Level;
// Time since the verifier started, from one steady clock: every time in a history comes
// from the same process, so times of different sessions are comparable.
using Micros = std::chrono::microseconds;

// A value written by the verifier: writer (session index) and that writer's sequence
// number. Each key has one writer, which writes it with increasing sequence numbers, so
// the versions of a key are totally ordered by `seq`; seq 0 is "absent" (never written).
struct Version {
  int writer = 0;
  std::uint64_t seq = 0;
  friend bool operator==(const Version&, const Version&) = default;
};

// "<writer>:<seq>", the value stored in Redis.
std::string encodeValue(Version version);
// nullopt when the bytes are not a value encodeValue produced.
std::optional<Version> decodeValue(std::string_view bytes);

// What one read returned for one key.
struct ReadValue {
  std::string key;
  bool present = false;            // false: the key was absent (404 / nil)
  std::optional<Version> version;  // when present and decodable
  std::string raw;                 // the bytes when present (for messages about garbage)

  // The sequence number read: 0 when absent. Only meaningful when decodable().
  std::uint64_t seq() const { return present && version ? version->seq : 0; }
  bool decodable() const { return !present || version.has_value(); }
};

enum class OpKind : std::uint8_t { Write, Read };

struct Operation {
  std::uint64_t id = 0;
  int session = 0;
  OpKind kind = OpKind::Read;
  Level requested = Level::Session;
  std::optional<std::chrono::milliseconds> maxStaleness;  // sent with bounded reads
  Micros invoke{0};
  Micros complete{0};
  // Writes: acknowledged (2xx). A write that failed or timed out has an unknown outcome:
  // it may or may not have been applied. Reads: answered 200/404; failed reads are kept in
  // the history for the summary but not checked.
  bool ok = false;
  int status = 0;     // HTTP status, 0 when there was no response
  std::string error;  // transport error or error body, for failed operations

  // Writes: one key and the version written.
  std::string writeKey;
  Version written;
  // Reads: one key (GET) or several (MGET through /v1/cmd, served by one node).
  std::vector<ReadValue> values;

  // Response headers (empty when absent).
  std::string servedLevel;     // X-Consistency
  std::string downgraded;      // X-Consistency-Downgraded
  std::string servedRole;      // X-Served-Role
  std::string stalenessBound;  // X-Staleness-Bound-Ms
  bool tokenReturned = false;  // X-Session-Token present
};

using History = std::vector<Operation>;

// One line describing an operation, for violation reports:
// "#12 s3 read[session] GET k=1:7 invoke=1.234567s complete=1.235001s served=session/replica bound=12ms".
std::string describe(const Operation& op);
std::string formatMicros(Micros t);

}  // namespace cx::verify
