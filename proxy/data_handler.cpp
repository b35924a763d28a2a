// The data endpoints (README "HTTP API"): parse and validate a request, pick the policy and
// level, route it (routing::route), run it on a pipelined backend connection together
// with the commands that prove what was served (ROLE, WAIT), and build the response.
// This is the only place that maps errors to HTTP statuses and JSON bodies.
//
// Positions for session tokens come from a ROLE pipelined right after the command on the
// same connection: Redis runs one command at a time, so that ROLE reports an offset at
// least as high as the state the command read or wrote. Polled offsets are used only to
// choose a replica, never as the position of a read.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>
#include <limits>
#include <memory>
#include <span>

#include "backends/info.h"
#include "proxy/http_util.h"
#include "proxy/log.h"
#include "proxy/reply_json.h"
#include "proxy/worker.h"
#include "routing/router.h"
#include "routing/rules.h"

namespace cx::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
using backends::BackendError;
using backends::Clock;
using backends::RespType;
using backends::RespValue;
using routing::Level;

namespace {

enum class Op : std::uint8_t { Get, Put, Delete, Cmd };
constexpr std::string_view kOpNames[] = {"get", "put", "delete", "cmd"};

// Keys of Worker::MetricCache: a kind tag in the top byte, then small ids.
enum class CachedMetric : std::uint64_t { Requests = 1, RequestDuration, ReadStaleness, BackendOk, BackendDuration };
constexpr std::uint64_t metricKey(CachedMetric kind, std::uint64_t ids) {
  return static_cast<std::uint64_t>(kind) << 56 | ids;
}
// The child under `key`, made by `make` (a Metrics lookup) the first time.
template <typename T, typename Make>
T& cachedMetric(std::unordered_map<std::uint64_t, T*>& cache, std::uint64_t key, Make&& make) {
  auto [it, added] = cache.try_emplace(key, nullptr);
  if (added) it->second = &make();
  return *it->second;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Number of replica acknowledgements a strong write needs.
int quorumSize(const WriteQuorum& q, std::size_t replicas) {
  switch (q.kind) {
    case WriteQuorum::Kind::Count: return q.replicas;
    case WriteQuorum::Kind::Majority: return static_cast<int>((replicas + 1) / 2);
    case WriteQuorum::Kind::All: return static_cast<int>(replicas);
  }
  return q.replicas;
}

// First 16 hex digits of SHA-256(salt || key), the salt random per process.
std::string accessKeyHash(std::string_view key) {
  static const std::array<unsigned char, 16> salt = [] {
    std::array<unsigned char, 16> s{};
    RAND_bytes(s.data(), static_cast<int>(s.size()));
    return s;
  }();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, salt.data(), salt.size());
  EVP_DigestUpdate(ctx, key.data(), key.size());
  EVP_DigestFinal_ex(ctx, digest, &length);
  EVP_MD_CTX_free(ctx);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < 8 && i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

// The replication offset in a ROLE reply, when the node has the role wanted (a replica
// whose link is down reports -1: nullopt).
// ROLE, encoded: sent as a shared trailer after reads and writes that need a position.
constexpr std::string_view kRoleTrailer = "*1\r\n$4\r\nROLE\r\n";

std::optional<std::uint64_t> roleOffset(const RespValue& role, bool wantPrimary) {
  if (role.type != RespType::Array || role.elements.empty() || !role.elements[0].isString()) return std::nullopt;
  const auto& kind = role.elements[0].str;
  if (kind == "master") {
    if (!wantPrimary || role.elements.size() < 2 || role.elements[1].type != RespType::Integer) return std::nullopt;
    return static_cast<std::uint64_t>(std::max(0LL, role.elements[1].integer));
  }
  if (kind == "slave" && !wantPrimary && role.elements.size() >= 5 &&
      role.elements[4].type == RespType::Integer && role.elements[4].integer >= 0) {
    return static_cast<std::uint64_t>(role.elements[4].integer);
  }
  return std::nullopt;
}

// One data request, from its parsed HTTP request to its response. Not a coroutine: the
// common request runs synchronously up to its backend call and ends in that call's
// completion, so what it keeps while Redis answers is this object, not a stack of
// coroutine frames (at 1,024 connections the frames of the requests in flight no longer
// fit the CPU's cache, and resuming them when the replies came missed it). The
// rarer steps that wait more than once (asking the primary about a session token,
// asking a lagging replica, on_stale: wait) run as coroutines and then hand back.
//
// Ownership travels with the work: whoever holds the Self (a backend call's completion,
// one of those coroutines) owns the request, and passing it on is always the last thing
// a step does. finish() answers the client and frees the request.
class DataRequest {
 public:
  using Self = std::unique_ptr<DataRequest>;
  DataRequest(Worker& worker, const Request& req, Response& res, Responder done)
      : worker_(worker), shared_(worker.shared()), config_(worker.config()), req_(req), res_(res), done_(done),
        started_(Clock::now()) {}

  // Serves the request; its Responder is called when the response is complete.
  static void run(Self self);

 private:
  // What a backend call's completion continues with (see call()).
  using Step = void (DataRequest::*)(Self& self, backends::ExecResult result);

  // Parses and checks the request, picks the rule and level, takes the topology. False
  // when the response (an error) is already complete.
  bool prepare();
  // True when the session tokens (if any) hold against the topology snapshot alone;
  // otherwise validateSession() decides, asking Redis if need be.
  bool sessionSettledBySnapshot();
  asio::awaitable<bool> validateSession();
  static asio::awaitable<void> validateThenServe(Self self);
  static void serve(Self self);
  static void finish(Self self);
  // Runs `coroutine` (which owns the request) on the worker; if it throws before handing
  // the request on, the client gets a 500.
  void spawn(asio::awaitable<void> coroutine);
  void recordMetrics();
  // Runs `encoded` (`count` commands, then `trailer` if any) on backend `index`, then
  // `next` with the result; beginCall()/endCall() around it. `timeout` 0 means
  // redis.command_timeout.
  static void call(Self self, std::size_t index, std::string encoded, std::size_t count,
                   std::chrono::milliseconds timeout, std::string_view trailer, bool countLatency, Step next);
  // --- response helpers
  void fail(int status, std::string_view code, std::string_view message, std::string_view extra = {});
  void setServed(std::size_t backend, std::optional<std::chrono::milliseconds> bound);
  // fromPrimary: the positions were read on the primary, so they belong to the history of
  // that connection's server, which may be newer than the snapshot's.
  void issueToken(std::uint64_t writeOffset, std::uint64_t readOffset, bool fromPrimary = false);
  void backendFailure(BackendError error, std::size_t backend);

  bool parseTarget();
  bool parseHeaders();
  bool prepareCommand();
  // ROLE + INFO replication on the primary now; nullopt when it does not answer as primary.
  asio::awaitable<std::optional<backends::BackendStatus>> livePrimaryStatus();
  static void write(Self self);
  void onWriteReply(Self& self, backends::ExecResult result);
  // A read: route it (routeRead), then either decide at once or, for the steps that wait,
  // in readSlowly; then readDecided() sends it to its backend.
  static void read(Self self);
  void routeRead();
  // A session read no replica is known to qualify for, that a replica might serve.
  bool wantsLaggingReplica() const;
  // Load-driven downgrading (README "Rules") of a read headed for an overloaded primary.
  void relaxIfOverloaded();
  static asio::awaitable<void> readSlowly(Self self, bool askLaggingReplica);
  static void readDecided(Self self);
  static void readAttempt(Self self);
  void onReadReply(Self& self, backends::ExecResult result);
  void onReadInfo(Self& self, backends::ExecResult result);
  void afterReadOffset(Self& self, std::optional<std::uint64_t> offset);
  // A session read no replica is *known* to qualify for: the polled offsets lag the
  // replicas by up to one tracking interval, so ask one. True when it was served.
  asio::awaitable<bool> trySessionOnLaggingReplica(const routing::RouteRequest& request);
  // Runs `commands` (+ extra) on backend `index`; returns the replies or nullopt after
  // recording the failure.
  // `timeout` 0 means redis.command_timeout. Calls on the primary count towards its load
  // signals; `countLatency` false keeps a deliberately slow call (WAIT) out of the p99.
  // `trailer`: see Connection::execute; its reply comes back in ExecResult::trailer.
  asio::awaitable<backends::ExecResult> exec(std::size_t index, std::string encoded, std::size_t count,
                                             std::chrono::milliseconds timeout = {}, bool countLatency = true,
                                             std::string_view trailer = {});
  // The bookkeeping around a backend call (exec() and call()).
  backends::Connection& beginCall(std::size_t index);
  void endCall(std::size_t index, const backends::ExecResult& result, Clock::duration elapsed, bool countLatency);
  // A replica's applied offset from its INFO replication reply, for when ROLE says -1
  // (link down); nullopt unless it is still a replica in the request's history.
  std::optional<std::uint64_t> offsetFromInfo(const backends::ExecResult& info) const;
  void appendMainCommand(std::string& out) const;
  void respondWithReply(const RespValue& reply);

  Worker& worker_;
  SharedState& shared_;
  std::shared_ptr<const Config> config_;
  const Request& req_;
  Response& res_;
  Responder done_;
  Clock::time_point started_;

  Op op_ = Op::Get;
  std::string key_;
  std::string ttlText_;
  std::vector<std::string> argv_;
  std::vector<std::string_view> argvViews_;
  bool isWrite_ = false;
  std::string commandName_;  // upper case, /v1/cmd
  std::optional<Level> requested_;
  std::optional<std::chrono::milliseconds> maxStaleness_;
  session::VerifiedTokenCache::TokenList tokens_;  // null without a token header
  std::span<const session::SessionToken> tokens() const {
    return tokens_ ? std::span<const session::SessionToken>(*tokens_) : std::span<const session::SessionToken>();
  }
  std::string_view tokenHeader_;  // the client's X-Session-Token value, trimmed
  routing::SessionRequirement session_;
  const routing::Policy* policy_ = nullptr;
  Level level_ = Level::Session;
  std::shared_ptr<const backends::Topology> topology_;
  // The history the request's positions are in: a view into replidSnapshot_ (the
  // snapshot it was read from, kept even if topology_ moves on while waiting) or into
  // liveReplid_.
  std::string_view currentReplid_;
  std::shared_ptr<const backends::Topology> replidSnapshot_;
  std::string liveReplid_;  // the primary's history as asked for in this request
  std::string primaryReplid_;  // history of the primary connection that served us (handshake)

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

  // a write
  int requiredAcks_ = 0;  // strong: replicas that must acknowledge (WAIT)

  // for metrics
  std::string_view roleLabel_ = "none";
  bool served_ = false;
  std::size_t servedBackend_ = 0;
};

void DataRequest::fail(int status, std::string_view code, std::string_view message, std::string_view extra) {
  res_.result(static_cast<unsigned>(status));
  res_.set(http::field::content_type, "application/json");
  res_.body() = jsonError(code, message, extra);
  if (status == 503) res_.set(http::field::retry_after, "1");
}

void DataRequest::setServed(std::size_t backend, std::optional<std::chrono::milliseconds> bound) {
  const auto& b = topology_->backends[backend];
  served_ = true;
  servedBackend_ = backend;
  roleLabel_ = backend == 0 ? "primary" : "replica";
  res_.set("X-Consistency", toString(level_));
  res_.set("X-Served-By", b.name);
  res_.set("X-Served-Role", roleLabel_);
  if (bound) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, bound->count());
    (void)ec;
    res_.set("X-Staleness-Bound-Ms", std::string_view(buf, static_cast<std::size_t>(end - buf)));
    if (!isWrite_) {
      cachedMetric(worker_.metricCache().histograms,
                   metricKey(CachedMetric::ReadStaleness, static_cast<std::uint64_t>(level_)),
                   [&]() -> auto& { return shared_.metrics->readStaleness(toString(level_)); })
          .Observe(std::chrono::duration<double>(*bound).count());
    }
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
  if (const auto given = tokens(); given.size() == 1 && given[0].replid == replid && given[0].writeOffset == write &&
                                   given[0].readOffset == read) {
    res_.set("X-Session-Token", tokenHeader_);
    return;
  }
  // A write always gets a token: a primary without replicas yet reports offset 0, and the
  // token's history still matters.
  if (tokens().empty() && write == 0 && read == 0 && !isWrite_) return;
  // The same positions signed within the last second: the same text again, no HMAC.
  res_.set("X-Session-Token", worker_.recentTokens().encode(*shared_.keys, replid, write, read, Clock::now(),
                                                              std::chrono::milliseconds{1000}));
}

void DataRequest::backendFailure(BackendError error, std::size_t backend) {
  const auto& name = topology_->backends[backend].name;
  shared_.metrics->backendErrors(name, backends::toString(error)).Increment();
  const bool primary = backend == 0;
  switch (error) {
    case BackendError::Unavailable:
      if (primary) {
        fail(503, "primary_unavailable",
             "the Redis primary '" + name + "' is not reachable (" +
                 worker_.pool().pick(0).lastError() + "); nothing was executed, retry later");
      } else {
        fail(503, "no_fresh_replica", "replica '" + name + "' is not reachable; retry later");
      }
      return;
    case BackendError::Timeout:
      if (isWrite_) {
        fail(504, "backend_timeout",
             "'" + name + "' did not answer in time; the write's outcome is unknown (it may or may "
             "not have been applied): read it back before retrying");
      } else {
        fail(504, "backend_timeout", "'" + name + "' did not answer in time; the read can be retried");
      }
      return;
    case BackendError::ConnectionLost:
    case BackendError::Protocol:
    case BackendError::None:
      if (isWrite_) {
        fail(502, "backend_error",
             "the connection to '" + name + "' failed after the write was sent; its outcome is unknown: "
             "read it back before retrying");
      } else {
        fail(502, "backend_error", "the connection to '" + name + "' failed; the read can be retried");
      }
      return;
  }
}

bool DataRequest::parseTarget() {
  std::string_view target = req_.target();
  std::string_view path = target;
  std::string_view query;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
  const auto method = req_.method();
  if (path == "/v1/cmd") {
    if (method != http::verb::post) {
      res_.set(http::field::allow, "POST");
      fail(405, "method_not_allowed", "/v1/cmd takes POST with a JSON array body");
      return false;
    }
    op_ = Op::Cmd;
    return true;
  }
  constexpr std::string_view kKv = "/v1/kv/";
  if (path.substr(0, kKv.size()) != kKv) {
    fail(404, "not_found", "unknown path; the data API is /v1/kv/{key} and /v1/cmd");
    return false;
  }
  switch (method) {
    case http::verb::get: op_ = Op::Get; break;
    case http::verb::put: op_ = Op::Put; break;
    case http::verb::delete_: op_ = Op::Delete; break;
    default:
      res_.set(http::field::allow, "GET, PUT, DELETE");
      fail(405, "method_not_allowed", "/v1/kv/{key} takes GET, PUT or DELETE");
      return false;
  }
  isWrite_ = op_ != Op::Get;
  auto decoded = percentDecode(path.substr(kKv.size()));
  if (!decoded) {
    fail(400, "bad_request", "the key is not valid percent-encoding");
    return false;
  }
  key_ = std::move(*decoded);
  if (key_.empty()) {
    fail(400, "bad_request", "the key is empty");
    return false;
  }
  if (key_.size() > config_->limits.maxKeyBytes) {
    fail(400, "bad_request",
         "the key is " + std::to_string(key_.size()) + " bytes; the limit is " +
             std::to_string(config_->limits.maxKeyBytes) + " (limits.max_key_bytes)");
    return false;
  }
  if (auto ttl = queryParam(query, "ttl_ms")) {
    auto v = parseDecimal(*ttl);
    if (op_ != Op::Put || !v || *v == 0) {
      fail(400, "bad_request", "ttl_ms must be a positive whole number of milliseconds, on PUT only");
      return false;
    }
    ttlText_ = std::string(*ttl);
  }
  return true;
}

bool DataRequest::parseHeaders() {
  // One pass over the fields for the three this handler reads.
  std::optional<std::string_view> consistency;
  std::optional<std::string_view> staleness;
  std::optional<std::string_view> token;
  for (const auto& field : req_) {
    const std::string_view name = field.name_string();
    if (name.size() == 13 && beast::iequals(name, "X-Consistency")) {
      if (!consistency) consistency = field.value();
    } else if (name.size() == 15 && beast::iequals(name, "X-Max-Staleness")) {
      if (!staleness) staleness = field.value();
    } else if (name.size() == 15 && beast::iequals(name, "X-Session-Token")) {
      if (!token) token = field.value();
    }
  }
  if (consistency) {
    requested_ = routing::parseLevel(*consistency);
    if (!requested_) {
      fail(400, "invalid_consistency",
           "X-Consistency must be one of strong, linearizable, bounded, session, prefix, eventual");
      return false;
    }
  }
  if (staleness) {
    maxStaleness_ = parseStalenessHeader(*staleness);
    if (!maxStaleness_) {
      fail(400, "invalid_consistency", "X-Max-Staleness must be a duration such as 250ms, 2s, or a number of ms");
      return false;
    }
  }
  if (token) {
    auto& verified = worker_.verifiedTokens();
    if (auto known = verified.find(*token)) {
      tokens_ = std::move(known);  // these exact bytes verified before: same result, no HMAC
    } else {
      auto decoded = shared_.keys->decodeList(*token);
      if (decoded.error) {
        shared_.metrics->sessionTokensRejected(session::toString(*decoded.error)).Increment();
        fail(400, "invalid_session_token",
             std::string("the session token was refused (") + std::string(session::toString(*decoded.error)) +
                 "); send back a token this service issued, or none to start a new session");
        return false;
      }
      tokens_ = std::make_shared<const std::vector<session::SessionToken>>(std::move(decoded.tokens));
      verified.remember(*token, tokens_);
    }
    tokenHeader_ = *token;
    while (!tokenHeader_.empty() && (tokenHeader_.front() == ' ' || tokenHeader_.front() == '\t'))
      tokenHeader_.remove_prefix(1);
    while (!tokenHeader_.empty() && (tokenHeader_.back() == ' ' || tokenHeader_.back() == '\t'))
      tokenHeader_.remove_suffix(1);
  }
  return true;
}

bool DataRequest::prepareCommand() {
  if (auto err = parseCommandBody(req_.body(), argv_)) {
    fail(400, "bad_request", *err);
    return false;
  }
  argvViews_.assign(argv_.begin(), argv_.end());
  auto policy = shared_.commands.load(std::memory_order_acquire);
  if (!policy) {
    fail(503, "primary_unavailable", "the Redis command table has not been loaded yet; retry shortly");
    return false;
  }
  auto decision = policy->check(argvViews_);
  if (!decision.allowed()) {
    const int status = decision.verdict == backends::CommandVerdict::NotAllowed ? 403 : 400;
    fail(status, status == 403 ? "command_not_allowed" : "bad_request", backends::refusalMessage(decision, argvViews_));
    return false;
  }
  isWrite_ = decision.isWrite;
  commandName_ = upper(argv_[0]);
  if (auto k = backends::firstKey(*decision.command, argvViews_)) key_ = std::string(*k);
  return true;
}

asio::awaitable<std::optional<backends::BackendStatus>> DataRequest::livePrimaryStatus() {
  static constexpr std::array<std::string_view, 1> kRole{"ROLE"};
  static constexpr std::array<std::string_view, 2> kInfo{"INFO", "replication"};
  std::string request = backends::encodeCommand(kRole);
  backends::appendCommand(request, kInfo);
  auto result = co_await exec(0, std::move(request), 2);
  backends::BackendStatus status;
  if (!result.ok() || !backends::parsePollReplies(result.replies[0], result.replies[1], status) ||
      status.role != backends::NodeRole::Primary) {
    co_return std::nullopt;
  }
  co_return status;
}

asio::awaitable<bool> DataRequest::validateSession() {
  if (tokens().empty()) co_return true;
  const auto& primary = topology_->primary();
  session_ = routing::mergeTokens(tokens(), primary);
  using Status = routing::SessionRequirement::Status;
  if (session_.status == Status::HistoryLost || session_.status == Status::NoPrimaryState) {
    // The snapshot may predate a primary restart or promotion the token already knows
    // about (another instance, or our own write a moment ago): before refusing, ask the
    // primary which history it is in now.
    if (auto live = co_await livePrimaryStatus()) {
      session_ = routing::mergeTokens(tokens(), *live);
      if (session_.status != Status::HistoryLost) {
        liveReplid_ = live->replid;
        currentReplid_ = liveReplid_;
      }
    }
  }
  switch (session_.status) {
    case Status::Ok:
      co_return true;
    case Status::HistoryLost:
      shared_.metrics->violations("session_history_lost").Increment();
      fail(409, "session_history_lost",
           "the session token belongs to a replication history the current primary cannot vouch for "
           "(a failover or a primary restart lost writes); the session's guarantees cannot be kept: "
           "re-read what you need and continue without the token");
      co_return false;
    case Status::NoPrimaryState:
      fail(503, "primary_unavailable",
           "the Redis primary has not been reached yet, so the session token cannot be checked; retry later");
      co_return false;
    case Status::BeyondPrimary:
      break;
  }
  // A replica in the primary's history that has applied the position proves the primary
  // reached it (replicas only apply what the primary produced). This keeps sessions
  // served while the primary cannot answer the ROLE below (stopped, crashed).
  for (std::size_t i = 1; i < topology_->backends.size(); ++i) {
    const auto& b = topology_->backends[i];
    if (b.role == backends::NodeRole::Replica && !b.replid.empty() && b.replid == primary.replid &&
        b.offset >= session_.required()) {
      session_.status = Status::Ok;
      co_return true;
    }
  }
  // The polled offset may be behind: another instance sharing our keys may have issued
  // this token a moment ago. Ask the primary itself.
  static constexpr std::array<std::string_view, 1> kRole{"ROLE"};
  auto result = co_await exec(0, backends::encodeCommand(kRole), 1);
  const auto offset = result.ok() ? roleOffset(result.replies[0], /*wantPrimary=*/true) : std::nullopt;
  if (!offset) {
    fail(503, "primary_unavailable", "the Redis primary could not confirm the session token's position; retry later");
    co_return false;
  }
  if (*offset < session_.required()) {
    shared_.metrics->sessionTokensRejected("beyond_primary").Increment();
    fail(400, "invalid_session_token",
         "the session token names a position the primary has not reached; it is forged or from a lost "
         "history: continue without it");
    co_return false;
  }
  session_.status = Status::Ok;
  co_return true;
}

void DataRequest::run(Self self) {
  DataRequest& d = *self;
  if (!d.prepare()) return finish(std::move(self));
  if (!d.sessionSettledBySnapshot()) return d.spawn(validateThenServe(std::move(self)));
  serve(std::move(self));
}

asio::awaitable<void> DataRequest::validateThenServe(Self self) {
  // In a variable, not in the condition: GCC 12 built `if (!co_await ...)` here into a
  // frame whose first resumption hit an invalid state (SIGILL).
  const bool valid = co_await self->validateSession();
  if (!valid) {
    finish(std::move(self));
    co_return;
  }
  serve(std::move(self));
}

void DataRequest::serve(Self self) {
  if (self->isWrite_) return write(std::move(self));
  read(std::move(self));
}

void DataRequest::finish(Self self) {
  self->recordMetrics();
  self->done_();
}

void DataRequest::spawn(asio::awaitable<void> coroutine) {
  asio::co_spawn(worker_.io(), std::move(coroutine), [done = done_, &res = res_](std::exception_ptr e) {
    if (!e) return;
    // The coroutine owned the request and ended by throwing before passing it on: a bug
    // (errors here are values), answered so the client does not wait forever.
    log(LogLevel::Error, "handler_exception", {{"listener", "data"}});
    res.clear();
    res.result(http::status::internal_server_error);
    res.set(http::field::content_type, "application/json");
    res.body() = jsonError("internal_error", "the request failed unexpectedly");
    done();
  });
}

void DataRequest::call(Self self, std::size_t index, std::string encoded, std::size_t count,
                       std::chrono::milliseconds timeout, std::string_view trailer, bool countLatency, Step next) {
  DataRequest& d = *self;
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
                  // A bug (errors here are values). If the step still owned the request,
                  // the client gets a 500 rather than waiting forever.
                  log(LogLevel::Error, "handler_exception", {{"listener", "data"}});
                  if (self) {
                    self->fail(500, "internal_error", "the request failed unexpectedly");
                    finish(std::move(self));
                  }
                }
              });
}

