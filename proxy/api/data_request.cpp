// The data request state machine (see data_request.h). The only place that turns a
// backend's answer into a response.
//
// Positions for session tokens come from a ROLE pipelined right after the command on the
// same connection: Redis runs one command at a time, so that ROLE reports an offset at
// least as high as the state the command read or wrote. Polled offsets are used only to
// choose a replica, never as the position of a read.
#include "proxy/api/data_request.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <charconv>
#include <limits>

#include "backends/replication_info.h"
#include "backends/text.h"
#include "proxy/api/access_log.h"
#include "proxy/api/data_response.h"
#include "proxy/api/scripts.h"
#include "routing/rules.h"

namespace cx::proxy {

namespace asio = boost::asio;
using backends::BackendError;
using backends::kRoleTrailer;
using backends::RespType;
using backends::RespValue;
using routing::Level;

namespace {

// True when a reply is NOSCRIPT (EVALSHA of a script the node has not cached).
bool hasNoscript(std::span<const RespValue> replies) {
  for (const RespValue& reply : replies) {
    if (reply.isError() && reply.str.rfind("NOSCRIPT", 0) == 0) return true;
  }
  return false;
}

}  // namespace

DataRequest::DataRequest(Worker& worker, const Request& req, Response& res, Responder done)
    : worker_(worker),
      shared_(worker.shared()),
      config_(worker.config()),
      req_(req),
      res_(res),
      done_(done),
      started_(Clock::now()) {}

void DataRequest::setServed(std::size_t backend, std::optional<std::chrono::milliseconds> bound) {
  if (backend >= topology_->backends.size()) return;  // no such slot: nothing was served
  const auto& b = topology_->backends[backend];
  servedBackend_ = backend;
  role_ = backend == primary_ ? ServedRole::Primary : ServedRole::Replica;
  res_.set("X-Consistency", toString(level_));
  res_.set("X-Served-By", b.name);
  res_.set("X-Served-Role", toString(role_));
  if (bound) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, bound->count());
    (void)ec;
    res_.set("X-Staleness-Bound-Ms", std::string_view(buf, static_cast<std::size_t>(end - buf)));
    if (!spec_.isWrite) worker_.requestMetrics().readStaleness(level_, *bound);
  } else {
    res_.set("X-Staleness-Bound-Ms", "unknown");
  }
}

void DataRequest::issueToken(std::uint64_t writeOffset, std::uint64_t readOffset, bool fromPrimary) {
  std::string_view replid = currentReplid_;
  std::uint64_t write = std::max(session_.writeOffset, writeOffset);
  std::uint64_t read = std::max(session_.readOffset, readOffset);
  if (fromPrimary && !primaryReplid_.empty() && primaryReplid_ != currentReplid_) {
    // The primary restarted or changed history since the snapshot: this position is in its
    // new history, and positions of the old one mean nothing there.
    replid = primaryReplid_;
    write = writeOffset;
    read = readOffset;
  }
  if (replid.empty()) return;
  // Nothing new to remember: hand the client's own token back instead of signing again
  // (an HMAC per response is a large share of a read's cost), or none if it sent none.
  if (const auto given = tokens();
      given.size() == 1 && given[0].replid == replid && given[0].writeOffset == write && given[0].readOffset == read) {
    res_.set("X-Session-Token", text::trim(*spec_.sessionToken));
    return;
  }
  // A write always gets a token: a primary without replicas yet reports offset 0, and the
  // token's history still matters.
  if (tokens().empty() && write == 0 && read == 0 && !spec_.isWrite) return;
  // The same positions signed within the last second: the same text again, no HMAC.
  res_.set("X-Session-Token", worker_.recentTokens().encode(*shared_.keys, replid, write, read, Clock::now(),
                                                            std::chrono::milliseconds{1000}));
}

void DataRequest::backendFailure(BackendError error, std::size_t backend) {
  const std::string& name =
      backend < topology_->backends.size() ? topology_->backends[backend].name : topology_->primary().name;
  shared_.metrics->backendErrors(name, backends::toString(error)).Increment();
  const bool onPrimary = backend == primary_;
  if (onPrimary && topology_->sentinelMode &&
      (error == BackendError::ConnectionLost || error == BackendError::Protocol)) {
    // Sentinel mode: a connection to the primary dropped mid-call is most likely a
    // reconfiguration (a failover closes the clients of the demoted node): 503, so the
    // client retries once the new primary is confirmed, never a 502.
    fail(ErrorCode::PrimaryUnavailable,
         "the connection to the primary '" + name + "' was closed during the call, likely by a failover" +
             (spec_.isWrite ? std::string("; the write's outcome is unknown: read it back before retrying")
                            : std::string("; retry the read")));
    return;
  }
  fail(backendCallError(error, name, onPrimary, spec_.isWrite, worker_.pool().pick(primary_).lastError()));
}

