// The data endpoints (DESIGN §3): parse and validate a request, pick the policy and
// level, route it (routing::route), run it on a pipelined backend connection together
// with the commands that prove what was served (ROLE, WAIT), and build the response.
// This is the only place that maps errors to HTTP statuses and JSON bodies.
//
// Positions for session tokens come from a ROLE pipelined right after the command on the
// same connection: Redis runs one command at a time, so that ROLE reports an offset at
// least as high as the state the command read or wrote. Polled offsets are used only to
// choose a replica, never as the position of a read.
#include <boost/asio/as_tuple.hpp>
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

class DataRequest {
 public:
  DataRequest(Worker& worker, const Request& req, Response& res)
      : worker_(worker), shared_(worker.shared()), config_(worker.config()), req_(req), res_(res) {}

  // Parses and checks the request, picks the rule and level, takes the topology. False
  // when the response (an error) is already complete.
  bool prepare();
  // True when the session tokens (if any) hold against the topology snapshot alone;
  // otherwise validateSession() decides, asking Redis if need be.
  bool sessionSettledBySnapshot();
  asio::awaitable<bool> validateSession();
  asio::awaitable<void> serve() { return isWrite_ ? write() : read(); }
  void recordMetrics(Clock::time_point started);

 private:
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
  asio::awaitable<void> write();
  asio::awaitable<void> read();
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
  // exec()'s bookkeeping around Connection::execute, for the hot paths that await the
  // connection directly (one coroutine frame less per backend call).
  backends::Connection& beginCall(std::size_t index);
  void endCall(std::size_t index, const backends::ExecResult& result, Clock::duration elapsed, bool countLatency);
  // A replica's applied offset from INFO replication, for when ROLE says -1 (link down).
  asio::awaitable<std::optional<std::uint64_t>> replicaOffsetFromInfo(std::size_t index);
  void appendMainCommand(std::string& out) const;
  void respondWithReply(const RespValue& reply);

