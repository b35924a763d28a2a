// The optional access log (log.access) and per-backend in-flight counts in /v1/status:
// what an SRE sees of each request, and that keys never appear in the log.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

TEST(AccessLogTest, OneLinePerRequestWithAKeyHashNeverTheKey) {
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster, "log: {access: true}\n");
  HttpClient client(proxy.dataPort());
  const std::string key = "secret-customer-42";
  ASSERT_EQ(client.put("/v1/kv/" + key, "v").status, 204);
  ASSERT_EQ(client.get("/v1/kv/" + key, {{"X-Consistency", "strong"}}).status, 200);
  ASSERT_EQ(client.get("/v1/kv/other").status, 404);

  std::string output;
  ASSERT_TRUE(waitUntil(
      [&] {
        output = proxy.output();
        return output.find("op=get") != std::string::npos && output.find("status=404") != std::string::npos;
      },
      10s));
  EXPECT_EQ(output.find(key), std::string::npos) << "the access log must not contain keys:\n" << output;
  std::size_t lines = 0;
  for (std::size_t at = output.find("event=access"); at != std::string::npos;
       at = output.find("event=access", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 3u) << output;
  EXPECT_NE(output.find("method=PUT op=put key_hash="), std::string::npos) << output;
  EXPECT_NE(output.find("requested=strong served=strong backend=primary role=primary status=200"), std::string::npos)
      << output;
}

TEST(AccessLogTest, OffByDefault) {
  RedisCluster cluster(1);
  CxproxyProcess proxy(cluster);
  HttpClient client(proxy.dataPort());
  ASSERT_EQ(client.put("/v1/kv/k", "v").status, 204);
  // Strong: this client sends no session token, so a session read may reach a replica
  // that has not applied the PUT yet (a 404 on a loaded machine).
  ASSERT_EQ(client.get("/v1/kv/k", {{"X-Consistency", "strong"}}).status, 200);
  EXPECT_EQ(proxy.output().find("event=access"), std::string::npos) << proxy.output();
}

TEST(StatusInFlightTest, EveryBackendReportsItsCallsInFlight) {
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster, "consistency: {write_quorum: {replicas: 1, timeout: 3s}}\n");
  HttpClient admin(proxy.adminPort());
  // A strong write whose WAIT cannot complete (replicas stopped) stays in flight on the primary.
  for (std::size_t r : cluster.replicaIndices()) cluster.pause(r);
  std::thread writer([&] {
    HttpClient client(proxy.dataPort());
    client.put("/v1/kv/w", "v", {{"X-Consistency", "strong"}});
  });
  std::int64_t primaryInFlight = 0;
  const bool seen = waitUntil(
      [&] {
        auto status = boost::json::parse(admin.get("/v1/status").body).as_object();
        const auto& backends = status.at("backends").as_array();
        for (const auto& b : backends) {
          if (!b.as_object().contains("in_flight")) return false;
        }
        primaryInFlight = backends.at(0).as_object().at("in_flight").as_int64();
        return primaryInFlight == 1;
      },
      10s);
  for (std::size_t r : cluster.replicaIndices()) cluster.resume(r);
  writer.join();
  EXPECT_TRUE(seen) << "the primary's in_flight never showed the pending strong write (last " << primaryInFlight << ")";
  auto status = boost::json::parse(admin.get("/v1/status").body).as_object();
  EXPECT_EQ(status.at("backends").as_array().at(0).as_object().at("in_flight").as_int64(), 0);
}

}  // namespace
}  // namespace cx::testing
