// The pipelined backend connection against a real redis-server: calls that leave in one
// write share one trailer command (ROLE), each gets its own replies, a server that stops
// answering or goes away fails every waiting call, trailer followers included, and calls
// made while the connect is under way wait for it.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/connection.h"
#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

namespace asio = boost::asio;
using backends::BackendError;
using backends::Connection;
using backends::ExecResult;
using backends::RespType;
using namespace std::chrono_literals;

constexpr std::string_view kRole = "*1\r\n$4\r\nROLE\r\n";
constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";

std::string setCommand(const std::string& key) {
  const std::array<std::string_view, 3> argv{"SET", key, "value"};
  return backends::encodeCommand(argv);
}

long long roleCalls(RedisCluster& cluster) {
  const auto stats = cluster.node(0).info("commandstats");
  auto it = stats.find("cmdstat_role");
  if (it == stats.end()) return 0;
  // calls=N,usec=...
  return std::stoll(it->second.substr(it->second.find('=') + 1));
}

class ConnectionTest : public ::testing::Test {
 protected:
  ConnectionTest() : cluster_(0) {
    backends::ConnectionOptions options;
    options.port = static_cast<std::uint16_t>(cluster_.primaryPort());
    connection_ = std::make_shared<Connection>(io_.get_executor(), options);
    connection_->start();
    bool done = false;
    bool connected = false;
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          connected = co_await connection_->waitConnected(10s);
          done = true;
        },
        asio::detached);
    while (!done) io_.run_one();
    EXPECT_TRUE(connected) << connection_->lastError();
  }

  ~ConnectionTest() override {
    connection_->stop();
    io_.poll();
  }

  // Starts one call per command, all before the connection's writer runs (so they leave
  // in one write), and runs the io_context until every call has returned.
  std::vector<ExecResult> runTogether(const std::vector<std::pair<std::string, std::string_view>>& calls,
                                      std::chrono::milliseconds timeout = 5s) {
    std::vector<std::optional<ExecResult>> results(calls.size());
    std::size_t finished = 0;
    for (std::size_t i = 0; i < calls.size(); ++i) {
      asio::co_spawn(
          io_,
          [&, i]() -> asio::awaitable<void> {
            results[i] = co_await connection_->execute(calls[i].first, 1, timeout, calls[i].second);
            ++finished;
          },
          asio::detached);
    }
    while (finished < calls.size()) io_.run_one();
    std::vector<ExecResult> out;
    for (auto& r : results) out.push_back(std::move(*r));
    return out;
  }

  RedisCluster cluster_;
  asio::io_context io_;
  std::shared_ptr<Connection> connection_;
};

TEST_F(ConnectionTest, CallsInOneWriteShareOneTrailer) {
  cluster_.command(0, {"CONFIG", "RESETSTAT"});
  std::vector<std::pair<std::string, std::string_view>> calls;
  for (int i = 0; i < 20; ++i) calls.emplace_back(setCommand("shared:" + std::to_string(i)), kRole);
  auto results = runTogether(calls);
  const long long roleRuns = roleCalls(cluster_);
  const long long offsetAfter = cluster_.node(0).replOffset();  // a ROLE of its own
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    ASSERT_TRUE(r.ok()) << i << ": " << backends::toString(r.error);
    ASSERT_EQ(r.replies.size(), 1u) << i;
    EXPECT_EQ(r.replies[0].str, "OK") << i;
    ASSERT_NE(r.trailer, nullptr) << i;
    EXPECT_EQ(r.trailer.get(), results[0].trailer.get()) << i << ": one reply, shared";
  }
  // ROLE ran once, after every SET: its offset covers all twenty writes.
  EXPECT_EQ(roleRuns, 1);
  const auto& role = *results[0].trailer;
  ASSERT_EQ(role.type, RespType::Array);
  ASSERT_GE(role.elements.size(), 2u);
  EXPECT_EQ(role.elements[0].str, "master");
  EXPECT_EQ(role.elements[1].integer, offsetAfter);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(cluster_.command(0, {"GET", "shared:" + std::to_string(i)}), "value");
}

