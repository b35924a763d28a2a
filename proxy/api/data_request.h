// One data request's state machine (README "HTTP API"): from a parsed request to its
// response, through the rule and level choice, the session check, routing
// (routing::route) and the backend calls that serve it and prove what was served.
//
// Not a coroutine: the common request runs synchronously up to its backend call and ends
// in that call's completion, so what it keeps while Redis answers is this object, not a
// stack of coroutine frames. The rarer steps that wait more than once (asking the
// primary about a session token, asking a lagging replica, on_stale: wait) run as
// coroutines and then hand back.
//
// Ownership travels with the work: whoever holds the Self (a backend call's completion,
// one of those coroutines) owns the request, and passing it on is always the last thing
// a step does. finish() answers the client and frees the request.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "backends/connection.h"
#include "backends/resp.h"
#include "backends/topology.h"
#include "proxy/api/auth.h"
#include "proxy/api/batch.h"
#include "proxy/api/read_audit.h"
#include "proxy/api/request_metrics.h"
#include "proxy/api/request_parse.h"
#include "proxy/api/session_check.h"
#include "proxy/app/worker.h"
#include "proxy/http/errors.h"
#include "routing/router.h"

namespace cx::proxy {

class DataRequest {
 public:
  using Self = std::unique_ptr<DataRequest>;
  DataRequest(Worker& worker, const Request& req, Response& res, Responder done);

  // Serves the request; its Responder is called when the response is complete.
  static void run(Self self);

 private:
  using Clock = backends::Clock;
  // What a backend call's completion continues with (see call()).
  using Step = void (DataRequest::*)(Self& self, backends::ExecResult result);

  // Parses and checks the request, picks the rule and level, takes the topology. False
  // when the response (an error) is already complete.
  bool prepare();
  // True when the session tokens (if any) hold against the topology snapshot alone;
  // otherwise checkSession() decides, asking Redis if need be.
  bool sessionSettledBySnapshot();
  static boost::asio::awaitable<void> validateThenServe(Self self);
  // Takes `topology` as the request's snapshot: its primary slot and history.
  void adoptTopology(std::shared_ptr<const backends::Topology> topology);
  // Sentinel mode, no confirmed primary: wait up to redis.failover_wait (see .cpp).
  static boost::asio::awaitable<void> waitForPrimary(Self self);
  // 503 primary_unavailable for a request that needs the primary.
  void primaryUnavailable();
  // Replicas known now (strong writes' majority/all quorum): static mode, the configured ones.
  std::size_t replicaCount() const;
  static void serve(Self self);
  static void finish(Self self);
  // Runs `coroutine` (which owns the request) on the worker; if it throws before handing
  // the request on, the client gets a 500.
  void spawn(boost::asio::awaitable<void> coroutine);
  void recordMetrics();
  // Runs `encoded` (`count` commands, then `trailer` if any) on backend `index`, then
  // `next` with the result; beginCall()/endCall() around it. `timeout` 0 means
  // redis.command_timeout.
  static void call(Self self, std::size_t index, std::string encoded, std::size_t count,
                   std::chrono::milliseconds timeout, std::string_view trailer, bool countLatency, Step next);
  // Runs `encoded` on backend `index` from a coroutine. `timeout` 0 means
  // redis.command_timeout. Calls on the primary count towards its load signals;
  // `countLatency` false keeps a deliberately slow call (WAIT) out of the p99.
  // `trailer`: see Connection::execute; its reply comes back in ExecResult::trailer.
  boost::asio::awaitable<backends::ExecResult> exec(std::size_t index, std::string encoded, std::size_t count,
                                                    std::chrono::milliseconds timeout = {}, bool countLatency = true,
                                                    std::string_view trailer = {});
  // The bookkeeping around a backend call (exec() and call()).
  backends::Connection& beginCall(std::size_t index);
  void endCall(std::size_t index, const backends::ExecResult& result, Clock::duration elapsed, bool countLatency);

  // --- responses
  // In the protocol's shape: native, or Upstash's (errors.h).
  void fail(const ApiError& error) {
    if (upstash_) return setUpstashError(res_, error);
    setError(res_, error);
  }
  void fail(ErrorCode code, std::string_view message, std::string_view extra = {}) {
    fail(ApiError{code, std::string(message), std::string(extra), {}});
  }
  void setServed(std::size_t backend, std::optional<std::chrono::milliseconds> bound);
  // fromPrimary: the positions were read on the primary, so they belong to the history of
  // that connection's server, which may be newer than the snapshot's.
  void issueToken(std::uint64_t writeOffset, std::uint64_t readOffset, bool fromPrimary = false);
  void backendFailure(backends::BackendError error, std::size_t backend);
  // The request's own commands (a batch: all of them, a transaction with MULTI and EXEC),
  // mainReplies_ replies.
  void appendMainCommand(std::string& out) const;
  // `replies`: the mainReplies_ replies of appendMainCommand()'s commands.
  void respondWithReplies(std::span<const backends::RespValue> replies);
  // Rewrites scripts for Redis (scripts.h): Upstash's shebang flag removed, EVALSHA of a
  // script that had it pointed at the script Redis has.
  void rewriteScripts(Argv& argv);

