// Sentinel mode over TLS (README "Security"): TLS-only redis-server nodes and Sentinels
// that cxproxy reaches only through their TLS ports. cxproxy discovers the nodes through
// the Sentinels (their refresh connections and their event subscriptions both over TLS),
// serves writes and reads, and follows a manual failover to the new primary.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/integration/support/support.h"
#include "tests/integration/support/test_pki.h"

namespace cx::testing {
namespace {

using namespace std::chrono_literals;

std::string nodeName(int port) { return "127.0.0.1:" + std::to_string(port); }

class SentinelTlsTest : public ::testing::Test {
 protected:
  static RedisClusterOptions tlsCluster(const TestPki& pki, const CertFiles& server) {
    RedisClusterOptions o;
    o.replicas = 2;
    o.tls = RedisTlsOptions{server.cert, server.key, pki.caFile(), "no"};
    return o;
  }
  static SentinelOptions tlsSentinels(const TestPki& pki, const CertFiles& server) {
    SentinelOptions o;
    o.tls = RedisTlsOptions{server.cert, server.key, pki.caFile(), "no"};
    return o;
  }

  SentinelTlsTest()
      : server_(pki_.issue("redis", "IP:127.0.0.1")),
        cluster_(tlsCluster(pki_, server_)),
        sentinels_(cluster_, tlsSentinels(pki_, server_)) {}

  void startProxy() {
    proxy_ = std::make_unique<CxproxyProcess>([this](int dataPort, int adminPort) {
      std::string yaml = "listen:\n  data: 127.0.0.1:" + std::to_string(dataPort) +
                         "\n  admin: 127.0.0.1:" + std::to_string(adminPort) +
                         "\nredis:\n  tls:\n    enabled: true\n    ca_file: " + pki_.caFile().string() +
                         "\n  sentinel:\n    master: " + sentinels_.master() + "\n    addresses: [";
      const auto addresses = sentinels_.tlsAddresses();
      for (std::size_t i = 0; i < addresses.size(); ++i) yaml += (i ? ", " : "") + addresses[i];
      yaml += "]\ntracking:\n  interval: 20ms\n  down_after: 500ms\n";
      return yaml;
    });
  }

  // /v1/status once the given node is the confirmed primary and two replicas are known.
  bool waitPrimary(int port, std::chrono::milliseconds timeout, std::string* last) {
    HttpClient admin(proxy_->adminPort(), 5s);
    const std::string primary = "\"name\":\"" + nodeName(port) + "\",\"confirmed\":true";
    return waitUntil(
        [&] {
          *last = admin.get("/v1/status").body;
          std::size_t replicas = 0;
          for (std::size_t pos = 0; (pos = last->find("\"standing\":\"replica\"", pos)) != std::string::npos; ++pos) {
            ++replicas;
          }
          return last->find(primary) != std::string::npos && replicas == 2;
        },
        timeout, 20ms);
  }

  TestPki pki_;
  CertFiles server_;
  RedisCluster cluster_;
  SentinelSet sentinels_;
  std::unique_ptr<CxproxyProcess> proxy_;
};

TEST_F(SentinelTlsTest, DiscoversThroughTlsSentinelsAndFollowsAFailover) {
  startProxy();
  std::string status;
  ASSERT_TRUE(waitPrimary(cluster_.primaryPort(), 30s, &status)) << status;
  for (const auto& address : sentinels_.tlsAddresses()) {
    EXPECT_NE(status.find("{\"address\":\"" + address + "\",\"up\":true"), std::string::npos) << status;
  }
  // The subscription is up too: it is what makes the failover below visible at once.
  EXPECT_NE(status.find("\"subscribed\":true"), std::string::npos) << status;

  HttpClient client(proxy_->dataPort(), 10s);
  HttpResponse put = client.put("/v1/kv/stls:k", "before");
  ASSERT_EQ(put.status, 204) << put.body;
  EXPECT_EQ(put.header("x-served-by"), nodeName(cluster_.primaryPort()));
  HttpResponse get = client.get("/v1/kv/stls:k", {{"X-Session-Token", put.header("x-session-token")}});
  EXPECT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(get.body, "before");

  const int oldPrimary = cluster_.primaryPort();
  sentinels_.failover(0);
  const int newPrimary = sentinels_.waitForNewPrimary(oldPrimary);
  ASSERT_TRUE(waitPrimary(newPrimary, 30s, &status)) << status;
  HttpResponse after;
  ASSERT_TRUE(waitUntil(
      [&] {
        after = client.put("/v1/kv/stls:k", "after");
        return after.status == 204;
      },
      30s, 50ms))
      << after.status << " " << after.body;
  EXPECT_EQ(after.header("x-served-by"), nodeName(newPrimary));
}

}  // namespace
}  // namespace cx::testing
