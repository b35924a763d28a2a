// Real redis-server processes for integration tests (see redis_cluster.h).
#include "tests/integration/support/redis_cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace cx::testing {
namespace {

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

// Commands after which a connection carries state and must not go back to the pool.
bool changesConnectionState(const std::vector<std::string>& argv) {
  if (argv.empty()) return true;
  static const char* const kStateful[] = {"SELECT",     "MULTI",   "WATCH", "SUBSCRIBE", "PSUBSCRIBE",
                                          "SSUBSCRIBE", "MONITOR", "HELLO", "AUTH",      "CLIENT",
                                          "READONLY",   "RESET",   "QUIT"};
  std::string name = upper(argv[0]);
  return std::any_of(std::begin(kStateful), std::end(kStateful),
                     [&](const char* stateful) { return name == stateful; });
}

std::string redisServerPath() {
  const char* overridePath = std::getenv("REDIS_SERVER");
  if (overridePath != nullptr && *overridePath != '\0') return findExecutable(overridePath);
  try {
    return findExecutable("redis-server");
  } catch (const std::exception&) {
    return findExecutable("/usr/bin/redis-server");
  }
}

}  // namespace

// --- RedisNode -------------------------------------------------------------------------

RedisNode::RedisNode(std::string name, const std::filesystem::path& baseDir, std::vector<std::string> extraArgs,
                     std::optional<RedisTlsOptions> tls)
    : name_(std::move(name)),
      dataDir_(baseDir / name_),
      logPath_(baseDir / (name_ + ".log")),
      extraArgs_(std::move(extraArgs)),
      tls_(std::move(tls)),
      unixSocket_(baseDir / (name_ + ".sock")),
      redisServer_(redisServerPath()) {}

std::unique_ptr<RespConnection> RedisNode::openConnection(std::chrono::milliseconds timeout) const {
  if (tls_) return std::make_unique<RespConnection>(unixSocket_, port_, timeout);
  return std::make_unique<RespConnection>(port_, timeout);
}

RedisNode::~RedisNode() { kill(); }

std::vector<std::string> RedisNode::arguments() const {
  std::vector<std::string> args = {redisServer_,
                                   "--bind",
                                   "127.0.0.1",
                                   "--daemonize",
                                   "no",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--dir",
                                   dataDir_.string(),
                                   "--enable-debug-command",
                                   "local",
                                   "--repl-diskless-sync",
                                   "yes",
                                   "--repl-diskless-sync-delay",
                                   "0"};
  if (tls_) {
    args.insert(args.end(), {"--port", "0", "--tls-port", std::to_string(port_), "--tls-cert-file",
                             tls_->certFile.string(), "--tls-key-file", tls_->keyFile.string(), "--tls-ca-cert-file",
                             tls_->caFile.string(), "--tls-auth-clients", tls_->authClients, "--tls-replication", "yes",
                             "--unixsocket", unixSocket_.string(), "--unixsocketperm", "700"});
  } else {
    args.insert(args.end(), {"--port", std::to_string(port_)});
  }
  if (replicaOfPort_) {
    args.insert(args.end(), {"--replicaof", "127.0.0.1", std::to_string(*replicaOfPort_)});
  }
  args.insert(args.end(), extraArgs_.begin(), extraArgs_.end());
  return args;
}

void RedisNode::spawn() {
  if (process_.running()) throw std::runtime_error(name_ + ": already running");
  if (port_ == 0) port_ = freePort();
  dropConnections();
  std::error_code ec;
  std::filesystem::remove_all(dataDir_, ec);
  std::filesystem::create_directories(dataDir_);
  logOffset_ = std::filesystem::exists(logPath_) ? std::filesystem::file_size(logPath_) : 0;
  process_.start(arguments(), logPath_);
}

