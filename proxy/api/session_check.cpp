// Session token checks (see session_check.h).
#include "proxy/api/session_check.h"

#include <array>
#include <memory>
#include <vector>

#include "backends/replication_info.h"
#include "backends/resp.h"

namespace cx::proxy {

namespace {

using Status = routing::SessionRequirement::Status;

// ROLE + INFO replication on the primary now; nullopt when it does not answer as primary.
boost::asio::awaitable<std::optional<backends::BackendStatus>> livePrimaryStatus(const AskPrimary& ask) {
  static constexpr std::array<std::string_view, 1> kRole{"ROLE"};
  static constexpr std::array<std::string_view, 2> kInfo{"INFO", "replication"};
  std::string request = backends::encodeCommand(kRole);
  backends::appendCommand(request, kInfo);
  auto result = co_await ask(std::move(request), 2);
  backends::BackendStatus status;
  if (!result.ok() || !backends::parsePollReplies(result.replies[0], result.replies[1], status) ||
      status.role != backends::NodeRole::Primary) {
    co_return std::nullopt;
  }
  co_return status;
}

}  // namespace

std::variant<TokenList, ApiError> verifySessionTokens(std::string_view header, const session::KeyRing& keys,
                                                      session::VerifiedTokenCache& cache, metrics::Metrics& metrics) {
  if (auto known = cache.find(header)) return known;  // these exact bytes verified before: same result, no HMAC
  auto decoded = keys.decodeList(header);
  if (decoded.error) {
    metrics.sessionTokensRejected(session::toString(*decoded.error)).Increment();
    return ApiError{ErrorCode::InvalidSessionToken,
                    std::string("the session token was refused (") + std::string(session::toString(*decoded.error)) +
                        "); send back a token this service issued, or none to start a new session",
                    {},
                    {}};
  }
  auto tokens = std::make_shared<const std::vector<session::SessionToken>>(std::move(decoded.tokens));
  cache.remember(header, tokens);
  return tokens;
}

boost::asio::awaitable<SessionCheck> checkSession(std::span<const session::SessionToken> tokens,
                                                  const backends::Topology& topology, metrics::Metrics& metrics,
                                                  AskPrimary askPrimary) {
  SessionCheck check;
  if (tokens.empty()) co_return check;
  const auto& primary = topology.primary();
  check.session = routing::mergeTokens(tokens, primary, topology.lineage);
  auto& session = check.session;
  if (session.status == Status::HistoryLost || session.status == Status::NoPrimaryState) {
    // The snapshot may predate a primary restart or promotion the token already knows
    // about (another instance, or our own write a moment ago): before refusing, ask the
    // primary which history it is in now.
    if (auto live = co_await livePrimaryStatus(askPrimary)) {
      session = routing::mergeTokens(tokens, *live, topology.lineage);
      if (session.status != Status::HistoryLost) check.liveReplid = live->replid;
    }
  }
  switch (session.status) {
    case Status::Ok: co_return check;
    case Status::HistoryLost:
      metrics.violations("session_history_lost").Increment();
      check.error = ApiError{ErrorCode::SessionHistoryLost,
                             "the session's data was lost in a failover (or a primary restart): its token names "
                             "writes or reads the current primary's replication history does not contain; re-read "
                             "what you need (rewrite what is missing) and continue without the token",
                             {},
                             {}};
      co_return check;
    case Status::NoPrimaryState:
      check.error = ApiError{ErrorCode::PrimaryUnavailable,
                             "the Redis primary has not been reached yet, so the session token cannot be checked; "
                             "retry later",
                             {},
                             {}};
      co_return check;
    case Status::BeyondPrimary: break;
  }
  // A replica in the primary's history that has applied the position proves the primary
  // reached it (replicas only apply what the primary produced). This keeps sessions
  // served while the primary cannot answer the ROLE below (stopped, crashed).
  for (std::size_t i = 0; i < topology.backends.size(); ++i) {
    const auto& b = topology.backends[i];
    if (i == topology.primaryIndex || b.standing != backends::Standing::Replica) continue;
    if (b.role == backends::NodeRole::Replica && !b.replid.empty() && b.replid == primary.replid &&
        b.offset >= session.required()) {
      session.status = Status::Ok;
      co_return check;
    }
  }
  // The polled offset may be behind: another instance sharing our keys may have issued
  // this token a moment ago. Ask the primary itself.
  static constexpr std::array<std::string_view, 1> kRole{"ROLE"};
  auto result = co_await askPrimary(backends::encodeCommand(kRole), 1);
  const auto offset = result.ok() ? backends::roleOffset(result.replies[0], /*wantPrimary=*/true) : std::nullopt;
  if (!offset) {
    check.error = ApiError{ErrorCode::PrimaryUnavailable,
                           "the Redis primary could not confirm the session token's position; retry later",
                           {},
                           {}};
    co_return check;
  }
  if (*offset < session.required()) {
    metrics.sessionTokensRejected("beyond_primary").Increment();
    check.error = ApiError{ErrorCode::InvalidSessionToken,
                           "the session token names a position the primary has not reached; it is forged or from a "
                           "lost history: continue without it",
                           {},
                           {}};
    co_return check;
  }
  session.status = Status::Ok;
  co_return check;
}

}  // namespace cx::proxy
