// Each metric of README "Metrics" moves when its event happens: scraped from a live cxproxy
// before and after the event.
#include <gtest/gtest.h>

#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

std::optional<double> scrape(int adminPort, const std::string& name, const std::string& label = "") {
  return scrapeMetric(adminPort, name, label.empty() ? std::vector<std::string>{} : std::vector<std::string>{label});
}

// A fresh process exports every counter whose labels are known in advance at 0, so an
// alert on increase() sees the first event (the series must not appear with it).
TEST(MetricsEventsTest, FreshProcessExportsKnownSeriesAtZero) {
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster);
  const int admin = proxy.adminPort();
  const std::vector<std::pair<std::string, std::vector<std::string>>> series = {
      {"cxproxy_consistency_violations_total", {"type=\"session_history_lost\""}},
      {"cxproxy_consistency_violations_total", {"type=\"no_fresh_replica\""}},
      {"cxproxy_consistency_violations_total", {"type=\"audit_mismatch\""}},
      {"cxproxy_quorum_failures_total", {"op=\"put\""}},
      {"cxproxy_quorum_failures_total", {"op=\"cmd\""}},
      {"cxproxy_consistency_downgrades_total", {"from=\"strong\"", "to=\"bounded\""}},
      {"cxproxy_consistency_downgrades_total", {"from=\"prefix\"", "to=\"eventual\""}},
      {"cxproxy_fallbacks_total", {"reason=\"no_fresh_replica\""}},
      {"cxproxy_fallbacks_total", {"reason=\"replica_error\""}},
      {"cxproxy_session_tokens_rejected_total", {"reason=\"bad_signature\""}},
      {"cxproxy_config_reload_total", {"result=\"error\""}},
      {"cxproxy_backend_errors_total", {"backend=\"replica-1\"", "reason=\"timeout\""}},
      {"cxproxy_overloaded", {}},
      {"cxproxy_cluster_redirects_total", {"type=\"moved\""}},
      {"cxproxy_cluster_redirects_total", {"type=\"ask\""}},
  };
  for (const auto& [name, labels] : series) {
    EXPECT_EQ(scrapeMetric(admin, name, labels), 0.0) << name << " " << ::testing::PrintToString(labels);
  }
}

TEST(MetricsEventsTest, ReplicaGaugesFollowLagAndOutages) {
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster);
  HttpClient client(proxy.dataPort());
  const int admin = proxy.adminPort();
  ASSERT_TRUE(waitUntil([&] { return scrape(admin, "cxproxy_backend_up", "backend=\"replica-1\"") == 1.0; }, 20s));

  // Lag: replica-1 stops applying while writes continue.
  cluster.clientPauseWrite(1, 5s);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(client.put("/v1/kv/lag:" + std::to_string(i), "v").status, 204);
  EXPECT_TRUE(waitUntil(
      [&] {
        return scrape(admin, "cxproxy_replica_lag_bytes", "backend=\"replica-1\"").value_or(0) > 0 &&
               scrape(admin, "cxproxy_replica_staleness_seconds", "backend=\"replica-1\"").value_or(0) > 0.1;
      },
      10s))
      << "lag " << scrape(admin, "cxproxy_replica_lag_bytes", "backend=\"replica-1\"").value_or(-1) << ", staleness "
      << scrape(admin, "cxproxy_replica_staleness_seconds", "backend=\"replica-1\"").value_or(-1);
  cluster.node(1).reply({"CLIENT", "UNPAUSE"});
  EXPECT_TRUE(
      waitUntil([&] { return scrape(admin, "cxproxy_replica_lag_bytes", "backend=\"replica-1\"") == 0.0; }, 10s));

  // Outage: replica-2 killed → backend_up 0.
  cluster.kill(2);
  EXPECT_TRUE(waitUntil([&] { return scrape(admin, "cxproxy_backend_up", "backend=\"replica-2\"") == 0.0; }, 10s));
}

TEST(MetricsEventsTest, FallbacksAndServedStalenessAreCounted) {
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster);
  HttpClient client(proxy.dataPort());
  const int admin = proxy.adminPort();
  ASSERT_EQ(client.put("/v1/kv/m", "v").status, 204);
  // Eventual reads may be served before a replica has the write (a 404 then): wait for it.
  cluster.waitSynced();

  const double staleBefore = scrape(admin, "cxproxy_read_staleness_seconds_count", "level=\"eventual\"").value_or(0);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(client.get("/v1/kv/m", {{"X-Consistency", "eventual"}}).status, 200);
  EXPECT_EQ(scrape(admin, "cxproxy_read_staleness_seconds_count", "level=\"eventual\"").value_or(0), staleBefore + 5);

  // Every replica stopped: a bounded read cannot go to one and falls back to the primary.
  const double fallbacksBefore = scrape(admin, "cxproxy_fallbacks_total").value_or(0);
  for (std::size_t r : cluster.replicaIndices()) cluster.pause(r);
  HttpResponse bounded;
  const bool fellBack = waitUntil(
      [&] {
        bounded = client.get("/v1/kv/m", {{"X-Consistency", "bounded"}, {"X-Max-Staleness", "50ms"}});
        return bounded.status == 200 && bounded.header("x-served-role") == "primary";
      },
      10s);
  for (std::size_t r : cluster.replicaIndices()) cluster.resume(r);
  ASSERT_TRUE(fellBack) << bounded.status << " " << bounded.body;
  EXPECT_GT(scrape(admin, "cxproxy_fallbacks_total", "to=\"primary\"").value_or(0), fallbacksBefore);
  EXPECT_GE(scrape(admin, "cxproxy_request_duration_seconds_count", "op=\"get\"").value_or(0), 6.0);
  EXPECT_GT(scrape(admin, "cxproxy_backend_requests_total", "backend=\"primary\"").value_or(0), 0.0);
}

}  // namespace
}  // namespace cx::testing