bool RedisNode::awaitReady(std::chrono::milliseconds timeout, std::string* why, bool* addressInUse) {
  *addressInUse = false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string lastError = "no answer";
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_.running()) {
      std::string log = readFile(logPath_);
      if (log.size() > logOffset_) log = log.substr(logOffset_);
      *addressInUse = log.find("Address already in use") != std::string::npos;
      int status = process_.lastWaitStatus() ? exitStatusOf(*process_.lastWaitStatus()) : -1;
      *why = "exited with status " + std::to_string(status);
      return false;
    }
    try {
      RedisReply pong = openConnection(1000ms)->command({"PING"});
      if (pong.type == RedisReply::Type::Status && pong.str == "PONG") return true;
      lastError = pong.toString();
    } catch (const RedisIoError& e) {
      lastError = e.what();
    }
    std::this_thread::sleep_for(10ms);
  }
  *why = "not ready after " + std::to_string(timeout.count()) + " ms (" + lastError + ")";
  return false;
}

void RedisNode::finishStart(std::chrono::milliseconds timeout) {
  for (int attempt = 1;; ++attempt) {
    std::string why;
    bool addressInUse = false;
    if (awaitReady(timeout, &why, &addressInUse)) {
      everReady_ = true;
      return;
    }
    process_.kill();
    if (addressInUse && attempt < 5) {
      if (everReady_) {
        // Same port required (restart): something holds it briefly; try again.
        std::this_thread::sleep_for(200ms);
      } else {
        port_ = 0;  // first start: another process took the port, pick a new one
      }
      spawn();
      continue;
    }
    throw std::runtime_error("redis " + name_ + " (port " + std::to_string(port_) + ") failed to start: " + why +
                             "\n--- " + logPath_.string() + " ---\n" + logTail(30));
  }
}

void RedisNode::start(std::optional<int> replicaOfPort, std::chrono::milliseconds timeout) {
  replicaOfPort_ = replicaOfPort;
  spawn();
  finishStart(timeout);
}

void RedisNode::restart(std::chrono::milliseconds timeout) {
  kill();
  spawn();
  finishStart(timeout);
}

void RedisNode::kill() {
  dropConnections();
  process_.kill();
}

void RedisNode::pause() { process_.pause(); }

void RedisNode::resume() { process_.resume(); }

void RedisNode::clientPauseWrite(std::chrono::milliseconds duration) {
  RedisReply r = reply({"CLIENT", "PAUSE", std::to_string(duration.count()), "WRITE"});
  if (r.isError()) throw std::runtime_error(name_ + ": CLIENT PAUSE failed: " + r.str);
}

void RedisNode::replicaOf(std::optional<int> primaryPort) {
  RedisReply r =
      primaryPort ? reply({"REPLICAOF", "127.0.0.1", std::to_string(*primaryPort)}) : reply({"REPLICAOF", "NO", "ONE"});
  if (r.isError()) throw std::runtime_error(name_ + ": REPLICAOF failed: " + r.str);
  replicaOfPort_ = primaryPort;
}

void RedisNode::dropConnections() {
  std::lock_guard lock(poolMutex_);
  idle_.clear();
  ++generation_;
}

RedisReply RedisNode::reply(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  std::unique_ptr<RespConnection> conn;
  std::uint64_t generation;
  {
    std::lock_guard lock(poolMutex_);
    generation = generation_;
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!conn) conn = openConnection(timeout);
  conn->setTimeout(timeout);
  RedisReply result = conn->command(argv);  // on RedisIoError the connection is dropped
  if (!changesConnectionState(argv)) {
    std::lock_guard lock(poolMutex_);
    if (generation == generation_ && idle_.size() < 8) idle_.push_back(std::move(conn));
  }
  return result;
}

std::string RedisNode::command(const std::vector<std::string>& argv) { return reply(argv).toString(); }

std::unique_ptr<RespConnection> RedisNode::connect(std::chrono::milliseconds timeout) {
  return openConnection(timeout);
}

std::map<std::string, std::string> RedisNode::info(const std::string& section) {
  RedisReply r = reply({"INFO", section});
  if (r.type != RedisReply::Type::Bulk) {
    throw std::runtime_error(name_ + ": INFO " + section + " failed: " + r.toString());
  }
  std::map<std::string, std::string> fields;
  std::istringstream lines(r.str);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    fields[line.substr(0, colon)] = line.substr(colon + 1);
  }
  return fields;
}

long long RedisNode::replOffset() {
  RedisReply r = reply({"ROLE"});
  if (r.type == RedisReply::Type::Array && !r.elements.empty()) {
    const std::string& role = r.elements[0].str;
    if (role == "master" && r.elements.size() >= 2) return r.elements[1].integer;
    if (role == "slave" && r.elements.size() >= 5) return r.elements[4].integer;
  }
  throw std::runtime_error(name_ + ": unexpected ROLE reply " + r.toString());
}

