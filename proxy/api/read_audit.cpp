// The read audit (see read_audit.h): the verdict, and the second read that gets it.
#include "proxy/api/read_audit.h"

#include <array>
#include <exception>

#include "backends/replication_info.h"
#include "backends/text.h"
#include "proxy/api/access_log.h"
#include "proxy/app/log.h"
#include "proxy/app/worker.h"
#include "routing/router.h"

namespace cx::proxy {

using backends::Clock;
using backends::RespType;
using backends::RespValue;
using routing::Level;

using backends::kRoleTrailer;

namespace {

// Read commands whose answer is the same on two nodes holding the same data (upper case).
// Not TTL/PTTL (they count down), RANDOMKEY/SRANDMEMBER (random), SCAN family (cursors),
// SMEMBERS/HGETALL/HKEYS (hash-table order may differ between nodes).
constexpr std::string_view kDeterministicReads[] = {
    "GET",        "MGET",          "STRLEN",           "GETRANGE",  "EXISTS",      "TYPE",     "HGET",   "HMGET",
    "HEXISTS",    "HLEN",          "HSTRLEN",          "LLEN",      "LINDEX",      "LRANGE",   "SCARD",  "SISMEMBER",
    "SMISMEMBER", "ZCARD",         "ZSCORE",           "ZMSCORE",   "ZRANK",       "ZREVRANK", "ZRANGE", "ZREVRANGE",
    "ZCOUNT",     "ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZLEXCOUNT", "ZRANGEBYLEX", "XLEN",     "XRANGE", "XREVRANGE",
    "GETBIT",     "BITCOUNT",      "BITPOS",           "PFCOUNT",   "GEOPOS",      "GEODIST",  "GEOHASH"};

void observe(metrics::Metrics& m, Level level, std::optional<Clock::duration> staleness) {
  if (!staleness) return;
  m.auditObservedStaleness(toString(level)).Observe(std::chrono::duration<double>(*staleness).count());
}

// The audit's second read, on `backend`: its completion owns the audit.
struct PendingAudit {
  Worker& worker;
  AuditedRead read;
  std::size_t backend = 0;
};

void finishReplicaRead(PendingAudit& audit, backends::ExecResult result) {
  auto& shared = audit.worker.shared();
  auto& m = *shared.metrics;
  const AuditedRead& read = audit.read;
  const auto now = Clock::now();
  std::optional<std::uint64_t> primaryAfter;
  if (result.ok() && result.trailer) primaryAfter = backends::roleOffset(*result.trailer, true);
  if (!result.ok() || !primaryAfter || result.replies[0].isError()) {
    m.audits(toString(AuditResult::Error)).Increment();
    return;
  }
  const auto& replica = read.topology->backends[read.replica];
  const std::string& primaryReplid = audit.worker.pool().pick(read.primary).replid();
  ReplicaReadEvidence evidence;
  evidence.sameHistory =
      !read.replid.empty() && replica.replid == read.replid && (primaryReplid.empty() || primaryReplid == read.replid);
  evidence.replicaBefore = read.replicaBefore;
  evidence.replicaAfter = read.replicaAfter;
  evidence.primaryAfter = *primaryAfter;
  evidence.valuesEqual = sameReply(read.value, result.replies[0]);
  evidence.keyExpires = read.keyExpires;
  evidence.replicaReadAt = read.readAt;
  evidence.primaryReadAt = now;
  if (!evidence.valuesEqual) evidence.history = shared.tracker->historyAround(read.replid, read.replicaAfter);
  const AuditVerdict verdict = judgeReplicaRead(evidence);
  m.audits(toString(verdict.result)).Increment();
  observe(m, read.level, verdict.staleness);
  if (verdict.result == AuditResult::Mismatch) {
    m.violations("audit_mismatch").Increment();
    log(LogLevel::Error, "audit_mismatch",
        {{"key_hash", accessKeyHash(read.key)},
         {"replica", replica.name},
         {"replica_offset", std::to_string(read.replicaBefore)},
         {"primary_offset", std::to_string(*primaryAfter)},
         {"level", toString(read.level)},
         {"rule", read.rule},
         {"detail", "the replica had applied the primary's position and answered a different value"}});
  }
  if (verdict.result != AuditResult::Error) {
    shared.advice.record({read.rule, read.level, read.level, std::chrono::milliseconds{0}}, evidence.valuesEqual, now);
  }
}

void finishStrongRead(PendingAudit& audit, backends::ExecResult result) {
  auto& shared = audit.worker.shared();
  auto& m = *shared.metrics;
  const AuditedRead& read = audit.read;
  if (!result.ok() || result.replies[0].isError()) {
    m.audits(toString(AuditResult::Error)).Increment();
    return;
  }
  // A different answer from the replica a bounded read would have used: "stale" from the
  // strong read's point of view, whichever write explains it.
  const bool identical = sameReply(read.value, result.replies[0]);
  m.audits(toString(identical ? AuditResult::Match : AuditResult::Stale)).Increment();
  shared.advice.record({read.rule, Level::Strong, Level::Bounded, read.consideredBound}, identical, Clock::now());
}

// Sends `encoded` to `backend` on the worker's pool; the completion judges the audit.
void submitAudit(Worker& worker, AuditedRead read, std::size_t backend, std::string encoded, std::string_view trailer) {
  auto& shared = worker.shared();
  auto& conn = worker.pool().pick(backend);
  shared.inFlight.add(worker.index(), backend);
  const auto timeout = worker.config()->redis.commandTimeout;
  auto pending = std::make_unique<PendingAudit>(PendingAudit{worker, std::move(read), backend});
  conn.submit(std::move(encoded), 1, timeout, trailer, [pending = std::move(pending)](backends::ExecResult result) {
    PendingAudit& audit = *pending;
    audit.worker.shared().inFlight.remove(audit.worker.index(), audit.backend);
    try {
      if (audit.read.kind == AuditedRead::Kind::ReplicaRead) {
        finishReplicaRead(audit, std::move(result));
      } else {
        finishStrongRead(audit, std::move(result));
      }
    } catch (const std::exception& e) {
      log(LogLevel::Error, "audit_failed", {{"error", e.what()}});
    }
  });
}

}  // namespace

AuditSlot AuditSlot::tryTake(std::atomic<int>& inFlight, int max) {
  AuditSlot slot;
  if (inFlight.fetch_add(1, std::memory_order_relaxed) >= max) {
    inFlight.fetch_sub(1, std::memory_order_relaxed);
    return slot;
  }
  slot.counter_ = &inFlight;
  return slot;
}

AuditSlot& AuditSlot::operator=(AuditSlot&& other) noexcept {
  if (this != &other) {
    release();
    counter_ = std::exchange(other.counter_, nullptr);
  }
  return *this;
}

void AuditSlot::release() {
  if (counter_) counter_->fetch_sub(1, std::memory_order_relaxed);
  counter_ = nullptr;
}

std::string_view toString(AuditResult result) {
  switch (result) {
    case AuditResult::Match: return "match";
    case AuditResult::Mismatch: return "mismatch";
    case AuditResult::Stale: return "stale";
    case AuditResult::Skipped: return "skipped";
    case AuditResult::Error: return "error";
  }
  return "error";
}

AuditVerdict judgeReplicaRead(const ReplicaReadEvidence& e) {
  if (!e.sameHistory) return {AuditResult::Error, std::nullopt};  // offsets not comparable
  if (e.valuesEqual) return {AuditResult::Match, Clock::duration::zero()};
  if (e.replicaBefore >= e.primaryAfter) {
    // Both reads saw the same state (see read_audit.h). One honest difference remains:
    // a key whose TTL ran out between the two reads (a replica only drops an expired key
    // when the primary's DEL arrives, which moves the offset, but reports it missing by
    // its own clock). Its answer was stale by at most the time between the reads.
    if (e.keyExpires) {
      auto between = e.primaryReadAt - e.replicaReadAt;
      return {AuditResult::Stale, std::max(between, Clock::duration::zero())};
    }
    return {AuditResult::Mismatch, std::nullopt};
  }
  // The replica was behind. How stale its answer was: the time since the primary first
  // moved past the replica's offset after its read (replicaAfter, so never past what the
  // replica held). firstBeyond is the send time of the first poll that saw the primary
  // past it; the primary got there after the previous poll was sent and before this one
  // was answered, so this is the observed staleness to within one tracking interval (plus
  // a poll's round trip) either way: an estimate, not a bound.
  // When no poll sent before the read has seen the primary past it (it moved after the
  // latest poll), all that can be proved is the bound: the time since the latest poll
  // the replica covers (freshAsOf), an upper bound.
  std::optional<Clock::time_point> since = e.history.freshAsOf;
  if (e.history.firstBeyond && *e.history.firstBeyond <= e.replicaReadAt) since = e.history.firstBeyond;
  if (!since) return {AuditResult::Stale, std::nullopt};
  return {AuditResult::Stale, std::max(e.replicaReadAt - *since, Clock::duration::zero())};
}

bool sameReply(const RespValue& a, const RespValue& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case RespType::Nil: return true;
    case RespType::Integer: return a.integer == b.integer;
    case RespType::Array:
      if (a.elements.size() != b.elements.size()) return false;
      for (std::size_t i = 0; i < a.elements.size(); ++i) {
        if (!sameReply(a.elements[i], b.elements[i])) return false;
      }
      return true;
    default: return a.str == b.str;
  }
}