void DataRequest::run(Self self) {
  DataRequest& d = *self;
  if (!d.prepare()) return finish(std::move(self));
  if (!d.sessionSettledBySnapshot()) return d.spawn(validateThenServe(std::move(self)));
  serve(std::move(self));
}

asio::awaitable<void> DataRequest::validateThenServe(Self self) {
  DataRequest& d = *self;
  // In a variable, not in a condition: GCC 12 built `if (!co_await ...)` into a frame
  // whose first resumption hit an invalid state (SIGILL).
  SessionCheck check = co_await checkSession(
      d.tokens(), *d.topology_, *d.shared_.metrics,
      [&d](std::string encoded, std::size_t count) { return d.exec(d.primary_, std::move(encoded), count); });
  d.session_ = check.session;
  if (!check.liveReplid.empty()) {
    d.liveReplid_ = std::move(check.liveReplid);
    d.currentReplid_ = d.liveReplid_;
  }
  if (check.error) {
    d.fail(*check.error);
    finish(std::move(self));
    co_return;
  }
  serve(std::move(self));
}

void DataRequest::serve(Self self) {
  if (self->spec_.isWrite) return write(std::move(self));
  read(std::move(self));
}

void DataRequest::finish(Self self) {
  DataRequest& d = *self;
  if (d.upstash_) {
    // Upstash's client replaces its token with this header's value, empty when absent:
    // every answer carries the session's latest token, or the client would forget it.
    if (d.res_.has("X-Session-Token")) {
      // Copied: set() may move the buffer the view points into.
      d.res_.set("upstash-sync-token", std::string(d.res_["X-Session-Token"]));
    } else if (d.spec_.sessionToken && !d.tokens().empty()) {
      d.res_.set("upstash-sync-token", text::trim(*d.spec_.sessionToken));
    } else {
      d.res_.set("upstash-sync-token", "");
    }
  }
  d.recordMetrics();
  d.done_();
}

void DataRequest::spawn(asio::awaitable<void> coroutine) {
  asio::co_spawn(worker_.io(), std::move(coroutine), [done = done_, &res = res_](std::exception_ptr e) {
    if (!e) return;
    // The coroutine owned the request and ended by throwing before passing it on.
    answerException("data", e, &res);
    done();
  });
}

void DataRequest::call(Self self, std::size_t index, std::string encoded, std::size_t count,
                       std::chrono::milliseconds timeout, std::string_view trailer, bool countLatency, Step next) {
  DataRequest& d = *self;
  if (index >= d.topology_->backends.size()) {
    // No such slot (no primary known): nothing sent.
    d.callIndex_ = index;
    return (d.*next)(self, backends::ExecResult{BackendError::Unavailable, {}, {}});
  }
  auto& conn = d.beginCall(index);
  d.callIndex_ = index;
  d.callCountsLatency_ = countLatency;
  d.callStarted_ = Clock::now();
  conn.submit(std::move(encoded), count, timeout.count() == 0 ? d.config_->redis.commandTimeout : timeout, trailer,
              [self = std::move(self), next](backends::ExecResult result) mutable {
                DataRequest& r = *self;
                r.endCall(r.callIndex_, result, Clock::now() - r.callStarted_, r.callCountsLatency_);
                try {
                  (r.*next)(self, std::move(result));
                } catch (...) {
                  // If the step still owned the request, the client gets a 500.
                  answerException("data", std::current_exception(), self ? &self->res_ : nullptr);
                  if (self) finish(std::move(self));
                }
              });
}

backends::Connection& DataRequest::beginCall(std::size_t index) {
  auto& conn = worker_.pool().pick(index);
  callConnection_ = &conn;
  // The primary's latency, errors and in-flight count drive the load controller.
  shared_.inFlight.add(worker_.index(), index);
  return conn;
}

