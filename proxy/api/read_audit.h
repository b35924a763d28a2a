// The read audit (README "Audit and advice"): a sampled share of reads is repeated on
// another node right after the client got its answer, and the two answers are compared.
//
// - A read a replica served is repeated on the primary. The replica's read is sent as
//   ROLE, the read, ROLE (one pipelined write) and the primary's as the read, ROLE. With
//   B the replica's offset before its read, A the primary's after its read, S_R and S_P
//   the states the two reads saw: S_R >= B (offsets only grow) and S_P <= A. The primary
//   read ran after the replica read ended, and a replica never holds more than the
//   primary held at a later moment, so S_R <= S_P. Hence B >= A (same history) proves
//   S_R == S_P: the values must be equal, and a difference is a violation
//   (audit_mismatch). With B < A the replica may simply have been behind: the values may
//   differ, and the audit records how stale the answer was.
// - A strong read (served by the primary) is repeated on the replica a bounded read at
//   the rule's bound would have used: would that bounded read have answered the same?
//   That only feeds the advice; it proves nothing about the replica.
//
// Off the critical path: the audit starts after the client's response is queued. Bounded
// in cost: at most audit.max_in_flight audits per process; a sampled read over the cap is
// counted as skipped. A read that is not sampled costs one random draw (Worker).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "backends/resp.h"
#include "backends/topology.h"
#include "backends/tracker.h"
#include "proxy/api/request_parse.h"
#include "routing/level.h"

namespace cx::proxy {

class Worker;

// One of the process's audit.max_in_flight places, held from the sampled read until its
// audit ends (or the read is not audited after all). Move-only.
class AuditSlot {
 public:
  AuditSlot() = default;
  // A slot if fewer than `max` are taken; an empty one otherwise.
  static AuditSlot tryTake(std::atomic<int>& inFlight, int max);
  AuditSlot(AuditSlot&& other) noexcept : counter_(std::exchange(other.counter_, nullptr)) {}
  AuditSlot& operator=(AuditSlot&& other) noexcept;
  AuditSlot(const AuditSlot&) = delete;
  AuditSlot& operator=(const AuditSlot&) = delete;
  ~AuditSlot() { release(); }
  explicit operator bool() const { return counter_ != nullptr; }
  void release();

 private:
  std::atomic<int>* counter_ = nullptr;
};

enum class AuditResult : std::uint8_t { Match, Mismatch, Stale, Skipped, Error };
std::string_view toString(AuditResult result);  // the `result` label of cxproxy_audits_total

// What the two reads of a replica-read audit saw (see the comment at the top).
struct ReplicaReadEvidence {
  bool sameHistory = false;         // replica, primary and request all in one replid
  std::uint64_t replicaBefore = 0;  // replica's ROLE before its read
  std::uint64_t replicaAfter = 0;   // replica's ROLE after its read
  std::uint64_t primaryAfter = 0;   // primary's ROLE after its read
  bool valuesEqual = false;
  bool keyExpires = false;  // the replica reported a TTL on the key (PTTL >= 0)
  backends::Clock::time_point replicaReadAt{};
  backends::Clock::time_point primaryReadAt{};
  backends::OffsetHistoryView history;  // the primary's offset history around replicaAfter
};

struct AuditVerdict {
  AuditResult result = AuditResult::Error;
  // For cxproxy_audit_observed_staleness_seconds; nullopt: nothing to record.
  std::optional<backends::Clock::duration> staleness;
};

// Pure: the verdict on one replica-read audit.
AuditVerdict judgeReplicaRead(const ReplicaReadEvidence& evidence);

// Whether two replies are the same value (type and contents, arrays element by element).
bool sameReply(const backends::RespValue& a, const backends::RespValue& b);

// Reads the audit may repeat: GET, and /v1/cmd reads whose answer is a function of the
// data alone (no TTLs, random members, cursors or hash-table order), from a fixed list.
bool auditableRead(const DataRequestSpec& spec);

// What a sampled read hands its audit once its response is queued.
struct AuditedRead {
  enum class Kind : std::uint8_t { ReplicaRead, StrongRead };
  Kind kind = Kind::ReplicaRead;
  AuditSlot slot;
  std::string command;                            // the read, encoded
  std::string key;                                // for the log's salted hash only
  backends::RespValue value;                      // what the client got
  backends::Clock::time_point readAt{};           // when the served read's reply arrived
  std::string replid;                             // the history the request was in
  routing::Level level = routing::Level::Strong;  // served
  std::string rule;                               // rule name, "default" for consistency.default
  std::shared_ptr<const backends::Topology> topology;
  // ReplicaRead
  std::size_t replica = 0;
  std::size_t primary = 0;  // the primary's slot when the read was served
  std::uint64_t replicaBefore = 0;
  std::uint64_t replicaAfter = 0;
  bool keyExpires = false;
  // StrongRead: the bound a bounded read of this rule would have asked for
  std::chrono::milliseconds consideredBound{0};
};

// Runs the audit on `worker`'s connections; call on the worker's thread. Records
// cxproxy_audits_total, the observed staleness, the advice and, on a mismatch, the
// violation and a log line with the key's salted hash. Never throws.
void startAudit(Worker& worker, AuditedRead read);

}  // namespace cx::proxy