TEST_F(ConnectionTest, CallsWithoutATrailerGetNone) {
  cluster_.command(0, {"CONFIG", "RESETSTAT"});
  auto results =
      runTogether({{setCommand("plain:1"), {}}, {setCommand("plain:2"), kRole}, {setCommand("plain:3"), {}}});
  ASSERT_TRUE(results[0].ok() && results[1].ok() && results[2].ok());
  EXPECT_EQ(results[0].trailer, nullptr);
  EXPECT_NE(results[1].trailer, nullptr);
  EXPECT_EQ(results[2].trailer, nullptr);
  for (const auto& r : results) {
    ASSERT_EQ(r.replies.size(), 1u);
    EXPECT_EQ(r.replies[0].str, "OK");
  }
  EXPECT_EQ(roleCalls(cluster_), 1);
}

TEST_F(ConnectionTest, ADifferentTrailerTravelsWithItsOwnCall) {
  cluster_.command(0, {"CONFIG", "RESETSTAT"});
  auto results =
      runTogether({{setCommand("mixed:1"), kRole}, {setCommand("mixed:2"), kPing}, {setCommand("mixed:3"), kRole}});
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << backends::toString(r.error);
    ASSERT_EQ(r.replies.size(), 1u);
    EXPECT_EQ(r.replies[0].str, "OK");
    ASSERT_NE(r.trailer, nullptr);
  }
  EXPECT_EQ(results[1].trailer->str, "PONG");
  EXPECT_EQ(results[0].trailer.get(), results[2].trailer.get());
  EXPECT_EQ(results[0].trailer->type, RespType::Array);
  EXPECT_EQ(roleCalls(cluster_), 1);
}

TEST_F(ConnectionTest, AServerThatStopsAnsweringTimesOutEveryFollower) {
  cluster_.pause(0);
  std::vector<std::pair<std::string, std::string_view>> calls;
  for (int i = 0; i < 5; ++i) calls.emplace_back(setCommand("paused:" + std::to_string(i)), kRole);
  calls.emplace_back(setCommand("paused:plain"), std::string_view{});
  auto results = runTogether(calls, 300ms);
  cluster_.resume(0);
  for (const auto& r : results) EXPECT_EQ(r.error, BackendError::Timeout);
}

// The router's stall signal: when the oldest call still owed replies was sent.
TEST_F(ConnectionTest, OldestWaitingSinceIsWhenTheOldestUnansweredCallWasSent) {
  using std::chrono::steady_clock;
  EXPECT_EQ(connection_->oldestWaitingSince(), steady_clock::time_point::max());
  cluster_.pause(0);
  const auto before = steady_clock::now();
  std::size_t finished = 0;
  for (int i = 0; i < 3; ++i) {
    asio::co_spawn(
        io_,
        [&, i]() -> asio::awaitable<void> {
          co_await connection_->execute(setCommand("owed:" + std::to_string(i)), 1, 200ms);
          ++finished;
        },
        asio::detached);
  }
  while (connection_->waiting() < 3) io_.run_one();
  const auto since = connection_->oldestWaitingSince();
  EXPECT_GE(since, before);
  EXPECT_LE(since, steady_clock::now());
  // The callers give up; the server still owes the replies, so the calls still wait.
  while (finished < 3) io_.run_one();
  EXPECT_EQ(connection_->waiting(), 3u);
  EXPECT_EQ(connection_->oldestWaitingSince(), since);
  cluster_.resume(0);
  while (connection_->waiting() > 0) io_.run_one();
  EXPECT_EQ(connection_->oldestWaitingSince(), steady_clock::time_point::max());
}

