// TLS and ACL users on the backend connection, against real TLS-only redis-server
// processes and certificates made by the test: a verified connection works (by IP SAN
// and by DNS name), and every certificate that does not verify — wrong CA, wrong name,
// expired — fails the connect with the reason in lastError(), never falling back to
// plain text; a client certificate is sent when configured; AUTH with a username names
// WRONGPASS and never the secret.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "backends/connection.h"
#include "backends/tls_client.h"
#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

namespace asio = boost::asio;
using backends::Connection;
using backends::ConnectionOptions;
using backends::TlsClientContext;
using backends::TlsClientSettings;
using namespace std::chrono_literals;

constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";
constexpr std::string_view kWhoAmI = "*2\r\n$3\r\nACL\r\n$6\r\nWHOAMI\r\n";

// What one connection did: connected or not, its lastError, and the reply to `command`.
struct Outcome {
  bool connected = false;
  std::string lastError;
  std::string reply;
  std::vector<std::string> reported;  // what onConnectFailed was told
};

Outcome tryConnect(ConnectionOptions options, std::string_view command = kPing, std::chrono::milliseconds wait = 3s) {
  asio::io_context io;
  Outcome out;
  options.connectTimeout = 2s;
  options.onConnectFailed = [&](const std::string& error) { out.reported.push_back(error); };
  auto connection = std::make_shared<Connection>(io.get_executor(), options);
  connection->start();
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // A failed attempt wakes waiters at once; give a retry or two the chance to
        // succeed, so "not connected" means every attempt failed.
        for (auto until = std::chrono::steady_clock::now() + wait; std::chrono::steady_clock::now() < until;) {
          if (co_await connection->waitConnected(wait)) break;
          asio::steady_timer pause(io);
          pause.expires_after(100ms);
          co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        out.connected = connection->connected();
        if (out.connected) {
          auto result = co_await connection->execute(std::string(command), 1, 2s);
          if (result.ok()) out.reply = result.replies[0].str;
        }
        out.lastError = connection->lastError();
        done = true;
      },
      asio::detached);
  while (!done) io.run_one();
  connection->stop();
  io.poll();
  return out;
}

class RedisTlsTest : public ::testing::Test {
 protected:
  static RedisClusterOptions tlsCluster(const CertFiles& server, const TestPki& pki,
                                        const std::string& authClients = "no") {
    RedisClusterOptions options;
    options.replicas = 0;
    options.tls = RedisTlsOptions{server.cert, server.key, pki.caFile(), authClients};
    options.extraArgs = {"--user", "app", "on", ">app-secret-7f3a", "~*", "&*", "+@all"};
    return options;
  }

  ConnectionOptions options(int port, TlsClientSettings settings, std::string host = "127.0.0.1") {
    ConnectionOptions o;
    o.host = std::move(host);
    o.port = static_cast<std::uint16_t>(port);
    o.tls = std::make_shared<TlsClientContext>(std::move(settings));
    return o;
  }

  TestPki pki_;
  CertFiles server_ = pki_.issue("server", "IP:127.0.0.1,DNS:redis.test,DNS:localhost");
};

TEST_F(RedisTlsTest, VerifiedByIpAddressSanAndByDnsName) {
  RedisCluster cluster(tlsCluster(server_, pki_));
  auto byIp = tryConnect(options(cluster.primaryPort(), {.caFile = pki_.caFile()}));
  EXPECT_TRUE(byIp.connected) << byIp.lastError;
  EXPECT_EQ(byIp.reply, "PONG");
  auto byName = tryConnect(options(cluster.primaryPort(), {.caFile = pki_.caFile(), .serverName = "redis.test"}));
  EXPECT_TRUE(byName.connected) << byName.lastError;
  EXPECT_EQ(byName.reply, "PONG");
  auto byHost = tryConnect(options(cluster.primaryPort(), {.caFile = pki_.caFile()}, "localhost"));
  EXPECT_TRUE(byHost.connected) << byHost.lastError;
  EXPECT_TRUE(byIp.reported.empty());
}

TEST_F(RedisTlsTest, WrongHostNameIsAMismatch) {
  RedisCluster cluster(tlsCluster(server_, pki_));
  auto out = tryConnect(options(cluster.primaryPort(), {.caFile = pki_.caFile(), .serverName = "other.test"}));
  EXPECT_FALSE(out.connected);
  EXPECT_NE(out.lastError.find("host name mismatch"), std::string::npos) << out.lastError;
  ASSERT_FALSE(out.reported.empty());
  EXPECT_EQ(out.reported.size(), 1u) << "reported once per reason, not once per retry";
  EXPECT_EQ(out.reported[0], out.lastError);
}