bool auditableRead(const DataRequestSpec& spec) {
  if (spec.isWrite) return false;
  if (spec.op == Op::Get) return true;
  if (!isCommand(spec.op) || spec.key.empty()) return false;
  for (auto name : kDeterministicReads) {
    if (spec.commandName == name) return true;
  }
  return false;
}

void startAudit(Worker& worker, AuditedRead read) {
  try {
    if (read.kind == AuditedRead::Kind::ReplicaRead) {
      std::string encoded = read.command;
      const std::size_t primary = read.primary;
      submitAudit(worker, std::move(read), primary, std::move(encoded), kRoleTrailer);
      return;
    }
    // The replica a bounded read at the rule's bound would have been routed to now.
    routing::RouteRequest bounded;
    bounded.level = Level::Bounded;
    bounded.maxStaleness = read.consideredBound;
    bounded.onStale = routing::OnStale::Primary;
    auto topology = worker.topology();
    auto decision = routing::route(bounded, *topology, worker.pool().loads(), Clock::now(), worker.pool().preference());
    if (decision.kind != routing::RouteKind::Replica)
      return;  // no replica fit: no sample (a bounded read would have gone to the primary)
    std::string encoded = read.command;
    submitAudit(worker, std::move(read), decision.backend, std::move(encoded), {});
  } catch (const std::exception& e) {
    worker.shared().metrics->audits(toString(AuditResult::Error)).Increment();
    log(LogLevel::Error, "audit_failed", {{"error", e.what()}});
  }
}

}  // namespace cx::proxy