void DataRequest::appendMainCommand(std::string& out) const {
  switch (op_) {
    case Op::Get: {
      const std::array<std::string_view, 2> argv{"GET", key_};
      backends::appendCommand(out, argv);
      break;
    }
    case Op::Put: {
      if (ttlText_.empty()) {
        const std::array<std::string_view, 3> argv{"SET", key_, req_.body()};
        backends::appendCommand(out, argv);
      } else {
        const std::array<std::string_view, 5> argv{"SET", key_, req_.body(), "PX", ttlText_};
        backends::appendCommand(out, argv);
      }
      break;
    }
    case Op::Delete: {
      const std::array<std::string_view, 2> argv{"DEL", key_};
      backends::appendCommand(out, argv);
      break;
    }
    case Op::Cmd:
      backends::appendCommand(out, argvViews_);
      break;
  }
}

backends::Connection& DataRequest::beginCall(std::size_t index) {
  auto& conn = worker_.pool().pick(index);
  if (index == 0 && !conn.replid().empty()) primaryReplid_ = conn.replid();
  // The primary's latency, errors and in-flight count drive the load controller.
  shared_.inFlight.add(worker_.index(), index);
  return conn;
}

void DataRequest::endCall(std::size_t index, const backends::ExecResult& result, Clock::duration elapsed,
                          bool countLatency) {
  shared_.inFlight.remove(worker_.index(), index);
  const auto& name = topology_->backends[index].name;
  auto& cache = worker_.metricCache();
  if (result.ok()) {
    cachedMetric(cache.counters, metricKey(CachedMetric::BackendOk, index),
                 [&]() -> auto& { return shared_.metrics->backendRequests(name, "ok"); })
        .Increment();
  } else {
    shared_.metrics->backendRequests(name, backends::toString(result.error)).Increment();
  }
  cachedMetric(cache.histograms, metricKey(CachedMetric::BackendDuration, index),
               [&]() -> auto& { return shared_.metrics->backendRequestDuration(name); })
      .Observe(std::chrono::duration<double>(elapsed).count());
  if (index == 0 && (countLatency || !result.ok())) {
    shared_.primaryLatency.record(std::chrono::duration_cast<std::chrono::microseconds>(elapsed), !result.ok());
  }
}