TEST_F(RedisTlsTest, AddressNotInTheCertificateIsAMismatch) {
  auto noIp = pki_.issue("dns-only", "DNS:redis.test");
  RedisCluster cluster(tlsCluster(noIp, pki_));
  auto out = tryConnect(options(cluster.primaryPort(), {.caFile = pki_.caFile()}));
  EXPECT_FALSE(out.connected);
  EXPECT_NE(out.lastError.find("host name mismatch"), std::string::npos) << out.lastError;
}

TEST_F(RedisTlsTest, CertificateFromAnotherCaFailsVerification) {
  auto foreign = pki_.issue("foreign", "IP:127.0.0.1", TestPki::Issuer::OtherCa);
  RedisCluster cluster(tlsCluster(foreign, pki_));
  auto out = tryConnect(options(cluster.primaryPort(), {.caFile = pki_.caFile()}));
  EXPECT_FALSE(out.connected);
  EXPECT_NE(out.lastError.find("certificate verify failed: "), std::string::npos) << out.lastError;
  // verify: false (tests only) accepts it.
  auto unverified = tryConnect(options(cluster.primaryPort(), {.caFile = pki_.caFile(), .verify = false}));
  EXPECT_TRUE(unverified.connected) << unverified.lastError;
}

TEST_F(RedisTlsTest, ExpiredCertificateFailsVerification) {
  auto expired = pki_.issue("expired", "IP:127.0.0.1", TestPki::Issuer::Ca, TestPki::Validity::Expired);
  RedisCluster cluster(tlsCluster(expired, pki_));
  auto out = tryConnect(options(cluster.primaryPort(), {.caFile = pki_.caFile()}));
  EXPECT_FALSE(out.connected);
  EXPECT_NE(out.lastError.find("certificate verify failed: certificate has expired"), std::string::npos)
      << out.lastError;
}

TEST_F(RedisTlsTest, NeverFallsBackToPlainText) {
  RedisCluster plain(0);  // a plain-TCP server where TLS is expected
  auto out = tryConnect(options(plain.primaryPort(), {.caFile = pki_.caFile()}));
  EXPECT_FALSE(out.connected);
  EXPECT_NE(out.lastError.find("TLS handshake"), std::string::npos) << out.lastError;
}

TEST_F(RedisTlsTest, ClientCertificateWhenTheServerAsksForOne) {
  auto client = pki_.issue("client", "DNS:cxproxy.test");
  RedisCluster cluster(tlsCluster(server_, pki_, "yes"));
  auto without = tryConnect(options(cluster.primaryPort(), {.caFile = pki_.caFile()}), kPing, 1s);
  EXPECT_TRUE(without.reply.empty()) << "served without a client certificate";
  auto with = tryConnect(
      options(cluster.primaryPort(), {.caFile = pki_.caFile(), .certFile = client.cert, .keyFile = client.key}));
  EXPECT_TRUE(with.connected) << with.lastError;
  EXPECT_EQ(with.reply, "PONG");
}

TEST_F(RedisTlsTest, AclUserAuthenticatesAndAWrongPasswordIsNamedNotShown) {
  RedisCluster cluster(tlsCluster(server_, pki_));
  auto o = options(cluster.primaryPort(), {.caFile = pki_.caFile()});
  o.username = "app";
  o.password = "app-secret-7f3a";
  auto good = tryConnect(o, kWhoAmI);
  EXPECT_TRUE(good.connected) << good.lastError;
  EXPECT_EQ(good.reply, "app");
  o.password = "wrong-secret-91c2";
  auto bad = tryConnect(o, kWhoAmI, 1s);
  EXPECT_FALSE(bad.connected);
  EXPECT_NE(bad.lastError.find("WRONGPASS"), std::string::npos) << bad.lastError;
  EXPECT_EQ(bad.lastError.find("wrong-secret-91c2"), std::string::npos) << bad.lastError;
  EXPECT_EQ(bad.lastError.find("app-secret-7f3a"), std::string::npos) << bad.lastError;
}

}  // namespace
}  // namespace cx::testing