void DataRequest::endCall(std::size_t index, const backends::ExecResult& result, Clock::duration elapsed,
                          bool countLatency) {
  shared_.inFlight.remove(worker_.index(), index);
  const auto& backend = topology_->backends[index];
  worker_.requestMetrics().backendCall(index, backend.slotGeneration, backend.name, result.error, result.ok(), elapsed);
  // The history of the primary that ran the call is the one of the connection's current
  // handshake, read now, not when the call was queued: a call queued while the
  // connection was reconnecting (a restarted primary) runs on the new server, and the
  // history known at queueing time is the old one. A reply that arrived ok came on the
  // socket of the current handshake (a reconnect first fails every call in flight).
  if (index == primary_ && result.ok() && callConnection_ && !callConnection_->replid().empty()) {
    primaryReplid_ = callConnection_->replid();
  }
  if (index == primary_ && (countLatency || !result.ok())) {
    shared_.primaryLatency.record(std::chrono::duration_cast<std::chrono::microseconds>(elapsed), !result.ok());
  }
}

asio::awaitable<backends::ExecResult> DataRequest::exec(std::size_t index, std::string encoded, std::size_t count,
                                                        std::chrono::milliseconds timeout, bool countLatency,
                                                        std::string_view trailer) {
  if (index >= topology_->backends.size()) co_return backends::ExecResult{BackendError::Unavailable, {}, {}};
  auto& conn = beginCall(index);
  const auto started = Clock::now();
  auto result = co_await conn.execute(std::move(encoded), count,
                                      timeout.count() == 0 ? config_->redis.commandTimeout : timeout, trailer);
  endCall(index, result, Clock::now() - started, countLatency);
  co_return result;
}

void DataRequest::respondWithReplies(std::span<const RespValue> replies) {
  if (!isBatch(spec_.op)) return setReply(res_, spec_, replies.front());
  setBatchReply(res_, spec_, replies);
}

// ROLE, the read, ROLE — pipelined on one connection, so Redis runs them back to back. The
// first ROLE proves the replica had applied the session's position *before* the read (a
// replica's offset only grows), the second gives the position the read may have seen,
// for the token. A ROLE after the read alone could not prove the first.
asio::awaitable<bool> DataRequest::trySessionOnLaggingReplica(const routing::RouteRequest& request) {
  static constexpr std::array<std::string_view, 1> kRole{"ROLE"};
  routing::RouteRequest anyTracked = request;
  anyTracked.level = Level::Prefix;
  auto candidate =
      routing::route(anyTracked, *topology_, worker_.pool().loads(), Clock::now(), worker_.pool().preference());
  if (candidate.kind != routing::RouteKind::Replica) co_return false;
  const std::size_t target = candidate.backend;
  std::string encoded;
  backends::appendCommand(encoded, kRole);
  appendMainCommand(encoded);
  backends::appendCommand(encoded, kRole);
  auto result = co_await exec(target, std::move(encoded), mainReplies_ + 2);
  if (!result.ok()) co_return false;
  auto before = backends::roleOffset(result.replies.front(), false);
  auto after = backends::roleOffset(result.replies.back(), false);
  if (!before || !after || *before < request.sessionOffset) co_return false;  // counted as no_fresh_replica
  const auto replies = std::span<const RespValue>(result.replies).subspan(1, mainReplies_);
  if (hasNoscript(replies)) co_return false;  // the primary has the script
  setServed(target, topology_->stalenessBound(target, Clock::now()));
  issueToken(0, *after);
  respondWithReplies(replies);
  co_return true;
}

void DataRequest::routeRead() {
  if (spec_.needsPrimary) {
    // A cursor continues only on the node that issued it: always the primary.
    decision_ = routing::RouteDecision{routing::RouteKind::Primary, primary_, std::chrono::milliseconds{0}, {}};
    return;
  }
  rr_.isWrite = false;
  rr_.level = level_;
  rr_.maxStaleness =
      spec_.maxStaleness ? *spec_.maxStaleness : policy_->maxStaleness.value_or(config_->consistency.maxStaleness);
  rr_.sessionOffset = session_.required();
  if (!tokens().empty() && currentReplid_ != topology_->primary().replid) {
    // The session is in a history the snapshot's replicas are not known to be in (the
    // primary changed history since the last poll): no replica can prove its position.
    rr_.sessionOffset = std::numeric_limits<std::uint64_t>::max();
  }
  rr_.onStale = policy_->onStale;
  decision_ = routing::route(rr_, *topology_, worker_.pool().loads(), Clock::now(), worker_.pool().preference());
}

