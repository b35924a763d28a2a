// Sentinel discovery (README "Failover"): asks every configured Sentinel which node is the
// primary of one monitored master and which replicas it has, listens to their events by
// subscription, and re-reads periodically as a safety net. The result is a Membership:
// the primary the Sentinels name (from the view with the highest config epoch), the
// replicas, and each Sentinel's state. It says what the Sentinels believe; the tracker
// confirms it with ROLE on the nodes themselves before anything is routed by it.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/resp.h"
#include "backends/topology.h"

namespace cx::backends {

class TlsClientContext;

// `redis.sentinel` in the config (README "Configuration"). The config parser fills the
// first four fields; `password` is read from the environment variable `passwordEnv`
// names, by the composition root.
struct SentinelSettings {
  std::string master;                  // the name the Sentinels monitor
  std::vector<std::string> addresses;  // host:port, as configured (also the metric label)
  std::string username;                // Sentinel ACL user; empty: AUTH <password> only
  std::string passwordEnv;             // names the environment variable with the password
  std::string password;                // resolved from passwordEnv; empty: no AUTH
  // redis.tls: Sentinels are spoken to over TLS exactly like the Redis nodes (same CA,
  // client certificate and name rules); null: plain TCP.
  std::shared_ptr<TlsClientContext> tls;
  // Not config keys (yet): how often every Sentinel is re-read, and how long one
  // Sentinel may take to answer before it counts as down.
  std::chrono::milliseconds refreshInterval{1000};
  std::chrono::milliseconds commandTimeout{500};
  std::chrono::milliseconds connectTimeout{500};
  bool subscribe = true;  // false: the periodic re-read alone (tests prove it suffices)
};

struct NodeAddress {
  std::string host;
  std::uint16_t port = 0;
  std::string name() const { return host + ":" + std::to_string(port); }
  friend bool operator==(const NodeAddress&, const NodeAddress&) = default;
};
// "host:port" (IPv6 as "[::1]:6379" or the last colon). nullopt when malformed.
std::optional<NodeAddress> parseNodeAddress(std::string_view text);

// What one Sentinel said in its latest answer.
struct SentinelView {
  std::uint64_t configEpoch = 0;       // SENTINEL master <name>: config-epoch
  std::optional<NodeAddress> primary;  // SENTINEL get-master-addr-by-name <name>
  bool primaryDown = false;            // its flags say s_down or o_down
  bool failoverInProgress = false;     // flags failover_in_progress
  struct Replica {
    NodeAddress address;
    bool down = false;  // s_down, o_down or disconnected
  };
  std::vector<Replica> replicas;  // SENTINEL replicas <name>
};

// Parses the three replies of one refresh (SENTINEL master, get-master-addr-by-name,
// replicas). Exposed for unit tests. nullopt, with *error set, when the Sentinel does not
// know the master or the replies are not what Sentinel sends.
std::optional<SentinelView> parseSentinelReplies(const RespValue& master, const RespValue& addr,
                                                 const RespValue& replicas, std::string* error);

struct SentinelState {
  std::string address;  // as configured
  bool up = false;      // answered its latest refresh (and knows the master)
  bool subscribed = false;
  std::string lastError;
  std::optional<SentinelView> view;  // its latest answer; kept while it is down
  Clock::time_point lastAnswer{};
};

struct Membership {
  // Bumped on every change of anything below except timestamps.
  std::uint64_t version = 0;
  std::uint64_t configEpoch = 0;                // of the view the primary was taken from
  std::optional<NodeAddress> primary;           // the primary the Sentinels name; nullopt: none known
  std::vector<SentinelView::Replica> replicas;  // never contains `primary`
  std::vector<SentinelState> sentinels;         // in configured order
  // When this process last heard a +switch-master (max() when never).
  Clock::time_point lastSwitchMasterAt = Clock::time_point::max();
  bool anySentinelUp() const;
};

// Combines the Sentinels' latest views: the primary and replicas of the view with the
// highest config epoch (a Sentinel that missed a failover still names the old primary,
// at an older epoch); among views at that epoch, the primary most of them name (ties: the
// first configured), and the replicas all of them list. Views of Sentinels that are down
// are used too (their last word stands until a higher epoch overrides it). Pure.
void combineViews(Membership& membership);

// Runs on the caller's io_context. Call every member on that context's thread.
class SentinelClient {
 public:
  using Listener = std::function<void(const Membership&)>;
  SentinelClient(boost::asio::any_io_executor executor, SentinelSettings settings, Listener listener);
  ~SentinelClient();
  SentinelClient(const SentinelClient&) = delete;
  SentinelClient& operator=(const SentinelClient&) = delete;

  void start();
  void stop();
  // Asks every Sentinel now (coalesced with a refresh already under way).
  void refreshNow();
  const Membership& membership() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace cx::backends