// A reply resumes its caller inside the reader's turn (no posted hop), and callers here
// at once send their next call on the same connection, with and without the shared
// trailer, while the reader is still taking replies from the same read. Every call must
// still get its own reply: each INCR's count is exactly its place in its chain.
TEST_F(ConnectionTest, CallersResumedByTheReaderCanCallAgainAtOnce) {
  constexpr int kChains = 16;
  constexpr int kSteps = 40;
  std::vector<std::string> failures;
  int finished = 0;
  for (int c = 0; c < kChains; ++c) {
    asio::co_spawn(
        io_,
        [&, c]() -> asio::awaitable<void> {
          const std::string key = "chain:" + std::to_string(c);
          for (int step = 1; step <= kSteps; ++step) {
            const std::array<std::string_view, 2> incr{"INCR", key};
            const bool withTrailer = (c + step) % 3 != 0;
            auto r = co_await connection_->execute(backends::encodeCommand(incr), 1, 5s,
                                                   withTrailer ? kRole : std::string_view{});
            if (!r.ok() || r.replies.size() != 1 || r.replies[0].type != RespType::Integer ||
                r.replies[0].integer != step || (r.trailer != nullptr) != withTrailer) {
              failures.push_back(
                  key + " step " + std::to_string(step) + ": " + std::string(backends::toString(r.error)) +
                  (r.replies.empty() ? std::string(" no reply") : " reply " + std::to_string(r.replies[0].integer)));
              break;
            }
          }
          ++finished;
        },
        asio::detached);
  }
  while (finished < kChains) io_.run_one();
  EXPECT_TRUE(failures.empty()) << failures.front();
  for (int c = 0; c < kChains; ++c) {
    EXPECT_EQ(cluster_.command(0, {"GET", "chain:" + std::to_string(c)}), std::to_string(kSteps)) << c;
  }
  EXPECT_EQ(connection_->waiting(), 0u);
}

TEST_F(ConnectionTest, AServerThatGoesAwayFailsEveryFollower) {
  cluster_.pause(0);
  std::vector<std::optional<ExecResult>> results(4);
  std::size_t finished = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    asio::co_spawn(
        io_,
        [&, i]() -> asio::awaitable<void> {
          results[i] = co_await connection_->execute(setCommand("gone:" + std::to_string(i)), 1, 30s, kRole);
          ++finished;
        },
        asio::detached);
  }
  // Let the calls leave in one write, then take the server away.
  for (int i = 0; i < 100 && connection_->waiting() < results.size(); ++i) io_.run_one_for(10ms);
  ASSERT_GE(connection_->waiting(), results.size());
  cluster_.node(0).kill();
  while (finished < results.size()) io_.run_one();
  for (const auto& r : results) EXPECT_EQ(r->error, BackendError::ConnectionLost);
}

// Calls made while the first connect is still under way wait for it instead of failing
// as unavailable, through execute() (coroutine callers) and submit() (the data path's
// callbacks) alike.
TEST_F(ConnectionTest, CallsMadeWhileConnectingWaitForTheConnect) {
  backends::ConnectionOptions options;
  options.port = static_cast<std::uint16_t>(cluster_.primaryPort());
  auto fresh = std::make_shared<Connection>(io_.get_executor(), options);
  fresh->start();  // its connect loop begins in the io_context's next turn
  std::optional<ExecResult> viaExecute;
  std::optional<ExecResult> viaSubmit;
  bool connectedWhenCalled = true;
  asio::co_spawn(  // queued after the connect loop: runs once it waits for its connect
      io_,
      [&]() -> asio::awaitable<void> {
        connectedWhenCalled = fresh->connected();
        fresh->submit(std::string(kPing), 1, 5s, {}, [&](ExecResult r) { viaSubmit = std::move(r); });
        viaExecute = co_await fresh->execute(std::string(kPing), 1, 5s);
      },
      asio::detached);
  while (!viaExecute || !viaSubmit) io_.run_one();
  EXPECT_FALSE(connectedWhenCalled);
  for (const auto* r : {&*viaExecute, &*viaSubmit}) {
    ASSERT_TRUE(r->ok()) << backends::toString(r->error);
    ASSERT_EQ(r->replies.size(), 1u);
    EXPECT_EQ(r->replies[0].str, "PONG");
  }
  fresh->stop();
  io_.poll();
}

}  // namespace
}  // namespace cx::testing
