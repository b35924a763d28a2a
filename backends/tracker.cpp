// Replication tracker. Each backend has a poll loop on the tracker's own io_context:
// every tracking.interval it pipelines `ROLE` and `INFO replication persistence` on a
// dedicated connection. The primary's replies feed the offset history (keyed by the
// time the poll was sent, see topology.h); each replica's applied offset is turned into
// a staleness bound against that history. A replica is "tracked" (fit for prefix,
// bounded and session reads) only while it answers, is not loading or resyncing, has
// its link up, and is in the primary's replication history (same replid).
#include "backends/tracker.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <mutex>
#include <string_view>

#include "backends/connection.h"
#include "backends/replication_info.h"
#include "backends/resp.h"
#include "metrics/metrics.h"

namespace cx::backends {

namespace asio = boost::asio;

struct ReplicationTracker::State {
  struct Node {
    BackendAddress address;
    std::shared_ptr<Connection> connection;
    BackendStatus status;
    bool lastPollOk = false;
    // A poll loop belongs to one run of this slot: it exits once `run` moves on
    // (the member left, or the slot went to another address).
    std::uint64_t run = 0;
    std::unique_ptr<asio::steady_timer> timer;  // the poll loop's; cancelled to poll now
    bool pollSoon = false;
    bool polling = false;
    bool everPolled = false;  // its connection has been started (a stopped one cannot restart)
    Clock::time_point departedAt{};
    std::string metricRole;  // the role label last set on cxproxy_backend_up
  };

  TrackerOptions options;
  metrics::Metrics* metrics;
  asio::io_context io{1};
  std::vector<std::unique_ptr<Node>> nodes;  // slots (see Topology); static mode: [0] = primary
  // Guards history/historyReplid: written on the tracker's thread, read by historyAround()
  // from workers.
  mutable std::mutex historyMutex;
  OffsetHistory history;
  std::string historyReplid;
  HistoryLineage lineage;
  std::uint64_t generation = 0;
  ReplicationTracker* owner = nullptr;
  bool running = false;
  // Sentinel mode.
  std::unique_ptr<SentinelClient> sentinel;
  Membership membership;
  std::size_t namedIndex = Topology::kNoPrimary;  // static mode: 0
  std::string confirmedPrimary;                   // name of the last confirmed primary
  Clock::time_point primaryConfirmedAt = Clock::time_point::max();
  std::uint64_t primaryChanges = 0;

  bool sentinelMode() const { return options.sentinel.has_value(); }

  std::shared_ptr<Connection> makeConnection(const BackendAddress& address) {
    ConnectionOptions co;
    co.host = address.host;
    co.port = address.port;
    co.username = options.username;
    co.password = options.password;
    co.tls = options.tls;
    if (options.onConnectFailed) {
      co.onConnectFailed = [report = options.onConnectFailed, address](const std::string& error) {
        report(address, error);
      };
    }
    co.connectTimeout = options.connectTimeout;
    return std::make_shared<Connection>(io.get_executor(), co);
  }

  Node& addSlot(const BackendAddress& address, bool configuredPrimary) {
    auto node = std::make_unique<Node>();
    node->address = address;
    node->status.name = address.name;
    node->status.address = address.host + ":" + std::to_string(address.port);
    node->status.configuredPrimary = configuredPrimary;
    node->status.lastError = "not polled yet";
    node->connection = makeConnection(address);
    node->timer = std::make_unique<asio::steady_timer>(io);
    if (metrics) metrics->exportBackend(address.name);
    nodes.push_back(std::move(node));
    return *nodes.back();
  }

  void startPolling(Node& node) {
    if (node.everPolled) node.connection = makeConnection(node.address);
    node.everPolled = true;
    node.polling = true;
    ++node.run;
    node.connection->start();
    asio::co_spawn(io, pollLoop(&node, node.run), asio::detached);
  }

