// The backend pool (see backend_pool.h): building the connections and picking one.
#include "proxy/app/backend_pool.h"

#include <algorithm>
#include <random>

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
                         std::size_t workerIndex)
    : affinity_(processAffinitySeed() + workerIndex), stickiness_(config.redis.replicaStickiness) {
  auto add = [&](const BackendConfig& b) {
    std::vector<std::shared_ptr<backends::Connection>> conns;
    for (int i = 0; i < std::max(1, config.redis.connectionsPerWorker); ++i) {
      backends::ConnectionOptions o;
      o.host = b.address.host;
      o.port = b.address.port;
      o.password = password;
      o.connectTimeout = config.redis.connectTimeout;
      o.trackReplid = &b == &config.redis.primary;  // tokens pair primary offsets with it
      conns.push_back(std::make_shared<backends::Connection>(executor, o));
    }
    connections_.push_back(std::move(conns));
  };
  add(config.redis.primary);
  for (const auto& r : config.redis.replicas) add(r);
  loads_.resize(connections_.size());
}

void BackendPool::start() {
  for (auto& v : connections_)
    for (auto& c : v) c->start();
}

void BackendPool::stop() {
  for (auto& v : connections_)
    for (auto& c : v) c->stop();
}

backends::Connection& BackendPool::pick(std::size_t index) {
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