asio::awaitable<backends::ExecResult> DataRequest::exec(std::size_t index, std::string encoded,
                                                        std::size_t count, std::chrono::milliseconds timeout,
                                                        bool countLatency, std::string_view trailer) {
  auto& conn = beginCall(index);
  const auto started = Clock::now();
  auto result = co_await conn.execute(std::move(encoded), count,
                                      timeout.count() == 0 ? config_->redis.commandTimeout : timeout, trailer);
  endCall(index, result, Clock::now() - started, countLatency);
  co_return result;
}

void DataRequest::respondWithReply(const RespValue& reply) {
  if (reply.isError()) {
    res_.result(http::status::bad_request);
    res_.set(http::field::content_type, "application/json");
    res_.body() = jsonError("redis_error", reply.str);
    return;
  }
  switch (op_) {
    case Op::Get:
      if (reply.isNil()) {
        fail(404, "not_found", "no value is stored under this key");
        return;
      }
      res_.result(http::status::ok);
      res_.set(http::field::content_type, "application/octet-stream");
      res_.body() = reply.str;
      return;
    case Op::Put:
      res_.result(http::status::no_content);
      return;
    case Op::Delete:
      if (reply.type == RespType::Integer && reply.integer == 0) {
        fail(404, "not_found", "no value was stored under this key");
        return;
      }
      res_.result(http::status::no_content);
      return;
    case Op::Cmd: {
      res_.result(http::status::ok);
      res_.set(http::field::content_type, "application/json");
      std::string body = "{\"result\":";
      appendReplyJson(body, reply);
      body.push_back('}');
      res_.body() = std::move(body);
      return;
    }
  }
}

