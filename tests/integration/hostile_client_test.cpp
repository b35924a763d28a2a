// Hostile clients against the real cxproxy binary in front of a real Redis primary and two
// replicas (README "Hostile clients"): request smuggling shapes (the HTTP/1.0 +
// Transfer-Encoding one of RFC 9112 §6.1, CL+TE, two Content-Lengths, obs-fold, bare LF
// and CR, huge and negative chunk sizes, NUL and spaces in field names, Host missing or
// repeated), header floods, garbage pipelined after a valid request, and a slowloris of
// hundreds of connections. Each must get a 4xx or a close, nothing it carries may reach
// Redis (checked on every node: keyspace and the data commands' call counts), and the
// process must keep serving a normal client.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

using namespace std::string_literals;

std::string describe(const HttpResponse& r) {
  std::string out = std::to_string(r.status) + " " + r.body;
  for (const auto& [name, value] : r.headers) out += "\n  " + name + ": " + value;
  return out;
}

// What the bytes of one attack must and must not have done.
struct Attack {
  std::string name;
  std::string bytes;
  // The server answered at least one 4xx (false: a close without an answer is also fine,
  // for attacks the server may cut off while the client is still sending).
  bool answered = true;
  std::size_t validFirst = 0;  // valid requests at the front that are served (2xx) first
};

// The data commands a request could become; their call counts on a node must not move.
const std::vector<std::string> kDataCommands = {"get", "set", "del", "unlink", "getex", "strlen", "append", "mget"};

std::map<std::string, long long> dataCommandCalls(RedisCluster& cluster, std::size_t node) {
  std::map<std::string, long long> calls;
  const std::string info = cluster.command(node, {"INFO", "commandstats"});
  for (const auto& name : kDataCommands) {
    const std::string tag = "cmdstat_" + name + ":calls=";
    const auto at = info.find(tag);
    calls[name] = at == std::string::npos ? 0 : std::stoll(info.substr(at + tag.size()));
  }
  return calls;
}

class HostileClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      cluster_ = std::make_unique<RedisCluster>(2);
      // Short header and body deadlines so the slowloris test ends soon; it asserts no
      // durations.
      proxy_ = std::make_unique<CxproxyProcess>(*cluster_, "limits: {header_timeout: 3s, body_timeout: 3s}\n");
    } catch (const std::exception& e) {
      setupError_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    proxy_.reset();
    cluster_.reset();
  }
  void SetUp() override {
    ASSERT_TRUE(setupError_.empty()) << "suite set-up failed: " << setupError_;
    ASSERT_EQ(cluster_->command(cluster_->primaryIndex(), {"FLUSHALL"}), "OK");
  }
  void TearDown() override {
    if (HasFailure() && proxy_) std::cerr << "--- cxproxy output tail ---\n" << proxy_->outputTail(40);
  }

  static int port() { return proxy_->dataPort(); }

  std::vector<std::map<std::string, long long>> callsOnEveryNode() {
    std::vector<std::map<std::string, long long>> all;
    for (std::size_t i = 0; i < cluster_->size(); ++i) all.push_back(dataCommandCalls(*cluster_, i));
    return all;
  }

  // Redis's keyspace on every node, as KEYS * sees it, but for the normal client's keys.
  std::vector<std::string> keysOnEveryNode() {
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < cluster_->size(); ++i) {
      const RedisReply r = cluster_->reply(i, {"KEYS", "*"});
      for (const auto& e : r.elements) {
        if (e.str.rfind("normal:", 0) != 0) keys.push_back(cluster_->name(i) + ":" + e.str);
      }
    }
    return keys;
  }

  // Until both replicas have applied everything the primary did: from then on a replica's
  // call counts only move if something new reaches it.
  void settleReplication() {
    const RedisReply r = cluster_->reply(cluster_->primaryIndex(), {"WAIT", "2", "10000"});
    ASSERT_EQ(r.integer, 2) << r.toString();
  }

  // A normal client is served: a write and a strong read of it.
  void expectStillServing(const std::string& context) {
    ASSERT_TRUE(proxy_->running()) << context << ": cxproxy exited";
    HttpClient normal(port());
    const std::string key = "/v1/kv/normal:" + std::to_string(++normalWrites_);
    const HttpResponse put = normal.put(key, "fine");
    EXPECT_EQ(put.status, 204) << context << ": " << describe(put);
    const HttpResponse get = normal.get(key, {{"X-Consistency", "strong"}});
    EXPECT_EQ(get.status, 200) << context << ": " << describe(get);
    EXPECT_EQ(get.body, "fine") << context;
  }

  // Sends the attack on a fresh connection and checks the answer and that nothing it
  // carried reached any Redis node (but for the keys of `written`, from its valid
  // requests at the front).
  void expectRefused(const Attack& attack, const std::map<std::string, std::string>& written = {}) {
    SCOPED_TRACE(attack.name);
    settleReplication();
    const auto before = callsOnEveryNode();
    HttpClient c(port());
    if (c.sendRaw(attack.bytes)) {
      const RawResult r = c.readRaw(HttpClient::kUntilClose);
      EXPECT_TRUE(r.closed) << "the connection stayed open after: " << r.bytes.substr(0, 2000);
      EXPECT_FALSE(r.timedOut);
      EXPECT_TRUE(r.parseError.empty()) << r.parseError << "\n" << r.bytes.substr(0, 2000);
      ASSERT_GE(r.responses.size(), attack.validFirst) << r.bytes.substr(0, 2000);
      for (std::size_t i = 0; i < attack.validFirst; ++i) {
        EXPECT_EQ(r.responses[i].status / 100, 2) << describe(r.responses[i]);
      }
      if (attack.answered) {
        EXPECT_GT(r.responses.size(), attack.validFirst) << "no 4xx: " << r.bytes.substr(0, 2000);
      }
      for (std::size_t i = attack.validFirst; i < r.responses.size(); ++i) {
        EXPECT_EQ(r.responses[i].status / 100, 4) << describe(r.responses[i]);
      }
    } else {
      // The server closed the connection while the client was still sending (its
      // answer may be lost with the reset): allowed only where a close is an answer.
      EXPECT_FALSE(attack.answered) << "the server closed without an answer";
    }
    if (attack.validFirst == 0) {
      EXPECT_EQ(callsOnEveryNode(), before) << "a data command reached Redis";
    }
    std::vector<std::string> expected;
    for (const auto& [key, value] : written) {
      expected.push_back(cluster_->name(cluster_->primaryIndex()) + ":" + key);
      EXPECT_EQ(cluster_->command(cluster_->primaryIndex(), {"GET", key}), value);
    }
    std::vector<std::string> keys;
    for (const auto& k : keysOnEveryNode()) {
      if (k.rfind(cluster_->name(cluster_->primaryIndex()) + ":", 0) == 0) keys.push_back(k);
    }
    std::sort(keys.begin(), keys.end());
    EXPECT_EQ(keys, expected) << "keys written on the primary";
    if (written.empty()) {
      EXPECT_EQ(keysOnEveryNode(), std::vector<std::string>{}) << "a key was written";
    }
    expectStillServing(attack.name);
    ASSERT_EQ(cluster_->command(cluster_->primaryIndex(), {"FLUSHALL"}), "OK");
  }

  static inline std::unique_ptr<RedisCluster> cluster_;
  static inline std::unique_ptr<CxproxyProcess> proxy_;
  static inline std::string setupError_;
  int normalWrites_ = 0;
};

// The bytes of the report, as sent: a front end that frames per RFC 9112 §6.1 sees an
// HTTP/1.0 GET whose body runs to the close, so the PUT is that body's junk; a server
// that reads the chunked framing would run the PUT. cxproxy answers 400 and closes.
TEST_F(HostileClientTest, Http10WithTransferEncodingIsRefusedAndTheSmuggledPutNeverRuns) {
  const std::string bytes =
      "GET /v1/kv/a HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
      "PUT /v1/kv/smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nbad";
  HttpClient c(port());
  ASSERT_TRUE(c.sendRaw(bytes));
  const RawResult r = c.readRaw(HttpClient::kUntilClose, 10s);
  settleReplication();
  for (std::size_t i = 0; i < cluster_->size(); ++i) {
    EXPECT_TRUE(cluster_->reply(i, {"GET", "smuggled"}).isNil())
        << "Redis holds the smuggled key on " << cluster_->name(i);
  }
  EXPECT_TRUE(r.closed);
  ASSERT_EQ(r.responses.size(), 1u) << r.bytes;
  EXPECT_EQ(r.responses[0].status, 400) << describe(r.responses[0]);
  expectStillServing("after the smuggling attempt");
}

