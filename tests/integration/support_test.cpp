// Self-test of the integration support library: real redis-server clusters (replication,
// pause/resume, kill/restart, cleanup) and the HTTP client against a canned server.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

using Clock = std::chrono::steady_clock;

bool processExists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

TEST(RedisClusterTest, WritesOnThePrimaryReachEveryReplica) {
  RedisCluster cluster(2);
  ASSERT_EQ(cluster.size(), 3u);
  EXPECT_EQ(cluster.name(0), "primary");
  EXPECT_EQ(cluster.name(2), "replica-2");
  EXPECT_EQ(cluster.node(0).role(), "master");
  EXPECT_EQ(cluster.node(1).role(), "slave");
  EXPECT_TRUE(cluster.linkUp(1));
  EXPECT_TRUE(cluster.linkUp(2));

  EXPECT_EQ(cluster.command(0, {"SET", "greeting", "hello world"}), "OK");
  EXPECT_EQ(cluster.command(0, {"INCRBY", "counter", "41"}), "41");
  cluster.waitSynced();
  for (std::size_t i : {1u, 2u}) {
    EXPECT_EQ(cluster.command(i, {"GET", "greeting"}), "hello world");
    EXPECT_EQ(cluster.command(i, {"GET", "counter"}), "41");
    EXPECT_EQ(cluster.replId(i), cluster.replId(0));
    EXPECT_GE(cluster.replOffset(i), 0);
  }
  EXPECT_EQ(cluster.command(1, {"GET", "missing"}), "(nil)");
  EXPECT_EQ(cluster.command(1, {"SET", "x", "y"}).rfind("(error) READONLY", 0), 0u);
  RedisReply role = cluster.reply(0, {"ROLE"});
  ASSERT_EQ(role.type, RedisReply::Type::Array);
  EXPECT_EQ(role.elements[2].elements.size(), 2u);  // two connected replicas

  // Binary-safe values and the debug command are available.
  std::string binary("a\0b\r\nc", 6);
  EXPECT_EQ(cluster.command(0, {"SET", "bin", binary}), "OK");
  EXPECT_EQ(cluster.reply(0, {"GET", "bin"}).str, binary);
  EXPECT_EQ(cluster.command(0, {"DEBUG", "SLEEP", "0"}), "OK");
}

TEST(RedisClusterTest, PausedReplicaFallsBehindAndCatchesUpAfterResume) {
  RedisCluster cluster(2);
  cluster.pause(1);
  EXPECT_TRUE(cluster.node(1).paused());
  EXPECT_EQ(cluster.command(0, {"SET", "k", "v1"}), "OK");
  long long primaryOffset = cluster.replOffset(0);

  // The paused replica answers nothing: calls fail at their deadline instead of hanging.
  auto start = Clock::now();
  EXPECT_THROW(cluster.reply(1, {"GET", "k"}, 300ms), RedisIoError);
  EXPECT_LT(Clock::now() - start, 5s);

  // The other replica is unaffected.
  EXPECT_TRUE(waitUntil([&] { return cluster.replOffset(2) >= primaryOffset; }, 5s));
  EXPECT_EQ(cluster.command(2, {"GET", "k"}), "v1");

  cluster.resume(1);
  EXPECT_FALSE(cluster.node(1).paused());
  cluster.waitSynced(10s);
  EXPECT_EQ(cluster.command(1, {"GET", "k"}), "v1");
  EXPECT_GE(cluster.replOffset(1), primaryOffset);
}

TEST(RedisClusterTest, KilledPrimaryRestartsOnTheSamePortEmptyAndReplicasResync) {
  RedisCluster cluster(2);
  EXPECT_EQ(cluster.command(0, {"SET", "before", "crash"}), "OK");
  cluster.waitSynced();
  int port = cluster.port(0);
  pid_t oldPid = cluster.pid(0);
  std::string oldReplId = cluster.replId(0);

  cluster.kill(0);
  EXPECT_FALSE(cluster.node(0).running());
  EXPECT_FALSE(processExists(oldPid));
  EXPECT_THROW(cluster.command(0, {"PING"}), RedisIoError);
  EXPECT_TRUE(waitUntil([&] { return !cluster.linkUp(1); }, 10s));
  EXPECT_EQ(cluster.command(1, {"GET", "before"}), "crash");  // stale data still served

  cluster.restart(0);
  EXPECT_EQ(cluster.port(0), port);
  EXPECT_NE(cluster.pid(0), oldPid);
  EXPECT_EQ(cluster.command(0, {"PING"}), "PONG");
  EXPECT_EQ(cluster.command(0, {"DBSIZE"}), "0");  // no persistence
  EXPECT_NE(cluster.replId(0), oldReplId);

  cluster.waitLinkUp(1);
  cluster.waitLinkUp(2);
  cluster.waitSynced();
  EXPECT_EQ(cluster.replId(1), cluster.replId(0));
  EXPECT_EQ(cluster.command(1, {"GET", "before"}), "(nil)");  // full resync to the empty primary
  EXPECT_EQ(cluster.command(0, {"SET", "after", "restart"}), "OK");
  cluster.waitSynced();
  EXPECT_EQ(cluster.command(2, {"GET", "after"}), "restart");
}