bool DataRequest::wantsLaggingReplica() const {
  return level_ == Level::Session && decision_.kind != routing::RouteKind::Replica &&
         decision_.fallbackReason == "no_fresh_replica" &&
         rr_.sessionOffset != std::numeric_limits<std::uint64_t>::max();
}

void DataRequest::relaxIfOverloaded() {
  const bool toPrimary = decision_.kind == routing::RouteKind::Primary || decision_.kind == routing::RouteKind::Wait;
  if (!toPrimary || spec_.needsPrimary || !policy_->downgradeEnabled ||
      !shared_.overloaded.load(std::memory_order_relaxed))
    return;
  // Relax to the strongest level a replica can serve now, never below the rule's floor,
  // and say so. If none can, stay as asked.
  const auto now = Clock::now();
  auto relaxed = routing::relaxForLoad(rr_, policy_->floor, *topology_, now);
  if (!relaxed) return;
  routing::RouteRequest relaxedRequest = rr_;
  relaxedRequest.level = *relaxed;
  auto relaxedDecision =
      routing::route(relaxedRequest, *topology_, worker_.pool().loads(), now, worker_.pool().preference());
  if (relaxedDecision.kind != routing::RouteKind::Replica) return;
  const auto from = toString(level_);
  const auto to = toString(*relaxed);
  res_.set("X-Consistency-Downgraded", std::string(from) + "->" + std::string(to) + "; reason=primary_overloaded");
  shared_.metrics->downgrades(from, to, "primary_overloaded").Increment();
  level_ = *relaxed;
  rr_ = relaxedRequest;
  decision_ = relaxedDecision;
}

void DataRequest::read(Self self) {
  DataRequest& d = *self;
  d.routeRead();
  if (d.wantsLaggingReplica()) return d.spawn(readSlowly(std::move(self), true));
  d.relaxIfOverloaded();
  if (d.decision_.kind == routing::RouteKind::Wait) return d.spawn(readSlowly(std::move(self), false));
  readDecided(std::move(self));
}

asio::awaitable<void> DataRequest::readSlowly(Self self, bool askLaggingReplica) {
  DataRequest& d = *self;
  if (askLaggingReplica) {
    const bool served = co_await d.trySessionOnLaggingReplica(d.rr_);
    if (served) {
      finish(std::move(self));
      co_return;
    }
    d.relaxIfOverloaded();
  }
  if (d.decision_.kind == routing::RouteKind::Wait) {
    // on_stale: wait — look at newer snapshots until one qualifies or the time is up.
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto deadline = Clock::now() + d.config_->consistency.waitTimeout;
    while (d.decision_.kind == routing::RouteKind::Wait && Clock::now() < deadline) {
      timer.expires_after(std::min<Clock::duration>(std::chrono::milliseconds(2), deadline - Clock::now()));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      d.topology_ = d.worker_.topology();
      d.decision_ =
          routing::route(d.rr_, *d.topology_, d.worker_.pool().loads(), Clock::now(), d.worker_.pool().preference());
    }
    if (d.decision_.kind == routing::RouteKind::Wait) {
      d.rr_.onStale = routing::OnStale::Primary;
      d.decision_ =
          routing::route(d.rr_, *d.topology_, d.worker_.pool().loads(), Clock::now(), d.worker_.pool().preference());
    }
  }
  readDecided(std::move(self));
}

void DataRequest::readDecided(Self self) {
  DataRequest& d = *self;
  switch (d.decision_.kind) {
    case routing::RouteKind::NoFreshReplica:
      d.shared_.metrics->violations("no_fresh_replica").Increment();
      d.fail(ErrorCode::NoFreshReplica,
             std::string("no replica can serve this ") + std::string(toString(d.level_)) +
                 " read right now and the rule says on_stale: error; retry later or ask for a weaker level");
      return finish(std::move(self));
    case routing::RouteKind::PrimaryUnavailable:
      if (d.topology_->sentinelMode && d.config_->redis.failoverWait.count() > 0 && !d.waitedForPrimary_) {
        return d.spawn(waitForPrimary(std::move(self)));
      }
      d.primaryUnavailable();
      return finish(std::move(self));
    default: break;
  }
  d.needRole_ = d.level_ == Level::Strong || d.level_ == Level::Session;
  d.target_ = d.decision_.kind == routing::RouteKind::Replica ? d.decision_.backend : d.primary_;
  if (d.target_ == d.primary_ && !d.decision_.fallbackReason.empty()) {
    d.shared_.metrics->fallbacks("replica", "primary", d.decision_.fallbackReason).Increment();
  }
  d.bound_ = d.decision_.stalenessBound;
  d.planAudit();
  readAttempt(std::move(self));
}