void DataRequest::write(Self self) {
  DataRequest& d = *self;
  std::string encoded;
  d.appendMainCommand(encoded);
  std::size_t count = 1;
  const bool strong = d.level_ == Level::Strong;
  if (strong) {
    d.requiredAcks_ = quorumSize(d.config_->consistency.writeQuorum, d.config_->redis.replicas.size());
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
  call(std::move(self), 0, std::move(encoded), count, deadline, kRoleTrailer, /*countLatency=*/!strong,
       &DataRequest::onWriteReply);
}

void DataRequest::onWriteReply(Self& self, backends::ExecResult result) {
  setServed(0, std::chrono::milliseconds{0});
  if (!result.ok()) {
    backendFailure(result.error, 0);
    return finish(std::move(self));
  }
  const RespValue& reply = result.replies[0];
  auto offset = roleOffset(*result.trailer, true);
  if (!offset) {
    fail(503, "primary_unavailable",
         "'" + topology_->primary().name + "' is no longer the primary; the write was refused or its outcome is "
         "unknown: read it back before retrying");
    return finish(std::move(self));
  }
  if (!reply.isError()) issueToken(*offset, 0, /*fromPrimary=*/true);
  if (level_ == Level::Strong && !reply.isError()) {
    const RespValue& acks = result.replies[1];
    long long acked = acks.type == RespType::Integer ? acks.integer : 0;
    if (acked < requiredAcks_) {
      shared_.metrics->quorumFailures(kOpNames[static_cast<int>(op_)]).Increment();
      fail(504, "quorum_not_reached",
           "the write was applied on the primary but only " + std::to_string(acked) + " of the required " +
               std::to_string(requiredAcks_) +
               " replicas acknowledged it in time; it may be lost if the primary fails",
           ",\"acked\":" + std::to_string(acked) + ",\"required\":" + std::to_string(requiredAcks_) +
               ",\"applied_on_primary\":true");
      return finish(std::move(self));
    }
  }
  respondWithReply(reply);
  finish(std::move(self));
}

// With its link down (the primary unreachable) a replica's ROLE reports offset -1, yet it
// still holds exactly the prefix it applied, and INFO's master_repl_offset says which.
// Asked after the read on the same node, it is at least the read's position, as long as
// the node is still a replica in the history the token is about (master_replid).
std::optional<std::uint64_t> DataRequest::offsetFromInfo(const backends::ExecResult& info) const {
  if (!info.ok() || !info.replies[0].isString()) return std::nullopt;
  bool replica = false;
  bool sameHistory = false;
  std::optional<std::uint64_t> offset;
  backends::forEachInfoField(info.replies[0].str, [&](std::string_view key, std::string_view value) {
    if (key == "role") {
      replica = value == "slave";
    } else if (key == "master_replid") {
      sameHistory = !currentReplid_.empty() && value == currentReplid_;
    } else if (key == "master_repl_offset") {
      std::uint64_t v = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec == std::errc{} && end == value.data() + value.size()) offset = v;
    }
  });
  if (!replica || !sameHistory) return std::nullopt;
  return offset;
}

