// The backend pool (see backend_pool.h): building the connections and picking one.
#include "proxy/app/backend_pool.h"

#include <algorithm>
#include <random>

#include "backends/sentinel.h"

namespace cx::proxy {

namespace asio = boost::asio;

namespace {
// Where this process's workers start on the replica list: random, so that the sidecars
// of a fleet, each with few workers, do not all keep to the first replicas.
std::size_t processAffinitySeed() {
  static const std::size_t seed = std::random_device{}();
  return seed;
}
}  // namespace

BackendPool::BackendPool(asio::any_io_executor executor, const Config& config, const std::string& password,
                         std::shared_ptr<backends::TlsClientContext> tls, std::size_t workerIndex)
    : executor_(executor),
      username_(config.redis.username),
      password_(password),
      tls_(std::move(tls)),
      connectTimeout_(config.redis.connectTimeout),
      connectionsPerWorker_(std::max(1, config.redis.connectionsPerWorker)),
      sentinelMode_(config.redis.sentinel.has_value()),
      affinity_(processAffinitySeed() + workerIndex),
      stickiness_(config.redis.replicaStickiness) {
  backends::ConnectionOptions none;
  none.port = 0;
  unavailable_ = std::make_shared<backends::Connection>(executor, none);  // never started
  if (sentinelMode_) return;                                              // sync() builds the slots from the topology
  auto add = [&](const BackendConfig& b) {
    // The primary's connections track its history: tokens pair primary offsets with it.
    connections_.push_back(connect(b.address.host, b.address.port, &b == &config.redis.primary));
  };
  add(config.redis.primary);
  for (const auto& r : config.redis.replicas) add(r);
  loads_.resize(connections_.size());
}

std::vector<std::shared_ptr<backends::Connection>> BackendPool::connect(const std::string& host, std::uint16_t port,
                                                                        bool trackReplid) {
  std::vector<std::shared_ptr<backends::Connection>> conns;
  for (int i = 0; i < connectionsPerWorker_; ++i) {
    backends::ConnectionOptions o;
    o.host = host;
    o.port = port;
    o.username = username_;
    o.password = password_;
    o.tls = tls_;
    o.connectTimeout = connectTimeout_;
    o.trackReplid = trackReplid;
    conns.push_back(std::make_shared<backends::Connection>(executor_, o));
    if (started_) conns.back()->start();
  }
  return conns;
}

void BackendPool::sync(const backends::Topology& topology) {
  if (!sentinelMode_) return;
  const std::size_t n = std::min(topology.backends.size(), backends::Topology::kMaxBackends);
  if (connections_.size() < n) {
    connections_.resize(n);
    slots_.resize(n);
    loads_.resize(n);
  }
  for (std::size_t i = 0; i < n; ++i) {
    const auto& b = topology.backends[i];
    auto& conns = connections_[i];
    SlotState& slot = slots_[i];
    const bool wanted = b.member && b.standing != backends::Standing::Departed;
    const bool stale = slot.generation != b.slotGeneration || slot.address != b.address;
    if (!conns.empty() && (!wanted || stale)) {
      for (auto& c : conns) {
        c->stop();
        retired_.push_back(std::move(c));
      }
      conns.clear();
    }
    if (wanted && conns.empty()) {
      auto address = backends::parseNodeAddress(b.address);
      if (!address) continue;
      // Any node may become the primary: every connection tracks its history.
      conns = connect(address->host, address->port, /*trackReplid=*/true);
      slot.address = b.address;
      slot.generation = b.slotGeneration;
    }
  }
}

void BackendPool::start() {
  started_ = true;
  for (auto& v : connections_)
    for (auto& c : v) c->start();
}

void BackendPool::stop() {
  started_ = false;
  for (auto& v : connections_)
    for (auto& c : v) c->stop();
}

backends::Connection& BackendPool::pick(std::size_t index) {
  if (index >= connections_.size() || connections_[index].empty()) return *unavailable_;
  auto& conns = connections_[index];
  backends::Connection* best = conns.front().get();
  for (auto& c : conns) {
    if (!c->connected()) continue;
    // Same order as the router's replica choice: fewest waiting, then a forming write.
    if (!best->connected() || c->waiting() < best->waiting() ||
        (c->waiting() == best->waiting() && c->queued() > 0 && best->queued() == 0)) {
      best = c.get();
    }
  }
  return *best;
}

std::span<const routing::BackendLoad> BackendPool::loads() {
  for (std::size_t i = 0; i < connections_.size(); ++i) {
    routing::BackendLoad load;
    for (auto& c : connections_[i]) {
      load.waiting += static_cast<std::uint32_t>(c->waiting());
      load.batchOpen = load.batchOpen || c->queued() > 0;
      load.waitingSince = std::min(load.waitingSince, c->oldestWaitingSince());
    }
    loads_[i] = load;
  }
  return loads_;
}

}  // namespace cx::proxy