void DataRequest::planAudit() {
  // Replica reads are repeated on the primary, strong reads on a replica; others are not
  // audited. A read that is not sampled costs this test and one draw.
  if (isBatch(spec_.op) || (target_ == primary_ && level_ != Level::Strong)) return;
  if (!worker_.drawSample(config_->audit.sampleRate) || !auditableRead(spec_)) return;
  shared_.advice.drawn(ruleName_, Clock::now());
  auditSlot_ = AuditSlot::tryTake(shared_.auditsInFlight, config_->audit.maxInFlight);
  if (!auditSlot_) {
    shared_.metrics->audits(toString(AuditResult::Skipped)).Increment();
    return;
  }
  audit_ = target_ != primary_ ? AuditKind::ReplicaRead : AuditKind::StrongRead;
}

std::optional<AuditedRead> DataRequest::takeAudit() {
  AuditedRead read;
  read.kind = audit_ == AuditKind::ReplicaRead ? AuditedRead::Kind::ReplicaRead : AuditedRead::Kind::StrongRead;
  read.readAt = Clock::now();
  read.replid = std::string(currentReplid_);
  read.level = level_;
  read.rule = std::string(ruleName_);
  read.topology = topology_;
  read.primary = primary_;
  read.key = spec_.key;
  appendMainCommand(read.command);
  if (read.kind == AuditedRead::Kind::ReplicaRead) {
    auto before = backends::roleOffset(readResult_.replies[0], false);
    auto after = readResult_.trailer ? backends::roleOffset(*readResult_.trailer, false) : std::nullopt;
    if (!before || !after) {
      shared_.metrics->audits(toString(AuditResult::Error)).Increment();
      return std::nullopt;
    }
    read.replica = target_;
    read.replicaBefore = *before;
    read.replicaAfter = *after;
    const RespValue& ttl = readResult_.replies[2];
    read.keyExpires = ttl.type == RespType::Integer && ttl.integer >= 0;
  } else {
    read.consideredBound = rr_.maxStaleness;
  }
  read.value = std::move(readResult_.replies[mainReply_]);
  read.slot = std::move(auditSlot_);
  return read;
}

// On target_; a replica that fails is followed by one attempt on the primary.
void DataRequest::readAttempt(Self self) {
  DataRequest& d = *self;
  std::string encoded;
  std::size_t count = d.mainReplies_;
  d.mainReply_ = 0;
  if (d.audit_ == AuditKind::ReplicaRead && d.target_ != d.primary_) {
    // ROLE, the read, PTTL of its key, then the ROLE trailer: the offsets around the read
    // (read_audit.h) and whether the key can expire between the replica's read and the
    // primary's.
    static constexpr std::array<std::string_view, 1> kRole{"ROLE"};
    const std::array<std::string_view, 2> pttl{"PTTL", d.spec_.key};
    backends::appendCommand(encoded, kRole);
    d.appendMainCommand(encoded);
    backends::appendCommand(encoded, pttl);
    count = d.mainReplies_ + 2;
    d.mainReply_ = 1;
  } else {
    if (d.audit_ == AuditKind::ReplicaRead) {
      // Served by the primary after all (a replica failed or changed): nothing to audit.
      d.audit_ = AuditKind::None;
      d.auditSlot_.release();
    }
    d.appendMainCommand(encoded);
  }
  // ROLE after the read gives a position at or after what the read saw: the token's.
  const bool trailer = d.needRole_ || d.mainReply_ != 0;
  call(std::move(self), d.target_, std::move(encoded), count, {}, trailer ? kRoleTrailer : std::string_view{},
       /*countLatency=*/true, &DataRequest::onReadReply);
}