// ROLE, the read, ROLE — pipelined on one connection, so Redis runs them back to back. The
// first ROLE proves the replica had applied the session's position *before* the read (a
// replica's offset only grows), the second gives the position the read may have seen,
// for the token. A ROLE after the read alone could not prove the first.
asio::awaitable<bool> DataRequest::trySessionOnLaggingReplica(const routing::RouteRequest& request) {
  static constexpr std::array<std::string_view, 1> kRole{"ROLE"};
  routing::RouteRequest anyTracked = request;
  anyTracked.level = Level::Prefix;
  auto candidate = routing::route(anyTracked, *topology_, worker_.pool().loads(), Clock::now(), worker_.pool().preference());
  if (candidate.kind != routing::RouteKind::Replica) co_return false;
  const std::size_t target = candidate.backend;
  std::string encoded;
  backends::appendCommand(encoded, kRole);
  appendMainCommand(encoded);
  backends::appendCommand(encoded, kRole);
  auto result = co_await exec(target, std::move(encoded), 3);
  if (!result.ok()) co_return false;
  auto before = roleOffset(result.replies[0], false);
  auto after = roleOffset(result.replies[2], false);
  if (!before || !after || *before < request.sessionOffset) co_return false;  // counted as no_fresh_replica
  setServed(target, topology_->stalenessBound(target, Clock::now()));
  issueToken(0, *after);
  respondWithReply(result.replies[1]);
  co_return true;
}