  void stopPolling(Node& node) {
    node.polling = false;
    ++node.run;
    node.connection->stop();
    node.timer->cancel();
    node.lastPollOk = false;
  }

  void pollNow(Node& node) {
    node.pollSoon = true;
    node.timer->cancel();
  }

  std::size_t indexOf(const Node& node) const {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i].get() == &node) return i;
    }
    return Topology::kNoPrimary;
  }

  asio::awaitable<void> pollLoop(Node* nodePtr, std::uint64_t run) {
    Node& node = *nodePtr;
    auto connection = node.connection;  // this run's, even if the slot gets a new one
    static constexpr std::array<std::string_view, 1> kRole{"ROLE"};
    static constexpr std::array<std::string_view, 3> kInfo{"INFO", "replication", "persistence"};
    std::string request = encodeCommand(kRole);
    appendCommand(request, kInfo);
    co_await connection->waitConnected(options.connectTimeout);
    while (node.run == run) {
      node.pollSoon = false;
      auto sentAt = Clock::now();
      auto result = co_await connection->execute(request, 2, options.downAfter);
      if (io.stopped() || node.run != run) co_return;
      if (result.ok() && !result.replies[0].isError() && !result.replies[1].isError() &&
          parsePollReplies(result.replies[0], result.replies[1], node.status)) {
        node.lastPollOk = true;
        node.status.lastSeen = Clock::now();
        node.status.lastError.clear();
        lineage.learn(node.status.replid, node.status.replid2, node.status.secondReplOffset);
        if (indexOf(node) == namedIndex && node.status.role == NodeRole::Primary) {
          std::lock_guard lock(historyMutex);
          if (node.status.replid != historyReplid) {
            history.clear();
            historyReplid = node.status.replid;
          }
          history.record(sentAt, node.status.offset);
        }
      } else {
        node.lastPollOk = false;
        if (!result.ok()) {
          node.status.lastError = std::string(toString(result.error)) + ": " + connection->lastError();
        } else if (result.replies[0].isError()) {
          node.status.lastError = result.replies[0].str;
          // A loading replica refuses commands with -LOADING.
          node.status.loading = result.replies[0].str.rfind("LOADING", 0) == 0;
        } else if (result.replies[1].isError()) {
          node.status.lastError = result.replies[1].str;
        } else {
          node.status.lastError = "unexpected ROLE/INFO reply";
        }
      }
      publish();
      auto next = sentAt + options.interval;
      if (!node.pollSoon && next > Clock::now()) {
        node.timer->expires_at(next);
        co_await node.timer->async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }
  }

  // Sentinel mode: the Sentinels' word changed. Slots for new addresses, departures,
  // the named primary; the named node is polled at once so its ROLE confirms it soon.
  void applyMembership(const Membership& m) {
    membership = m;
    std::vector<NodeAddress> members;
    if (m.primary) members.push_back(*m.primary);
    for (const auto& r : m.replicas) members.push_back(r.address);
    const auto now = Clock::now();
    std::vector<bool> isMember(nodes.size(), false);
    for (const auto& address : members) {
      const std::string name = address.name();
      std::size_t slot = Topology::kNoPrimary;
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (nodes[i]->status.name == name) slot = i;
      }
      if (slot == Topology::kNoPrimary) {
        BackendAddress backend{name, address.host, address.port};
        if (nodes.size() < Topology::kMaxBackends) {
          addSlot(backend, false);
          slot = nodes.size() - 1;
          isMember.push_back(false);
        } else {
          slot = reuseSlot(backend, isMember);
          if (slot == Topology::kNoPrimary) continue;  // every slot is a member: ignore the extra one
        }
      }
      isMember[slot] = true;
      Node& node = *nodes[slot];
      node.status.member = true;
      if (running && !node.polling) startPolling(node);
    }
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      Node& node = *nodes[i];
      if (!isMember[i] && node.status.member) {
        node.status.member = false;
        node.departedAt = now;
        if (running) stopPolling(node);
      }
    }
    std::size_t named = Topology::kNoPrimary;
    if (m.primary) {
      const std::string name = m.primary->name();
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (nodes[i]->status.name == name) named = i;
      }
    }
    if (named != namedIndex) {
      namedIndex = named;
      if (named != Topology::kNoPrimary && running) pollNow(*nodes[named]);
      for (auto& n : nodes) {
        // Everyone's role may be changing: look now rather than at the next tick.
        if (running && n->status.member && n.get() != (named < nodes.size() ? nodes[named].get() : nullptr)) {
          pollNow(*n);
        }
      }
    }
    publish();
  }

  // The longest-departed slot goes to `address` (every slot is taken). kNoPrimary if none
  // has departed.
  std::size_t reuseSlot(const BackendAddress& address, const std::vector<bool>& isMember) {
    std::size_t best = Topology::kNoPrimary;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i]->status.member || (i < isMember.size() && isMember[i])) continue;
      if (best == Topology::kNoPrimary || nodes[i]->departedAt < nodes[best]->departedAt) best = i;
    }
    if (best == Topology::kNoPrimary) return best;
    Node& node = *nodes[best];
    if (running) stopPolling(node);
    const std::uint32_t slotGeneration = node.status.slotGeneration + 1;
    node.address = address;
    node.status = BackendStatus{};
    node.status.name = address.name;
    node.status.address = address.host + ":" + std::to_string(address.port);
    node.status.slotGeneration = slotGeneration;
    node.status.member = false;  // the caller starts it
    node.status.lastError = "not polled yet";
    node.lastPollOk = false;
    node.everPolled = false;
    node.connection = makeConnection(address);
    return best;
  }

  void publish() {
    auto topo = std::make_shared<Topology>();
    auto now = Clock::now();
    topo->generation = ++generation;
    topo->takenAt = now;
    topo->sentinelMode = sentinelMode();
    topo->primaryIndex = namedIndex;
    topo->backends.reserve(nodes.size());
    static const BackendStatus kNone{};
    const bool hasNamed = namedIndex < nodes.size();
    const BackendStatus& primary = hasNamed ? nodes[namedIndex]->status : kNone;
    bool primaryUp = hasNamed && nodes[namedIndex]->lastPollOk && now - primary.lastSeen <= options.downAfter &&
                     primary.role == NodeRole::Primary;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      BackendStatus s = nodes[i]->status;
      s.up = s.member && nodes[i]->lastPollOk && now - s.lastSeen <= options.downAfter;
      s.namedPrimary = i == namedIndex;
      s.standing = standingOf(s, i == namedIndex);
      if (i != namedIndex) {
        s.lagBytes = primary.offset > s.offset ? primary.offset - s.offset : 0;
        // Link down while the primary answers: cut off, maybe about to resync. With the
        // primary down every link is down, and what each replica applied stays valid.
        s.tracked = s.up && s.role == NodeRole::Replica && !s.loading && !s.resyncing && (s.linkUp || !primaryUp) &&
                    !s.replid.empty() && s.replid == historyReplid;
        s.freshAsOf = s.tracked ? history.freshAsOf(s.offset) : std::nullopt;
        if (!s.freshAsOf) s.tracked = false;
      } else {
        s.lagBytes = 0;
        s.tracked = false;
        s.freshAsOf.reset();
      }
      if (metrics) {
        // Static mode: the configured role, as before. Sentinel mode: where it stands now.
        std::string role = !sentinelMode() ? std::string(i == 0 ? "primary" : "replica")
                                           : std::string(s.standing == Standing::Primary   ? "primary"
                                                         : s.standing == Standing::Replica ? "replica"
                                                         : s.standing == Standing::Fenced  ? "fenced"
                                                                                           : "unknown");
        if (!nodes[i]->metricRole.empty() && nodes[i]->metricRole != role) {
          metrics->backendUp(s.name, nodes[i]->metricRole).Set(0);
        }
        nodes[i]->metricRole = role;
        metrics->backendUp(s.name, role).Set(s.up ? 1 : 0);
        if (i != namedIndex) {
          metrics->replicaLagBytes(s.name).Set(static_cast<double>(s.lagBytes));
          double staleness = s.freshAsOf ? std::chrono::duration<double>(now - *s.freshAsOf).count() : -1;
          metrics->replicaStaleness(s.name).Set(staleness);
        }
      }
      topo->backends.push_back(std::move(s));
    }
    if (topo->primaryConfirmed()) {
      const std::string& name = topo->primary().name;
      if (name != confirmedPrimary) {
        if (!confirmedPrimary.empty()) {
          ++primaryChanges;
          if (metrics) metrics->primaryChanges().Increment();
        }
        confirmedPrimary = name;
        primaryConfirmedAt = now;
      }
    }
    topo->primaryConfirmedAt = primaryConfirmedAt;
    topo->primaryChanges = primaryChanges;
    topo->lineage.assign(lineage.links().begin(), lineage.links().end());
    if (sentinelMode()) {
      topo->configEpoch = membership.configEpoch;
      topo->lastSwitchMasterAt = membership.lastSwitchMasterAt;
      for (const auto& st : membership.sentinels) {
        topo->sentinels.push_back({st.address, st.up, st.subscribed, st.view ? st.view->configEpoch : 0, st.lastError});
        if (metrics) metrics->sentinelUp(st.address).Set(st.up ? 1 : 0);
      }
    }
    owner->snapshot_.store(std::move(topo), std::memory_order_release);
    owner->version_.fetch_add(1, std::memory_order_release);
  }
};

