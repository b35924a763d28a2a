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
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
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
  };

  TrackerOptions options;
  metrics::Metrics* metrics;
  asio::io_context io{1};
  std::vector<Node> nodes;  // [0] = primary
  OffsetHistory history;
  std::string historyReplid;
  std::uint64_t generation = 0;
  ReplicationTracker* owner = nullptr;

  asio::awaitable<void> pollLoop(std::size_t index) {
    Node& node = nodes[index];
    asio::steady_timer timer(io);
    static constexpr std::array<std::string_view, 1> kRole{"ROLE"};
    static constexpr std::array<std::string_view, 3> kInfo{"INFO", "replication", "persistence"};
    std::string request = encodeCommand(kRole);
    appendCommand(request, kInfo);
    co_await node.connection->waitConnected(options.connectTimeout);
    for (;;) {
      auto sentAt = Clock::now();
      auto result = co_await node.connection->execute(request, 2, options.downAfter);
      if (io.stopped()) co_return;
      if (result.ok() && !result.replies[0].isError() && !result.replies[1].isError() &&
          parsePollReplies(result.replies[0], result.replies[1], node.status)) {
        node.lastPollOk = true;
        node.status.lastSeen = Clock::now();
        node.status.lastError.clear();
        if (index == 0 && node.status.role == NodeRole::Primary) {
          if (node.status.replid != historyReplid) {
            history.clear();
            historyReplid = node.status.replid;
          }
          history.record(sentAt, node.status.offset);
        }
      } else {
        node.lastPollOk = false;
        if (!result.ok()) {
          node.status.lastError = std::string(toString(result.error)) + ": " + node.connection->lastError();
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
      if (next > Clock::now()) {
        timer.expires_at(next);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }
  }

  void publish() {
    auto topo = std::make_shared<Topology>();
    auto now = Clock::now();
    topo->generation = ++generation;
    topo->takenAt = now;
    topo->backends.reserve(nodes.size());
    const BackendStatus& primary = nodes[0].status;
    bool primaryUp = nodes[0].lastPollOk && now - primary.lastSeen <= options.downAfter &&
                     primary.role == NodeRole::Primary;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      BackendStatus s = nodes[i].status;
      s.up = nodes[i].lastPollOk && now - s.lastSeen <= options.downAfter;
      if (i > 0) {
        s.lagBytes = primary.offset > s.offset ? primary.offset - s.offset : 0;
        // Link down while the primary answers: cut off, maybe about to resync. With the
        // primary down every link is down, and what each replica applied stays valid.
        s.tracked = s.up && s.role == NodeRole::Replica && !s.loading && !s.resyncing &&
                    (s.linkUp || !primaryUp) && !s.replid.empty() && s.replid == historyReplid;
        s.freshAsOf = s.tracked ? history.freshAsOf(s.offset) : std::nullopt;
        if (!s.freshAsOf) s.tracked = false;
      }
      if (metrics) {
        metrics->backendUp(s.name, i == 0 ? "primary" : "replica").Set(s.up ? 1 : 0);
        if (i > 0) {
          metrics->replicaLagBytes(s.name).Set(static_cast<double>(s.lagBytes));
          double staleness = s.freshAsOf ? std::chrono::duration<double>(now - *s.freshAsOf).count() : -1;
          metrics->replicaStaleness(s.name).Set(staleness);
        }
      }
      topo->backends.push_back(std::move(s));
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
  auto addNode = [&](const BackendAddress& address, bool primary) {
    State::Node node;
    node.address = address;
    node.status.name = address.name;
    node.status.address = address.host + ":" + std::to_string(address.port);
    node.status.configuredPrimary = primary;
    node.status.lastError = "not polled yet";
    ConnectionOptions co;
    co.host = address.host;
    co.port = address.port;
    co.password = state_->options.password;
    co.connectTimeout = state_->options.connectTimeout;
    node.connection = std::make_shared<Connection>(state_->io.get_executor(), co);
    if (metrics) metrics->exportBackend(address.name);
    state_->nodes.push_back(std::move(node));
  };
  addNode(state_->options.primary, true);
  for (const auto& r : state_->options.replicas) addNode(r, false);
  auto initial = std::make_shared<Topology>();
  for (const auto& n : state_->nodes) initial->backends.push_back(n.status);
  snapshot_.store(std::move(initial));
}

ReplicationTracker::~ReplicationTracker() { stop(); }

void ReplicationTracker::start() {
  for (std::size_t i = 0; i < state_->nodes.size(); ++i) {
    state_->nodes[i].connection->start();
    asio::co_spawn(state_->io, state_->pollLoop(i), asio::detached);
  }
  thread_ = std::thread([this] { state_->io.run(); });
}

void ReplicationTracker::stop() {
  if (!thread_.joinable()) return;
  asio::post(state_->io, [this] {
    for (auto& n : state_->nodes) n.connection->stop();
    state_->io.stop();
  });
  thread_.join();
}

}  // namespace cx::backends
