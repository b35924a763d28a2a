// The history checker of cxproxy-verify: given everything the sessions did, find where a
// read broke the guarantee of its level (README "Verifying the guarantees on your
// deployment" lists exactly what is checked). Pure: no I/O, no clock.
//
// The workload it assumes (and the checker relies on): every key has one writer, a
// session that writes it sequentially with increasing sequence numbers, so a key's
// versions are ordered by seq and "the writer's writes in order" is one sequence per
// writer. Times are the verifier's own monotonic clock; a write is *acknowledged* at its
// complete time, and a write that failed has an unknown outcome: it is a valid value for
// a read to return but never a value a read must return.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "proxy/verify/history.h"

namespace cx::verify {

enum class Condition : std::uint8_t {
  ServedLevel,       // X-Consistency is the level asked for, or a documented downgrade
  WrittenValue,      // the value read was written, by a write invoked before the read completed
  ReadYourWrites,    // session: a read sees the session's own acknowledged writes
  MonotonicReads,    // session: per key, never an older value after a newer one
  ConsistentPrefix,  // one read of several keys of a writer sees a prefix of its writes
  Freshness,         // bounded/strong: not older than what was acknowledged before start - bound
  BoundHeader,       // bounded: X-Staleness-Bound-Ms present and within the bound asked for
};
inline constexpr std::size_t kConditionCount = 7;
std::string_view toString(Condition condition);

struct Violation {
  Condition condition;
  Level level;  // the level whose guarantee was broken
  std::string message;
  std::vector<std::uint64_t> ops;  // ids of the operations that show it, the read first
};

struct LevelSummary {
  std::uint64_t reads = 0;         // answered reads held to this level
  std::uint64_t replicaReads = 0;  // of which X-Served-Role: replica
  std::uint64_t downgradedTo = 0;  // of which were downgraded to this level (documented)
  std::uint64_t failedReads = 0;   // requested at this level, no answer or an error status
  // How many times each condition was actually tested (a read with nothing to compare
  // against, e.g. RYW before the session wrote the key, does not count).
  std::array<std::uint64_t, kConditionCount> checked{};
};

struct CheckReport {
  std::vector<Violation> violations;
  std::map<Level, LevelSummary> levels;
  std::uint64_t operations = 0;
  std::uint64_t writesAcknowledged = 0;
  std::uint64_t writesFailed = 0;
};

CheckReport checkHistory(const History& history);

}  // namespace cx::verify