  // --- a write
  static void write(Self self);
  void onWriteReply(Self& self, backends::ExecResult result);

  // --- a read: route it (routeRead), then either decide at once or, for the steps that
  // wait, in readSlowly; then readDecided() sends it to its backend.
  static void read(Self self);
  void routeRead();
  // A session read no replica is known to qualify for, that a replica might serve.
  bool wantsLaggingReplica() const;
  // Load-driven downgrading (README "Rules") of a read headed for an overloaded primary.
  void relaxIfOverloaded();
  static boost::asio::awaitable<void> readSlowly(Self self, bool askLaggingReplica);
  static void readDecided(Self self);
  static void readAttempt(Self self);
  void onReadReply(Self& self, backends::ExecResult result);
  void onReadInfo(Self& self, backends::ExecResult result);
  void afterReadOffset(Self& self, std::optional<std::uint64_t> offset);
  // The read audit (proxy/api/read_audit.h): whether to audit this read (one random
  // draw, then a slot), and what the audit gets once the response is queued.
  void planAudit();
  std::optional<AuditedRead> takeAudit();
  // A session read no replica is *known* to qualify for: the polled offsets lag the
  // replicas by up to one tracking interval, so ask one. True when it was served.
  boost::asio::awaitable<bool> trySessionOnLaggingReplica(const routing::RouteRequest& request);

  std::span<const session::SessionToken> tokens() const {
    return tokens_ ? std::span<const session::SessionToken>(*tokens_) : std::span<const session::SessionToken>();
  }

  Worker& worker_;
  SharedState& shared_;
  std::shared_ptr<const Config> config_;
  const Request& req_;
  Response& res_;
  Responder done_;
  Clock::time_point started_;

  DataRequestSpec spec_;  // what parseDataRequest() made of the request
  // Who is asking (bearer tokens, README "Security"); its name points into apiTokens_.
  std::shared_ptr<const ApiTokens> apiTokens_;
  AuthResult auth_;
  bool upstash_ = false;                     // Upstash's protocol (known before spec_ is parsed)
  std::vector<std::string_view> argvViews_;  // isCommand(): views of spec_.argv
  BatchPlan plan_;                           // isBatch(): views into spec_.batch
  BatchPolicy batchPolicy_;                  // isBatch(): its one consistency decision
  routing::Policy upstashDefault_;           // Upstash: consistency.default at level session
  std::size_t mainReplies_ = 1;              // replies to appendMainCommand()'s commands
  TokenList tokens_;                         // null without a token header
  routing::SessionRequirement session_;
  const routing::Policy* policy_ = nullptr;
  routing::Level level_ = routing::Level::Session;
  std::shared_ptr<const backends::Topology> topology_;
  std::size_t primary_ = 0;  // topology_->primaryIndex (kNoPrimary: none known)
  bool waitedForPrimary_ = false;
  // The history the request's positions are in: a view into replidSnapshot_ (the
  // snapshot it was read from, kept even if topology_ moves on while waiting) or into
  // liveReplid_.
  std::string_view currentReplid_;
  std::shared_ptr<const backends::Topology> replidSnapshot_;
  std::string liveReplid_;                          // the primary's history as asked for in this request
  std::string primaryReplid_;                       // history of the primary connection that served us (handshake)
  backends::Connection* callConnection_ = nullptr;  // of the call in flight (pool-owned)

  // the backend call in flight (call())
  std::size_t callIndex_ = 0;
  Clock::time_point callStarted_;
  bool callCountsLatency_ = true;

  // a read (read() and its steps)
  routing::RouteRequest rr_;
  routing::RouteDecision decision_;
  std::size_t target_ = 0;
  std::optional<std::chrono::milliseconds> bound_;
  bool needRole_ = false;
  backends::ExecResult readResult_;  // kept while INFO asks the replica its offset
  std::size_t mainReply_ = 0;        // the read's reply in readResult_ (1 after an audit's ROLE)

  // the read audit
  enum class AuditKind : std::uint8_t { None, ReplicaRead, StrongRead };
  AuditKind audit_ = AuditKind::None;
  AuditSlot auditSlot_;
  std::string_view ruleName_ = "default";  // into config_

  // a write
  int requiredAcks_ = 0;  // strong: replicas that must acknowledge (WAIT)

  // for metrics
  ServedRole role_ = ServedRole::None;
  std::size_t servedBackend_ = 0;
};

}  // namespace cx::proxy