  Worker& worker_;
  SharedState& shared_;
  std::shared_ptr<const Config> config_;
  const Request& req_;
  Response& res_;

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

asio::awaitable<void> DataRequest::write() {
  std::string encoded;
  appendMainCommand(encoded);
  std::size_t count = 1;
  int required = 0;
  const bool strong = level_ == Level::Strong;
  if (strong) {
    required = quorumSize(config_->consistency.writeQuorum, config_->redis.replicas.size());
    const std::string n = std::to_string(required);
    const std::string ms = std::to_string(config_->consistency.writeQuorum.timeout.count());
    const std::array<std::string_view, 3> wait{"WAIT", n, ms};
    backends::appendCommand(encoded, wait);
    ++count;
  }
  // WAIT may take the whole quorum timeout: the deadline covers it, or a missed quorum would
  // surface as backend_timeout (outcome unknown) instead of quorum_not_reached.
  const auto deadline =
      config_->redis.commandTimeout + (strong ? config_->consistency.writeQuorum.timeout : std::chrono::milliseconds{0});
  // ROLE after the write (and WAIT) gives a position at or after it: the token's.
  auto& conn = beginCall(0);
  const auto started = Clock::now();
  auto result = co_await conn.execute(std::move(encoded), count, deadline, kRoleTrailer);
  endCall(0, result, Clock::now() - started, /*countLatency=*/!strong);
  setServed(0, std::chrono::milliseconds{0});
  if (!result.ok()) {
    backendFailure(result.error, 0);
    co_return;
  }
  const RespValue& reply = result.replies[0];
  auto offset = roleOffset(*result.trailer, true);
  if (!offset) {
    fail(503, "primary_unavailable",
         "'" + topology_->primary().name + "' is no longer the primary; the write was refused or its outcome is "
         "unknown: read it back before retrying");
    co_return;
  }
  if (!reply.isError()) issueToken(*offset, 0, /*fromPrimary=*/true);
  if (strong && !reply.isError()) {
    const RespValue& acks = result.replies[1];
    long long acked = acks.type == RespType::Integer ? acks.integer : 0;
    if (acked < required) {
      shared_.metrics->quorumFailures(kOpNames[static_cast<int>(op_)]).Increment();
      fail(504, "quorum_not_reached",
           "the write was applied on the primary but only " + std::to_string(acked) + " of the required " +
               std::to_string(required) + " replicas acknowledged it in time; it may be lost if the primary fails",
           ",\"acked\":" + std::to_string(acked) + ",\"required\":" + std::to_string(required) +
               ",\"applied_on_primary\":true");
      co_return;
    }
  }
  respondWithReply(reply);
}

// With its link down (the primary unreachable) a replica's ROLE reports offset -1, yet it
// still holds exactly the prefix it applied, and INFO's master_repl_offset says which.
// Asked after the read on the same node, it is at least the read's position, as long as
// the node is still a replica in the history the token is about (master_replid).
asio::awaitable<std::optional<std::uint64_t>> DataRequest::replicaOffsetFromInfo(std::size_t index) {
  static constexpr std::array<std::string_view, 2> kInfo{"INFO", "replication"};
  auto result = co_await exec(index, backends::encodeCommand(kInfo), 1);
  if (!result.ok() || !result.replies[0].isString()) co_return std::nullopt;
  bool replica = false;
  bool sameHistory = false;
  std::optional<std::uint64_t> offset;
  backends::forEachInfoField(result.replies[0].str, [&](std::string_view key, std::string_view value) {
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
  if (!replica || !sameHistory) co_return std::nullopt;
  co_return offset;
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

asio::awaitable<void> DataRequest::read() {
  routing::RouteRequest rr;
  rr.isWrite = false;
  rr.level = level_;
  rr.maxStaleness = maxStaleness_ ? *maxStaleness_
                                  : policy_->maxStaleness.value_or(config_->consistency.maxStaleness);
  rr.sessionOffset = session_.required();
  if (!tokens().empty() && currentReplid_ != topology_->primary().replid) {
    // The session is in a history the snapshot's replicas are not known to be in (the
    // primary changed history since the last poll): no replica can prove its position.
    rr.sessionOffset = std::numeric_limits<std::uint64_t>::max();
  }
  rr.onStale = policy_->onStale;

  auto decision = routing::route(rr, *topology_, worker_.pool().loads(), Clock::now(), worker_.pool().preference());
  if (level_ == Level::Session && decision.kind != routing::RouteKind::Replica &&
      decision.fallbackReason == "no_fresh_replica" && rr.sessionOffset != std::numeric_limits<std::uint64_t>::max()) {
    if (co_await trySessionOnLaggingReplica(rr)) co_return;
  }
  const bool toPrimary = decision.kind == routing::RouteKind::Primary || decision.kind == routing::RouteKind::Wait;
  if (toPrimary && policy_->downgradeEnabled && shared_.overloaded.load(std::memory_order_relaxed)) {
    // Load-driven downgrading (DESIGN §2): relax to the strongest level a replica can
    // serve now, never below the rule's floor, and say so. If none can, stay as asked.
    const auto now = Clock::now();
    if (auto relaxed = routing::relaxForLoad(rr, policy_->floor, *topology_, now)) {
      routing::RouteRequest relaxedRequest = rr;
      relaxedRequest.level = *relaxed;
      auto relaxedDecision = routing::route(relaxedRequest, *topology_, worker_.pool().loads(), now, worker_.pool().preference());
      if (relaxedDecision.kind == routing::RouteKind::Replica) {
        const auto from = toString(level_);
        const auto to = toString(*relaxed);
        res_.set("X-Consistency-Downgraded",
                 std::string(from) + "->" + std::string(to) + "; reason=primary_overloaded");
        shared_.metrics->downgrades(from, to, "primary_overloaded").Increment();
        level_ = *relaxed;
        rr = relaxedRequest;
        decision = relaxedDecision;
      }
    }
  }
  if (decision.kind == routing::RouteKind::Wait) {
    // on_stale: wait — look at newer snapshots until one qualifies or the time is up.
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto deadline = Clock::now() + config_->consistency.waitTimeout;
    while (decision.kind == routing::RouteKind::Wait && Clock::now() < deadline) {
      timer.expires_after(std::min<Clock::duration>(std::chrono::milliseconds(2), deadline - Clock::now()));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      topology_ = worker_.topology();
      decision = routing::route(rr, *topology_, worker_.pool().loads(), Clock::now(), worker_.pool().preference());
    }
    if (decision.kind == routing::RouteKind::Wait) {
      rr.onStale = routing::OnStale::Primary;
      decision = routing::route(rr, *topology_, worker_.pool().loads(), Clock::now(), worker_.pool().preference());
    }
  }
  switch (decision.kind) {
    case routing::RouteKind::NoFreshReplica:
      shared_.metrics->violations("no_fresh_replica").Increment();
      fail(503, "no_fresh_replica",
           std::string("no replica can serve this ") + std::string(toString(level_)) +
               " read right now and the rule says on_stale: error; retry later or ask for a weaker level");
      co_return;
    case routing::RouteKind::PrimaryUnavailable:
      fail(503, "primary_unavailable",
           std::string("no replica can serve this ") + std::string(toString(level_)) +
               " read and the Redis primary is not reachable; retry later or ask for a weaker level");
      co_return;
    default:
      break;
  }
  const bool needRole = level_ == Level::Strong || level_ == Level::Session;
  std::size_t target = decision.kind == routing::RouteKind::Replica ? decision.backend : 0;
  if (target == 0 && !decision.fallbackReason.empty()) {
    shared_.metrics->fallbacks("replica", "primary", decision.fallbackReason).Increment();
  }
  auto bound = decision.stalenessBound;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::string encoded;
    appendMainCommand(encoded);
    // ROLE after the read gives a position at or after what the read saw: the token's.
    auto& conn = beginCall(target);
    const auto started = Clock::now();
    auto result = co_await conn.execute(std::move(encoded), 1, config_->redis.commandTimeout,
                                        needRole ? kRoleTrailer : std::string_view{});
    endCall(target, result, Clock::now() - started, true);
    setServed(target, bound);
    if (!result.ok()) {
      if (target != 0 && level_ != Level::Strong) {
        // A replica failed mid-read: the primary can always serve a read.
        shared_.metrics->backendErrors(topology_->backends[target].name, backends::toString(result.error)).Increment();
        shared_.metrics->fallbacks("replica", "primary", "replica_error").Increment();
        target = 0;
        bound = std::chrono::milliseconds{0};
        continue;
      }
      backendFailure(result.error, target);
      co_return;
    }
    std::uint64_t readOffset = 0;
    if (needRole) {
      auto offset = roleOffset(*result.trailer, target == 0);
      if (!offset && target != 0) offset = co_await replicaOffsetFromInfo(target);
      if (offset && target != 0 && *offset < rr.sessionOffset) offset.reset();
      if (!offset) {
        if (target == 0) {
          fail(503, "primary_unavailable",
               "'" + topology_->primary().name + "' is no longer the primary; a " + std::string(toString(level_)) +
                   " read cannot be served; retry later");
          co_return;
        }
        // The replica changed role or lost its link: serve from the primary instead.
        shared_.metrics->fallbacks("replica", "primary", "replica_changed").Increment();
        target = 0;
        bound = std::chrono::milliseconds{0};
        continue;
      }
      readOffset = *offset;
    }
    issueToken(0, level_ == Level::Session || level_ == Level::Strong ? readOffset : 0, target == 0);
    respondWithReply(result.replies[0]);
    co_return;
  }
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

void DataRequest::recordMetrics(Clock::time_point started) {
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
  const auto elapsed = Clock::now() - started;
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

// One coroutine frame for the whole request: the request object lives in it, and the
// steps that need no I/O run as plain calls (each coroutine is a frame allocation).
asio::awaitable<void> Worker::handle(const Request& request, Response& response) {
  const auto started = Clock::now();
  DataRequest data(*this, request, response);
  if (data.prepare() && (data.sessionSettledBySnapshot() || co_await data.validateSession())) {
    co_await data.serve();
  }
  data.recordMetrics(started);
}

}  // namespace cx::proxy