void DataRequest::routeRead() {
  rr_.isWrite = false;
  rr_.level = level_;
  rr_.maxStaleness = maxStaleness_ ? *maxStaleness_
                                   : policy_->maxStaleness.value_or(config_->consistency.maxStaleness);
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
  if (!toPrimary || !policy_->downgradeEnabled || !shared_.overloaded.load(std::memory_order_relaxed)) return;
  // Relax to the strongest level a replica can serve now, never below the rule's floor,
  // and say so. If none can, stay as asked.
  const auto now = Clock::now();
  auto relaxed = routing::relaxForLoad(rr_, policy_->floor, *topology_, now);
  if (!relaxed) return;
  routing::RouteRequest relaxedRequest = rr_;
  relaxedRequest.level = *relaxed;
  auto relaxedDecision = routing::route(relaxedRequest, *topology_, worker_.pool().loads(), now, worker_.pool().preference());
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
      d.decision_ = routing::route(d.rr_, *d.topology_, d.worker_.pool().loads(), Clock::now(),
                                   d.worker_.pool().preference());
    }
    if (d.decision_.kind == routing::RouteKind::Wait) {
      d.rr_.onStale = routing::OnStale::Primary;
      d.decision_ = routing::route(d.rr_, *d.topology_, d.worker_.pool().loads(), Clock::now(),
                                   d.worker_.pool().preference());
    }
  }
  readDecided(std::move(self));
}

