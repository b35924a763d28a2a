// The checks of a request's session tokens (README "Sessions"): the token header is
// verified (HMAC, or the worker's cache of header values verified before), and the
// positions it names are checked against the primary's replication history, asking the
// primary itself when the snapshot cannot decide. Errors come back as ApiError values.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "backends/connection.h"
#include "backends/topology.h"
#include "metrics/metrics.h"
#include "proxy/http/errors.h"
#include "routing/router.h"
#include "session/token.h"
#include "session/token_cache.h"

namespace cx::proxy {

using TokenList = session::VerifiedTokenCache::TokenList;

// The tokens of an X-Session-Token value, or invalid_session_token (counted in
// metrics). The same bytes verified before on this worker are not checked again.
// Call on the worker that owns `cache`.
std::variant<TokenList, ApiError> verifySessionTokens(std::string_view header, const session::KeyRing& keys,
                                                      session::VerifiedTokenCache& cache, metrics::Metrics& metrics);

// Runs `count` pipelined commands (`encoded`) on the primary and returns the replies.
using AskPrimary = std::function<boost::asio::awaitable<backends::ExecResult>(std::string encoded, std::size_t count)>;

struct SessionCheck {
  routing::SessionRequirement session;
  // The primary's history as asked during the check (non-empty when the snapshot's was
  // stale and the tokens belong to the live one): the request's positions are in it.
  std::string liveReplid;
  std::optional<ApiError> error;  // the answer when the session cannot be served
};

// Decides whether the tokens' positions can be honoured: in the primary's history and
// not beyond what the primary reached. The snapshot decides most cases; a history it
// does not know, or a position beyond its polled offset, is checked on the primary (a
// peer instance with the same keys may have issued the token a moment ago).
boost::asio::awaitable<SessionCheck> checkSession(std::span<const session::SessionToken> tokens,
                                                  const backends::Topology& topology, metrics::Metrics& metrics,
                                                  AskPrimary askPrimary);

}  // namespace cx::proxy