void DataRequest::onReadReply(Self& self, backends::ExecResult result) {
  setServed(target_, bound_);
  if (!result.ok()) {
    if (target_ != primary_ && level_ != Level::Strong && routing::primaryWritable(*topology_)) {
      // A replica failed mid-read: the primary can always serve a read.
      shared_.metrics->backendErrors(topology_->backends[target_].name, backends::toString(result.error)).Increment();
      shared_.metrics->fallbacks("replica", "primary", "replica_error").Increment();
      target_ = primary_;
      bound_ = std::chrono::milliseconds{0};
      return readAttempt(std::move(self));
    }
    backendFailure(result.error, target_);
    return finish(std::move(self));
  }
  if (target_ != primary_ &&
      hasNoscript(std::span<const RespValue>(result.replies).subspan(mainReply_, mainReplies_))) {
    // Redis does not replicate its script cache: the primary may have what this replica lacks.
    shared_.metrics->fallbacks("replica", "primary", "noscript").Increment();
    target_ = primary_;
    bound_ = std::chrono::milliseconds{0};
    return readAttempt(std::move(self));
  }
  readResult_ = std::move(result);
  if (!needRole_) return afterReadOffset(self, 0);
  auto offset = backends::roleOffset(*readResult_.trailer, target_ == primary_);
  if (!offset && target_ != primary_) {
    static constexpr std::array<std::string_view, 2> kInfo{"INFO", "replication"};
    return call(std::move(self), target_, backends::encodeCommand(kInfo), 1, {}, {}, /*countLatency=*/true,
                &DataRequest::onReadInfo);
  }
  afterReadOffset(self, offset);
}

// With its link down (the primary unreachable) a replica's ROLE reports offset -1, yet it
// still holds exactly the prefix it applied, and INFO's master_repl_offset says which.
// Asked after the read on the same node, it is at least the read's position, as long as
// the node is still a replica in the history the token is about (master_replid).
void DataRequest::onReadInfo(Self& self, backends::ExecResult result) {
  afterReadOffset(self,
                  result.ok() ? backends::replicaOffsetFromInfo(result.replies[0], currentReplid_) : std::nullopt);
}

void DataRequest::afterReadOffset(Self& self, std::optional<std::uint64_t> offset) {
  if (needRole_) {
    if (offset && target_ != primary_ && *offset < rr_.sessionOffset) offset.reset();
    if (!offset) {
      if (target_ == primary_ || !routing::primaryWritable(*topology_)) {
        fail(ErrorCode::PrimaryUnavailable, "'" + topology_->primary().name + "' is no longer the primary; a " +
                                                std::string(toString(level_)) + " read cannot be served; retry later");
        return finish(std::move(self));
      }
      // The replica changed role or lost its link: serve from the primary instead.
      shared_.metrics->fallbacks("replica", "primary", "replica_changed").Increment();
      target_ = primary_;
      bound_ = std::chrono::milliseconds{0};
      return readAttempt(std::move(self));
    }
  }
  const std::uint64_t readOffset = offset.value_or(0);
  issueToken(0, level_ == Level::Session || level_ == Level::Strong ? readOffset : 0, target_ == primary_);
  respondWithReplies(std::span<const RespValue>(readResult_.replies).subspan(mainReply_, mainReplies_));
  if (audit_ == AuditKind::None) return finish(std::move(self));
  // The response first, then the audit: it never delays the client.
  auto audit = takeAudit();
  Worker& worker = worker_;
  finish(std::move(self));
  if (audit) startAudit(worker, std::move(*audit));
}

void DataRequest::recordMetrics() {
  const auto elapsed = Clock::now() - started_;
  const bool served = role_ != ServedRole::None;
  worker_.requestMetrics().request(spec_.op, spec_.requested, served ? std::optional<Level>(level_) : std::nullopt,
                                   role_, res_.result_int(), elapsed);
  if (!config_->log.access) return;
  const bool known = served && topology_ && servedBackend_ < topology_->backends.size();
  logAccess({.method = req_.method_string(),
             .op = toString(spec_.op),
             .key = spec_.key,
             .requested = spec_.requested ? toString(*spec_.requested) : std::string_view("default"),
             .served = served ? toString(level_) : std::string_view("none"),
             .backend = known ? std::string_view(topology_->backends[servedBackend_].name) : std::string_view("-"),
             .role = toString(role_),
             .token = auth_.name.empty() ? std::string_view("-") : auth_.name,
             .status = res_.result_int(),
             .duration = std::chrono::duration_cast<std::chrono::microseconds>(elapsed)});
}

}  // namespace cx::proxy