TEST(RedisClusterTest, RestartedReplicaComesBackEmptyAndResyncs) {
  RedisCluster cluster(1);
  EXPECT_EQ(cluster.command(0, {"SET", "k", "v"}), "OK");
  cluster.waitSynced();
  cluster.kill(1);
  EXPECT_EQ(cluster.command(0, {"SET", "k2", "v2"}), "OK");
  cluster.restart(1);
  cluster.waitLinkUp(1);
  cluster.waitSynced();
  EXPECT_EQ(cluster.command(1, {"GET", "k2"}), "v2");
}

TEST(RedisClusterTest, ClientPauseWriteDelaysWritesButNotReads) {
  RedisCluster cluster(0);
  EXPECT_EQ(cluster.command(0, {"SET", "k", "v"}), "OK");
  cluster.clientPauseWrite(0, 600ms);
  auto start = Clock::now();
  EXPECT_EQ(cluster.command(0, {"GET", "k"}), "v");
  EXPECT_LT(Clock::now() - start, 300ms);
  start = Clock::now();
  EXPECT_EQ(cluster.command(0, {"SET", "k", "w"}), "OK");
  EXPECT_GE(Clock::now() - start, 300ms);
}

TEST(RedisClusterTest, PromotedReplicaTakesOverWithTheOldHistoryAsReplid2) {
  RedisCluster cluster(2);
  EXPECT_EQ(cluster.command(0, {"SET", "k", "v"}), "OK");
  cluster.waitSynced();
  std::string oldReplId = cluster.replId(0);
  cluster.kill(0);
  cluster.promote(1);
  cluster.replicaOf(2, 1);
  EXPECT_EQ(cluster.primaryIndex(), 1u);
  EXPECT_EQ(cluster.replicaIndices(), (std::vector<std::size_t>{0, 2}));
  EXPECT_EQ(cluster.node(1).role(), "master");
  EXPECT_EQ(cluster.node(1).info("replication").at("master_replid2"), oldReplId);
  cluster.waitLinkUp(2);
  EXPECT_EQ(cluster.command(1, {"SET", "k", "v2"}), "OK");
  cluster.waitSynced();
  EXPECT_EQ(cluster.command(2, {"GET", "k"}), "v2");
}

TEST(RedisClusterTest, ConcurrentCommandsFromSeveralThreads) {
  RedisCluster cluster(0);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (cluster.command(0, {"INCR", "n"}).empty()) ++failures;
      }
      (void)t;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(cluster.command(0, {"GET", "n"}), "800");
}

TEST(RedisClusterTest, DestructorKillsEveryProcessEvenPausedOnes) {
  std::vector<pid_t> pids;
  std::filesystem::path dir;
  {
    RedisCluster cluster(2);
    for (std::size_t i = 0; i < cluster.size(); ++i) pids.push_back(cluster.pid(i));
    dir = cluster.dir();
    cluster.pause(0);
    cluster.pause(2);
  }
  for (pid_t pid : pids) EXPECT_FALSE(processExists(pid)) << pid;
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(RedisClusterTest, PipelinedDedicatedConnection) {
  RedisCluster cluster(0);
  auto conn = cluster.node(0).connect();
  conn->send({"MULTI"});
  conn->send({"SET", "a", "1"});
  conn->send({"INCR", "a"});
  conn->send({"EXEC"});
  EXPECT_EQ(conn->read().str, "OK");
  EXPECT_EQ(conn->read().str, "QUEUED");
  EXPECT_EQ(conn->read().str, "QUEUED");
  EXPECT_EQ(conn->read().toString(), "[OK, 2]");
}

TEST(ProcessTest, FreePortsAreDistinctAndBindable) {
  int a = freePort();
  int b = freePort();
  EXPECT_NE(a, b);
  EXPECT_GE(a, 1024);
  EXPECT_LT(a, 65536);
}

// --- HttpClient against a canned server ------------------------------------------------

// Accepts one connection on a free port, reads until it has seen `requests` header
// blocks, writes `reply`, then optionally closes.
class CannedServer {
 public:
  CannedServer(std::string reply, int requests, bool closeAfter)
      : reply_(std::move(reply)), requests_(requests), closeAfter_(closeAfter) {
    listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    port_ = freePort();
    addr.sin_port = htons(static_cast<std::uint16_t>(port_));
    if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listenFd_, 4) != 0) {
      throw std::runtime_error("canned server: bind failed");
    }
    thread_ = std::thread([this] { serve(); });
  }
  ~CannedServer() {
    ::shutdown(listenFd_, SHUT_RDWR);
    thread_.join();
    ::close(listenFd_);
  }
  int port() const { return port_; }
  std::string received() const { return received_; }

 private:
  void serve() {
    int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    char buf[4096];
    int seen = 0;
    while (seen < requests_) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      received_.append(buf, static_cast<std::size_t>(n));
      seen = 0;
      for (auto pos = received_.find("\r\n\r\n"); pos != std::string::npos; pos = received_.find("\r\n\r\n", pos + 4)) {
        ++seen;
      }
    }
    ::send(fd, reply_.data(), reply_.size(), MSG_NOSIGNAL);
    if (closeAfter_) {
      ::close(fd);
    } else {
      while (::recv(fd, buf, sizeof buf, 0) > 0) {
      }
      ::close(fd);
    }
  }

  std::string reply_;
  int requests_;
  bool closeAfter_;
  int listenFd_ = -1;
  int port_ = 0;
  std::string received_;
  std::thread thread_;
};