std::string RedisNode::replId() { return info("replication").at("master_replid"); }

std::string RedisNode::role() {
  RedisReply r = reply({"ROLE"});
  if (r.type != RedisReply::Type::Array || r.elements.empty()) {
    throw std::runtime_error(name_ + ": unexpected ROLE reply " + r.toString());
  }
  return r.elements[0].str;
}

bool RedisNode::linkUp() {
  try {
    auto fields = info("replication");
    auto it = fields.find("master_link_status");
    return it != fields.end() && it->second == "up";
  } catch (const std::exception&) {
    return false;
  }
}

void RedisNode::waitLinkUp(std::chrono::milliseconds timeout) {
  if (waitUntil([this] { return linkUp(); }, timeout, 20ms)) return;
  throw std::runtime_error("redis " + name_ + " (port " + std::to_string(port_) +
                           "): master_link_status not up after " + std::to_string(timeout.count()) + " ms\n--- " +
                           logPath_.string() + " ---\n" + logTail(30));
}

// --- RedisCluster ----------------------------------------------------------------------

namespace {
RedisClusterOptions withReplicas(int replicas) {
  RedisClusterOptions options;
  options.replicas = replicas;
  return options;
}
}  // namespace

RedisCluster::RedisCluster(int replicas) : RedisCluster(withReplicas(replicas)) {}

RedisCluster::RedisCluster(RedisClusterOptions options) : options_(std::move(options)), dir_("cxproxy-redis") {
  try {
    nodes_.push_back(std::make_unique<RedisNode>("primary", dir_.path(), options_.extraArgs, options_.tls));
    for (int i = 1; i <= options_.replicas; ++i) {
      nodes_.push_back(
          std::make_unique<RedisNode>("replica-" + std::to_string(i), dir_.path(), options_.extraArgs, options_.tls));
    }
    nodes_[0]->start();
    // Replicas answer PING at once and then sync concurrently (diskless, no delay).
    for (std::size_t i = 1; i < nodes_.size(); ++i) nodes_[i]->start(nodes_[0]->port());
    for (std::size_t i = 1; i < nodes_.size(); ++i) nodes_[i]->waitLinkUp(options_.startTimeout);
  } catch (...) {
    stop();
    throw;
  }
}

RedisCluster::~RedisCluster() {
  if (::testing::Test::HasFailure()) {
    for (auto& node : nodes_) {
      std::cerr << "--- last lines of " << node->logPath().string() << " ---\n" << node->logTail(15);
    }
  }
  stop();
}

RedisNode& RedisCluster::node(std::size_t i) {
  if (i >= nodes_.size()) throw std::out_of_range("RedisCluster::node " + std::to_string(i));
  return *nodes_[i];
}

const RedisNode& RedisCluster::node(std::size_t i) const {
  if (i >= nodes_.size()) throw std::out_of_range("RedisCluster::node " + std::to_string(i));
  return *nodes_[i];
}

std::vector<std::size_t> RedisCluster::replicaIndices() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (i != primaryIndex_) out.push_back(i);
  }
  return out;
}

void RedisCluster::waitSynced(std::chrono::milliseconds timeout) {
  long long target = replOffset(primaryIndex_);
  for (std::size_t i : replicaIndices()) {
    RedisNode& replica = node(i);
    if (!replica.running() || replica.paused()) continue;
    bool synced = waitUntil([&] { return replica.linkUp() && replica.replOffset() >= target; }, timeout, 10ms);
    if (!synced) {
      throw std::runtime_error("redis " + replica.name() + " did not reach offset " + std::to_string(target) +
                               " within " + std::to_string(timeout.count()) + " ms\n" + replica.logTail(20));
    }
  }
}

void RedisCluster::promote(std::size_t i) {
  node(i).replicaOf(std::nullopt);
  primaryIndex_ = i;
}

void RedisCluster::replicaOf(std::size_t replica, std::size_t primary) { node(replica).replicaOf(port(primary)); }

void RedisCluster::stop() {
  for (auto& node : nodes_) node->kill();
}

}  // namespace cx::testing