void DataRequest::readDecided(Self self) {
  DataRequest& d = *self;
  switch (d.decision_.kind) {
    case routing::RouteKind::NoFreshReplica:
      d.shared_.metrics->violations("no_fresh_replica").Increment();
      d.fail(503, "no_fresh_replica",
             std::string("no replica can serve this ") + std::string(toString(d.level_)) +
                 " read right now and the rule says on_stale: error; retry later or ask for a weaker level");
      return finish(std::move(self));
    case routing::RouteKind::PrimaryUnavailable:
      d.fail(503, "primary_unavailable",
             std::string("no replica can serve this ") + std::string(toString(d.level_)) +
                 " read and the Redis primary is not reachable; retry later or ask for a weaker level");
      return finish(std::move(self));
    default:
      break;
  }
  d.needRole_ = d.level_ == Level::Strong || d.level_ == Level::Session;
  d.target_ = d.decision_.kind == routing::RouteKind::Replica ? d.decision_.backend : 0;
  if (d.target_ == 0 && !d.decision_.fallbackReason.empty()) {
    d.shared_.metrics->fallbacks("replica", "primary", d.decision_.fallbackReason).Increment();
  }
  d.bound_ = d.decision_.stalenessBound;
  readAttempt(std::move(self));
}

// On target_; a replica that fails is followed by one attempt on the primary.
void DataRequest::readAttempt(Self self) {
  DataRequest& d = *self;
  std::string encoded;
  d.appendMainCommand(encoded);
  // ROLE after the read gives a position at or after what the read saw: the token's.
  call(std::move(self), d.target_, std::move(encoded), 1, {}, d.needRole_ ? kRoleTrailer : std::string_view{},
       /*countLatency=*/true, &DataRequest::onReadReply);
}

void DataRequest::onReadReply(Self& self, backends::ExecResult result) {
  setServed(target_, bound_);
  if (!result.ok()) {
    if (target_ != 0 && level_ != Level::Strong) {
      // A replica failed mid-read: the primary can always serve a read.
      shared_.metrics->backendErrors(topology_->backends[target_].name, backends::toString(result.error)).Increment();
      shared_.metrics->fallbacks("replica", "primary", "replica_error").Increment();
      target_ = 0;
      bound_ = std::chrono::milliseconds{0};
      return readAttempt(std::move(self));
    }
    backendFailure(result.error, target_);
    return finish(std::move(self));
  }
  readResult_ = std::move(result);
  if (!needRole_) return afterReadOffset(self, 0);
  auto offset = roleOffset(*readResult_.trailer, target_ == 0);
  if (!offset && target_ != 0) {
    static constexpr std::array<std::string_view, 2> kInfo{"INFO", "replication"};
    return call(std::move(self), target_, backends::encodeCommand(kInfo), 1, {}, {}, /*countLatency=*/true,
                &DataRequest::onReadInfo);
  }
  afterReadOffset(self, offset);
}