TEST_F(HostileClientTest, Http11WithoutHostOrWithTwoHostsIsRefused) {
  for (const auto& [name, head] : std::vector<std::pair<std::string, std::string>>{
           {"no Host", "PUT /v1/kv/nohost HTTP/1.1\r\nContent-Length: 2\r\n\r\nok"},
           {"two Hosts", "PUT /v1/kv/twohosts HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 2\r\n\r\nok"},
           {"two Hosts, one value",
            "PUT /v1/kv/twohosts HTTP/1.1\r\nHost: a\r\nhost: a\r\nContent-Length: 2\r\n\r\nok"},
           {"two Hosts in HTTP/1.0",
            "PUT /v1/kv/twohosts HTTP/1.0\r\nHost: a\r\nHost: b\r\nContent-Length: 2\r\n\r\nok"},
           {"a Host that is no host", "PUT /v1/kv/badhost HTTP/1.1\r\nHost: a b/c\r\nContent-Length: 2\r\n\r\nok"},
       }) {
    expectRefused({name, head});
  }
  // HTTP/1.0 may omit Host; an empty Host (a target without authority) is valid too.
  HttpClient c(port());
  const RawResult r = c.exchangeRaw("PUT /v1/kv/old HTTP/1.0\r\nContent-Length: 2\r\n\r\nok", HttpClient::kUntilClose);
  ASSERT_EQ(r.responses.size(), 1u) << r.bytes;
  EXPECT_EQ(r.responses[0].status, 204) << describe(r.responses[0]);
  HttpClient empty(port());
  const RawResult e = empty.exchangeRaw("GET /v1/kv/old HTTP/1.1\r\nHost:\r\nX-Consistency: strong\r\n\r\n", 1);
  ASSERT_EQ(e.responses.size(), 1u) << e.bytes;
  EXPECT_EQ(e.responses[0].status, 200) << describe(e.responses[0]);
}

