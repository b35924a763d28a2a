// DataRequest (see data_request.h), the write side: a write (or a batch or transaction
// with one) on the primary with ROLE pipelined after it, WAIT for strong writes, and what
// happens while no primary is confirmed (a failover): wait up to redis.failover_wait, or
// 503 primary_unavailable.
#include "proxy/api/data_request.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>

#include "backends/replication_info.h"

namespace cx::proxy {

namespace asio = boost::asio;
using backends::kRoleTrailer;
using backends::RespType;
using backends::RespValue;
using routing::Level;

namespace {

// Number of replica acknowledgements a strong write needs.
int quorumSize(const WriteQuorum& q, std::size_t replicas) {
  switch (q.kind) {
    case WriteQuorum::Kind::Count: return q.replicas;
    case WriteQuorum::Kind::Majority: return static_cast<int>((replicas + 1) / 2);
    case WriteQuorum::Kind::All: return static_cast<int>(replicas);
  }
  return q.replicas;
}

}  // namespace

std::size_t DataRequest::replicaCount() const {
  if (!topology_->sentinelMode) return config_->redis.replicas.size();
  std::size_t n = 0;
  for (std::size_t i = 0; i < topology_->backends.size(); ++i) {
    if (i != primary_ && topology_->backends[i].standing == backends::Standing::Replica) ++n;
  }
  return n;
}

void DataRequest::adoptTopology(std::shared_ptr<const backends::Topology> topology) {
  topology_ = std::move(topology);
  replidSnapshot_ = topology_;
  primary_ = topology_->primaryIndex;
  currentReplid_ = topology_->primary().replid;
  if (currentReplid_.empty()) {
    for (const auto& b : topology_->backends) {
      if (!b.replid.empty()) {
        currentReplid_ = b.replid;
        break;
      }
    }
  }
}

void DataRequest::primaryUnavailable() {
  if (topology_->sentinelMode) {
    const auto& p = topology_->primary();
    std::string standing = topology_->hasPrimary() ? "'" + p.name + "' is " + std::string(toString(p.standing))
                                                   : std::string("no primary is known yet");
    fail(ErrorCode::PrimaryUnavailable,
         "no confirmed Redis primary (" + standing + "; a failover may be under way); " +
             (spec_.isWrite ? "nothing was written"
                            : std::string("a ") + std::string(toString(level_)) + " read needs the primary") +
             ": retry after Retry-After, or ask for a weaker level for reads");
    return;
  }
  fail(ErrorCode::PrimaryUnavailable,
       std::string("no replica can serve this ") + std::string(toString(level_)) +
           " read and the Redis primary is not reachable; retry later or ask for a weaker level");
}

// Writes and strong reads while no primary is confirmed: wait up to redis.failover_wait
// for a snapshot that shows one (polling the tracker's version; the loop never blocks),
// then start the request over on it; 503 primary_unavailable if none comes.
asio::awaitable<void> DataRequest::waitForPrimary(Self self) {
  DataRequest& d = *self;
  d.waitedForPrimary_ = true;
  const auto deadline = Clock::now() + d.config_->redis.failoverWait;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::uint64_t seen = d.shared_.tracker->version();
  while (Clock::now() < deadline) {
    timer.expires_after(std::min<Clock::duration>(std::chrono::milliseconds(5), deadline - Clock::now()));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    const std::uint64_t now = d.shared_.tracker->version();
    if (now == seen) continue;
    seen = now;
    auto topology = d.worker_.topology();
    if (!routing::primaryWritable(*topology)) continue;
    d.adoptTopology(std::move(topology));
    // The session's positions are judged again against the new primary's history.
    if (!d.sessionSettledBySnapshot()) {
      d.spawn(validateThenServe(std::move(self)));
      co_return;
    }
    serve(std::move(self));
    co_return;
  }
  d.primaryUnavailable();
  finish(std::move(self));
}

void DataRequest::write(Self self) {
  DataRequest& d = *self;
  if (!routing::primaryWritable(*d.topology_)) {
    if (d.config_->redis.failoverWait.count() > 0 && !d.waitedForPrimary_)
      return d.spawn(waitForPrimary(std::move(self)));
    d.primaryUnavailable();
    return finish(std::move(self));
  }
  std::string encoded;
  d.appendMainCommand(encoded);
  std::size_t count = d.mainReplies_;
  // A transaction of reads alone writes nothing for replicas to acknowledge.
  const bool writes = !isMulti(d.spec_.op) || d.plan_.isWrite;
  const bool strong = d.level_ == Level::Strong && writes;
  if (strong) {
    d.requiredAcks_ = quorumSize(d.config_->consistency.writeQuorum, d.replicaCount());
    const std::string n = std::to_string(d.requiredAcks_);
    const std::string ms = std::to_string(d.config_->consistency.writeQuorum.timeout.count());
    const std::array<std::string_view, 3> wait{"WAIT", n, ms};
    backends::appendCommand(encoded, wait);
    ++count;
  }
  // WAIT may take the whole quorum timeout: the deadline covers it, or a missed quorum would
  // surface as backend_timeout (outcome unknown) instead of quorum_not_reached.
  const auto deadline = d.config_->redis.commandTimeout +
                        (strong ? d.config_->consistency.writeQuorum.timeout : std::chrono::milliseconds{0});
  // ROLE after the write (and WAIT) gives a position at or after it: the token's.
  call(std::move(self), d.primary_, std::move(encoded), count, deadline, kRoleTrailer, /*countLatency=*/!strong,
       &DataRequest::onWriteReply);
}

void DataRequest::onWriteReply(Self& self, backends::ExecResult result) {
  setServed(primary_, std::chrono::milliseconds{0});
  if (!result.ok()) {
    backendFailure(result.error, primary_);
    return finish(std::move(self));
  }
  const auto replies = std::span<const RespValue>(result.replies).first(mainReplies_);
  const bool readonly = std::any_of(replies.begin(), replies.end(),
                                    [](const RespValue& r) { return r.isError() && r.str.starts_with("READONLY"); });
  if (readonly) {
    // The node was demoted before the write reached it: nothing was written (for a batch,
    // nothing from the refused command on).
    fail(ErrorCode::PrimaryUnavailable,
         "'" + topology_->primary().name + "' is no longer the primary (it refused the write with READONLY): " +
             (isBatch(spec_.op) ? std::string("the batch's writes were not done; read back before retrying")
                                : std::string("nothing was written; retry after Retry-After")));
    return finish(std::move(self));
  }
  // A batch's token covers all of it, whatever its commands answered.
  const bool applied = isBatch(spec_.op) || !replies.front().isError();
  // The ROLE pipelined after the write must name a master: a node that ran the write
  // while (or after) being demoted holds a write the new history does not contain.
  auto offset = backends::roleOffset(*result.trailer, true);
  if (!offset) {
    fail(ErrorCode::PrimaryUnavailable, "'" + topology_->primary().name +
                                            "' is no longer the primary; the write was refused or its outcome is "
                                            "unknown: read it back before retrying");
    return finish(std::move(self));
  }
  if (applied) issueToken(*offset, 0, /*fromPrimary=*/true);
  if (requiredAcks_ > 0 && applied) {
    const RespValue& acks = result.replies[mainReplies_];
    long long acked = acks.type == RespType::Integer ? acks.integer : 0;
    if (acked < requiredAcks_) {
      shared_.metrics->quorumFailures(toString(spec_.op)).Increment();
      fail(ErrorCode::QuorumNotReached,
           "the write was applied on the primary but only " + std::to_string(acked) + " of the required " +
               std::to_string(requiredAcks_) + " replicas acknowledged it in time; it may be lost if the primary fails",
           ",\"acked\":" + std::to_string(acked) + ",\"required\":" + std::to_string(requiredAcks_) +
               ",\"applied_on_primary\":true");
      return finish(std::move(self));
    }
  }
  respondWithReplies(replies);
  finish(std::move(self));
}

}  // namespace cx::proxy