void DataRequest::onReadInfo(Self& self, backends::ExecResult result) { afterReadOffset(self, offsetFromInfo(result)); }

void DataRequest::afterReadOffset(Self& self, std::optional<std::uint64_t> offset) {
  if (needRole_) {
    if (offset && target_ != 0 && *offset < rr_.sessionOffset) offset.reset();
    if (!offset) {
      if (target_ == 0) {
        fail(503, "primary_unavailable",
             "'" + topology_->primary().name + "' is no longer the primary; a " + std::string(toString(level_)) +
                 " read cannot be served; retry later");
        return finish(std::move(self));
      }
      // The replica changed role or lost its link: serve from the primary instead.
      shared_.metrics->fallbacks("replica", "primary", "replica_changed").Increment();
      target_ = 0;
      bound_ = std::chrono::milliseconds{0};
      return readAttempt(std::move(self));
    }
  }
  const std::uint64_t readOffset = offset.value_or(0);
  issueToken(0, level_ == Level::Session || level_ == Level::Strong ? readOffset : 0, target_ == 0);
  respondWithReply(readResult_.replies[0]);
  finish(std::move(self));
}

bool DataRequest::prepare() {
  if (!parseTarget() || !parseHeaders()) return false;
  if (op_ == Op::Cmd && !prepareCommand()) return false;
  const auto& consistency = config_->consistency;
  std::string_view method = req_.method_string();
  const routing::Rule* rule = routing::matchRule(consistency.rules, key_, method, commandName_, isWrite_);
  policy_ = rule ? &rule->policy : &consistency.defaultPolicy;
  res_.set("X-Consistency-Rule", rule ? std::string_view(rule->name) : std::string_view("default"));
  auto choice = routing::chooseLevel(*policy_, requested_);
  level_ = choice.level;
  if (choice.headerOverridden) {
    // override: stronger/none kept the rule's level: say so rather than serve silently.
    res_.set("X-Consistency-Overridden", std::string(toString(*requested_)) + "->" + std::string(toString(level_)) +
                                             "; rule=" + (rule ? rule->name : std::string("default")));
  }

  topology_ = worker_.topology();
  replidSnapshot_ = topology_;
  currentReplid_ = topology_->primary().replid;
  if (currentReplid_.empty()) {
    for (const auto& b : topology_->backends) {
      if (!b.replid.empty()) {
        currentReplid_ = b.replid;
        break;
      }
    }
  }
  return true;
}

bool DataRequest::sessionSettledBySnapshot() {
  if (tokens().empty()) return true;
  session_ = routing::mergeTokens(tokens(), topology_->primary());
  return session_.status == routing::SessionRequirement::Status::Ok;
}

void DataRequest::recordMetrics() {
  auto& m = *shared_.metrics;
  std::string_view op = kOpNames[static_cast<int>(op_)];
  std::string_view requested = requested_ ? toString(*requested_) : std::string_view("default");
  std::string_view served = served_ ? toString(level_) : std::string_view("none");
  // Small ids for the cache key: op, requested (+1, 0 = default), served (+1, 0 = none),
  // role (0 none, 1 primary, 2 replica) and the status code.
  const std::uint64_t opId = static_cast<std::uint64_t>(op_);
  const std::uint64_t roleId = !served_ ? 0 : servedBackend_ == 0 ? 1 : 2;  // as roleLabel_
  const std::uint64_t requestedId = requested_ ? static_cast<std::uint64_t>(*requested_) + 1 : 0;
  const std::uint64_t servedId = served_ ? static_cast<std::uint64_t>(level_) + 1 : 0;
  auto& cache = worker_.metricCache();
  const std::uint64_t ids = opId << 40 | requestedId << 32 | servedId << 24 | roleId << 16 | res_.result_int();
  cachedMetric(cache.counters, metricKey(CachedMetric::Requests, ids),
               [&]() -> auto& { return m.requests(op, requested, served, roleLabel_, static_cast<int>(res_.result_int())); })
      .Increment();
  const auto elapsed = Clock::now() - started_;
  cachedMetric(cache.histograms, metricKey(CachedMetric::RequestDuration, opId << 8 | roleId),
               [&]() -> auto& { return m.requestDuration(op, roleLabel_); })
      .Observe(std::chrono::duration<double>(elapsed).count());
  if (!config_->log.access) return;
  // Access log (log.access): never the key itself, only a salted hash of it, so lines can
  // be correlated within one process's life without exposing keys.
  const std::string_view backend =
      served_ && servedBackend_ < topology_->backends.size() ? std::string_view(topology_->backends[servedBackend_].name)
                                                             : std::string_view("-");
  log(LogLevel::Info, "access",
      {{"method", req_.method_string()},
       {"op", op},
       {"key_hash", key_.empty() ? std::string("-") : accessKeyHash(key_)},
       {"requested", requested},
       {"served", served},
       {"backend", backend},
       {"role", roleLabel_},
       {"status", std::to_string(res_.result_int())},
       {"duration_us", std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count())}});
}

}  // namespace

void Worker::handle(const Request& request, Response& response, Responder done) {
  DataRequest::run(std::make_unique<DataRequest>(*this, request, response, done));
}

}  // namespace cx::proxy