TEST_F(HostileClientTest, RequestSmugglingShapesGetA4xxAndNothingReachesRedis) {
  const std::string smuggled = "PUT /v1/kv/smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nbad";
  const std::string put = "PUT /v1/kv/outer HTTP/1.1\r\nHost: x\r\n";
  const std::string chunked = put + "Transfer-Encoding: chunked\r\n";
  const std::vector<Attack> attacks = {
      {"CL then TE", put + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
      {"TE then CL", put + "Transfer-Encoding: chunked\r\nContent-Length: 50\r\n\r\n0\r\n\r\n" + smuggled},
      {"two Content-Lengths", put + "Content-Length: 0\r\nContent-Length: 64\r\n\r\n" + smuggled},
      {"two equal Content-Lengths", put + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc" + smuggled},
      {"a Content-Length list", put + "Content-Length: 3, 3\r\n\r\nabc" + smuggled},
      {"a signed Content-Length", put + "Content-Length: +3\r\n\r\nabc" + smuggled},
      {"a negative Content-Length", put + "Content-Length: -1\r\n\r\n" + smuggled},
      {"a hex Content-Length", put + "Content-Length: 0x3\r\n\r\nabc" + smuggled},
      {"TE not chunked", put + "Transfer-Encoding: identity\r\n\r\n" + smuggled},
      {"TE chunked twice", chunked + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
      {"TE list", put + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + smuggled},
      {"TE look-alike", put + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggled},
      {"TE in HTTP/1.0 with CL",
       "PUT /v1/kv/outer HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
      {"obs-fold", put + "Content-Length: 3\r\nX-A: a\r\n b\r\n\r\nabc" + smuggled},
      {"obs-fold of TE", put + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + smuggled},
      {"obs-fold first", put + " Content-Length: 3\r\n\r\nabc" + smuggled},
      {"bare LF everywhere", "PUT /v1/kv/outer HTTP/1.1\nHost: x\nContent-Length: 3\n\nabc" + smuggled},
      {"bare LF in a field", put + "X-A: b\nContent-Length: 3\r\n\r\nabc" + smuggled},
      {"bare CR in a field", put + "X-A: b\rContent-Length: 3\r\n\r\nabc" + smuggled},
      {"bare CR line", put + "\rContent-Length: 3\r\n\r\nabc" + smuggled},
      {"a huge chunk size", chunked + "\r\nffffffffffffffffffff\r\nabc\r\n0\r\n\r\n" + smuggled},
      {"a chunk larger than the body limit", chunked + "\r\nfffffffff\r\nabc\r\n0\r\n\r\n" + smuggled},
      {"a negative chunk size", chunked + "\r\n-1\r\nabc\r\n0\r\n\r\n" + smuggled},
      {"a 0x chunk size", chunked + "\r\n0x3\r\nabc\r\n0\r\n\r\n" + smuggled},
      {"a chunk size with a bare LF", chunked + "\r\n3\nabc\r\n0\r\n\r\n" + smuggled},
      {"a bad chunk extension", chunked + "\r\n3;a b\r\nabc\r\n0\r\n\r\n" + smuggled},
      {"a chunk longer than its size", chunked + "\r\n3\r\nabcdef\r\n0\r\n\r\n" + smuggled},
      {"a trailer with a bare LF", chunked + "\r\n3\r\nabc\r\n0\r\nX: y\n\r\n" + smuggled},
      {"NUL in a field name", put + "Content"s + '\0' + "Length: 3\r\n\r\nabc" + smuggled},
      {"NUL in a field value", put + "Content-Length: 3\r\nX-A: a"s + '\0' + "b\r\n\r\nabc" + smuggled},
      {"a space before the colon", put + "Content-Length : 3\r\n\r\nabc" + smuggled},
      {"a space inside a name", put + "Content Length: 3\r\n\r\nabc" + smuggled},
      {"a tab before the colon", put + "Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n" + smuggled},
      {"no colon", put + "Content-Length 3\r\n\r\nabc" + smuggled},
      {"HTTP/2 request line", "PUT /v1/kv/outer HTTP/2.0\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + smuggled},
      {"two spaces in the request line", "PUT  /v1/kv/outer HTTP/1.1\r\nHost: x\r\n\r\n" + smuggled},
      {"a NUL in the target", "GET /v1/kv/a"s + '\0' + " HTTP/1.1\r\nHost: x\r\n\r\n" + smuggled},
      {"a lower-case version", "GET /v1/kv/a http/1.1\r\nHost: x\r\n\r\n" + smuggled},
  };
  for (const Attack& attack : attacks) expectRefused(attack);
}

TEST_F(HostileClientTest, HeaderFloodsAreRefused) {
  std::string many = "GET /v1/kv/a HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 20000; ++i) many += "X-" + std::to_string(i) + ": y\r\n";
  std::string longValue = "GET /v1/kv/a HTTP/1.1\r\nHost: x\r\nX-Long: " + std::string(1 << 20, 'v') + "\r\n\r\n";
  std::string longTarget = "GET /v1/kv/" + std::string(1 << 20, 'k') + " HTTP/1.1\r\nHost: x\r\n\r\n";
  // A flood the server may cut off while it is still being sent: a 431 or a close.
  expectRefused({"twenty thousand fields", many + "\r\n", false});
  expectRefused({"a 1 MiB field value", longValue, false});
  expectRefused({"a 1 MiB target", longTarget, false});
  expectRefused(
      {"a 1 MiB line without end", "GET /v1/kv/a HTTP/1.1\r\nHost: x\r\nX: " + std::string(1 << 20, 'v'), false});
}

TEST_F(HostileClientTest, GarbagePipelinedAfterAValidRequestIsRefusedAfterItsAnswer) {
  const std::string valid = "PUT /v1/kv/first HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok";
  const std::string after = "PUT /v1/kv/after HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nbad";
  for (const std::string& garbage : {"\x01\x02\x03 garbage\r\n\r\n"s, "GET\r\n\r\n"s, "\r\n\r\n"s,
                                     "HTTP/1.1 200 OK\r\n\r\n"s, std::string(64, '\0') + "\r\n\r\n"}) {
    expectRefused({"garbage after a valid request", valid + garbage + after, true, 1}, {{"first", "ok"}});
  }
}

// A raw socket to the data port, left holding a partial request.
class SlowConnection {
 public:
  explicit SlowConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~SlowConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  SlowConnection(const SlowConnection&) = delete;
  SlowConnection& operator=(const SlowConnection&) = delete;
  bool connected() const { return connected_; }
  bool send(std::string_view bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // Blocks until the server closes; true when it did (end of stream or a reset).
  bool waitClosed(std::chrono::seconds timeout) {
    timeval tv{static_cast<time_t>(timeout.count()), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
      if (n < 0 && errno != EINTR) return false;  // the timeout
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

TEST_F(HostileClientTest, ASlowlorisOfHundredsOfConnectionsDoesNotStopANormalClient) {
  constexpr int kSlow = 300;
  std::vector<std::unique_ptr<SlowConnection>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(std::make_unique<SlowConnection>(port()));
    ASSERT_TRUE(slow.back()->connected()) << "connection " << i;
    // Half a request each: a header that never ends, a body that never comes.
    const std::string partial = i % 2 == 0 ? "GET /v1/kv/slow HTTP/1.1\r\nHost: x\r\nX-Slow: "
                                           : "PUT /v1/kv/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab";
    ASSERT_TRUE(slow.back()->send(partial)) << "connection " << i;
  }
  for (int i = 0; i < kSlow; i += 3) ASSERT_TRUE(slow[static_cast<std::size_t>(i)]->send("a"));  // a trickle
  expectStillServing("during the slowloris");
  // The server sheds them (header or body deadline): every one is closed in the end.
  for (int i = 0; i < kSlow; ++i) {
    EXPECT_TRUE(slow[static_cast<std::size_t>(i)]->waitClosed(std::chrono::seconds(120))) << "connection " << i;
  }
  EXPECT_TRUE(cluster_->reply(cluster_->primaryIndex(), {"GET", "slow"}).isNil());
  expectStillServing("after the slowloris");
}

}  // namespace
}  // namespace cx::testing