ReplicationTracker::ReplicationTracker(TrackerOptions options, metrics::Metrics* metrics)
    : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
  state_->metrics = metrics;
  state_->owner = this;
  auto initial = std::make_shared<Topology>();
  if (state_->sentinelMode()) {
    initial->sentinelMode = true;
    initial->primaryIndex = Topology::kNoPrimary;
    for (const auto& a : state_->options.sentinel->addresses)
      initial->sentinels.push_back({a, false, false, 0, "not asked yet"});
    state_->sentinel =
        std::make_unique<SentinelClient>(state_->io.get_executor(), *state_->options.sentinel,
                                         [state = state_.get()](const Membership& m) { state->applyMembership(m); });
  } else {
    state_->namedIndex = 0;
    state_->addSlot(state_->options.primary, true);
    for (const auto& r : state_->options.replicas) state_->addSlot(r, false);
    for (const auto& n : state_->nodes) {
      initial->backends.push_back(n->status);
      initial->backends.back().namedPrimary = n->status.configuredPrimary;
    }
  }
  snapshot_.store(std::move(initial));
}

ReplicationTracker::~ReplicationTracker() { stop(); }

OffsetHistoryView ReplicationTracker::historyAround(std::string_view replid, std::uint64_t appliedOffset) const {
  std::lock_guard lock(state_->historyMutex);
  if (replid.empty() || replid != state_->historyReplid) return {};
  return {state_->history.freshAsOf(appliedOffset), state_->history.firstBeyond(appliedOffset)};
}

void ReplicationTracker::start() {
  state_->running = true;
  for (auto& n : state_->nodes) state_->startPolling(*n);
  if (state_->sentinel) state_->sentinel->start();
  thread_ = std::thread([this] { state_->io.run(); });
}

void ReplicationTracker::post(std::function<void()> fn) { asio::post(state_->io, std::move(fn)); }

void ReplicationTracker::stop() {
  if (!thread_.joinable()) return;
  asio::post(state_->io, [this] {
    if (state_->sentinel) state_->sentinel->stop();
    for (auto& n : state_->nodes) n->connection->stop();
    state_->io.stop();
  });
  thread_.join();
}

}  // namespace cx::backends