TEST(HttpClientTest, ParsesStatusHeadersAndBody) {
  CannedServer server(
      "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nX-Consistency: eventual\r\n"
      "X-Multi: a\r\nX-Multi: b\r\nContent-Length: 5\r\n\r\nhello",
      1, true);
  HttpClient client(server.port(), 5s);
  HttpResponse response = client.request("PUT", "/v1/kv/k", "value", {{"X-Consistency", "strong"}});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "hello");
  EXPECT_EQ(response.header("x-consistency"), "eventual");
  EXPECT_EQ(response.header("X-Consistency"), "eventual");
  EXPECT_EQ(response.headers.at("x-multi"), "a, b");
  EXPECT_FALSE(response.hasHeader("x-session-token"));
  std::string received = server.received();
  EXPECT_NE(received.find("PUT /v1/kv/k HTTP/1.1\r\n"), std::string::npos);
  EXPECT_NE(received.find("X-Consistency: strong\r\n"), std::string::npos);
  EXPECT_NE(received.find("Content-Length: 5\r\n"), std::string::npos);
}

TEST(HttpClientTest, RawModeCountsPipelinedResponsesAndKeepsTheRest) {
  std::string one = "HTTP/1.1 204 No Content\r\n\r\n";
  std::string two = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnop";
  std::string three = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
  CannedServer server(one + two + three, 3, false);
  HttpClient client(server.port(), 5s);
  std::string requests =
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /c HTTP/1.1\r\nHost: x\r\n\r\n";
  RawResult first = client.exchangeRaw(requests, 2);
  ASSERT_EQ(first.responses.size(), 2u);
  EXPECT_EQ(first.responses[0].status, 204);
  EXPECT_EQ(first.responses[1].status, 404);
  EXPECT_EQ(first.responses[1].body, "nop");
  EXPECT_EQ(first.bytes, one + two);
  EXPECT_FALSE(first.closed);
  RawResult second = client.readRaw(1);
  ASSERT_EQ(second.responses.size(), 1u);
  EXPECT_EQ(second.responses[0].body, "abc");
  // Nothing more comes: a short read times out instead of hanging.
  RawResult third = client.readRaw(1, 200ms);
  EXPECT_TRUE(third.timedOut);
  EXPECT_TRUE(third.responses.empty());
}

TEST(HttpClientTest, RawModeReportsCloseAndPartialBytes) {
  CannedServer server("HTTP/1.1 400 Bad Request\r\nContent-Length: 10\r\n\r\nshort", 1, true);
  HttpClient client(server.port(), 5s);
  RawResult result = client.exchangeRaw("GARBAGE\r\n\r\n", HttpClient::kUntilClose);
  EXPECT_TRUE(result.closed);
  EXPECT_TRUE(result.responses.empty());
  EXPECT_EQ(result.bytes, "HTTP/1.1 400 Bad Request\r\nContent-Length: 10\r\n\r\nshort");
}

TEST(HttpClientTest, RequestTimesOutOnASilentServer) {
  CannedServer server("", 2, false);  // never answers the first request
  HttpClient client(server.port(), 300ms);
  auto start = Clock::now();
  EXPECT_THROW(client.get("/slow"), HttpError);
  EXPECT_LT(Clock::now() - start, 5s);
  client.close();
}

TEST(HttpClientTest, ConnectionRefusedThrows) {
  HttpClient client(freePort(), 1s);
  EXPECT_THROW(client.get("/"), HttpError);
}

}  // namespace
}  // namespace cx::testing
