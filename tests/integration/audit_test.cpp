// The read audit and its advice against real Redis and a real cxproxy (README "Audit and
// advice"): a lagging replica is stale, not a mismatch; a value written on a replica
// behind cxproxy's back is a mismatch; audits never hold up the client's response; and
// the advice appears on /v1/status.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>
#include <thread>

#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

namespace json = boost::json;

const std::string kAuditAll = "audit: {sample_rate: 1, max_in_flight: 16}\n";

double metric(int admin, const std::string& name, const std::string& label = "") {
  return scrapeMetric(admin, name, label.empty() ? std::vector<std::string>{} : std::vector<std::string>{label})
      .value_or(0);
}

// Replicas that stop applying the stream (CLIENT PAUSE WRITE) serve old values. The audit
// sees offsets saying the replica was behind: stale with an observed staleness, never a
// mismatch.
TEST(AuditTest, LaggingReplicaIsStaleWithObservedStalenessAndNoMismatch) {
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster, kAuditAll);
  HttpClient client(proxy.dataPort());
  const int admin = proxy.adminPort();
  ASSERT_EQ(client.put("/v1/kv/lagging", "old").status, 204);
  cluster.waitSynced();
  for (std::size_t r : cluster.replicaIndices()) cluster.clientPauseWrite(r, 20s);
  ASSERT_EQ(client.put("/v1/kv/lagging", "new").status, 204);
  // Let the tracker's polls see the primary past the replicas' offsets.
  std::this_thread::sleep_for(300ms);

  int staleAnswers = 0;
  for (int i = 0; i < 5; ++i) {
    HttpResponse r = client.get("/v1/kv/lagging", {{"X-Consistency", "eventual"}});
    ASSERT_EQ(r.status, 200) << r.body;
    if (r.header("x-served-role") == "replica" && r.body == "old") ++staleAnswers;
  }
  ASSERT_GT(staleAnswers, 0) << "the replicas should still hold the old value";
  const bool recorded = waitUntil(
      [&] {
        return metric(admin, "cxproxy_audits_total", "result=\"stale\"") >= staleAnswers &&
               metric(admin, "cxproxy_audit_observed_staleness_seconds_count", "level=\"eventual\"") >= staleAnswers;
      },
      10s);
  for (std::size_t r : cluster.replicaIndices()) cluster.node(r).reply({"CLIENT", "UNPAUSE"});
  EXPECT_TRUE(recorded) << "stale audits " << metric(admin, "cxproxy_audits_total", "result=\"stale\"");
  // The write was 300 ms old when the replicas answered: the observed staleness says so.
  EXPECT_GE(metric(admin, "cxproxy_audit_observed_staleness_seconds_sum", "level=\"eventual\""), 0.1 * staleAnswers);
  EXPECT_EQ(metric(admin, "cxproxy_audits_total", "result=\"mismatch\""), 0.0);
  EXPECT_EQ(metric(admin, "cxproxy_consistency_violations_total", "type=\"audit_mismatch\""), 0.0);
  EXPECT_EQ(proxy.output().find("event=audit_mismatch"), std::string::npos);
}

// A write made directly on the replicas (replica-read-only no), which cxproxy never saw:
// same replication position as the primary, different value. A violation, logged with the
// key's salted hash and never the key.
TEST(AuditTest, WriteOnAReplicaBehindCxproxysBackIsAMismatch) {
  RedisClusterOptions options;
  options.replicas = 2;
  options.extraArgs = {"--replica-read-only", "no"};
  RedisCluster cluster(options);
  CxproxyProcess proxy(cluster, kAuditAll);
  HttpClient client(proxy.dataPort());
  const int admin = proxy.adminPort();
  const std::string key = "audit-secret-7f3a";
  ASSERT_EQ(client.put("/v1/kv/" + key, "primary-value").status, 204);
  cluster.waitSynced();
  for (std::size_t r : cluster.replicaIndices()) ASSERT_EQ(cluster.command(r, {"SET", key, "corrupted"}), "OK");

  int corruptedAnswers = 0;
  for (int i = 0; i < 5; ++i) {
    HttpResponse r = client.get("/v1/kv/" + key, {{"X-Consistency", "eventual"}});
    ASSERT_EQ(r.status, 200) << r.body;
    if (r.body == "corrupted") ++corruptedAnswers;
  }
  ASSERT_GT(corruptedAnswers, 0);
  EXPECT_TRUE(waitUntil(
      [&] { return metric(admin, "cxproxy_consistency_violations_total", "type=\"audit_mismatch\"") >= 1; }, 10s))
      << proxy.outputTail();
  EXPECT_GE(metric(admin, "cxproxy_audits_total", "result=\"mismatch\""), 1.0);
  const std::string output = proxy.output();
  EXPECT_NE(output.find("event=audit_mismatch"), std::string::npos) << proxy.outputTail();
  EXPECT_NE(output.find("key_hash="), std::string::npos);
  EXPECT_EQ(output.find(key), std::string::npos) << "the key itself must never be logged";

  // The advice for the default rule counts those reads as not identical to the primary.
  HttpClient adminClient(admin);
  auto status = json::parse(adminClient.get("/v1/status").body);
  bool found = false;
  for (const auto& row : status.at("advice").as_array()) {
    if (row.at("rule").as_string() != "default" || row.at("level").as_string() != "eventual") continue;
    found = true;
    EXPECT_LT(row.at("identical").to_number<double>(), row.at("samples").to_number<double>()) << row;
  }
  EXPECT_TRUE(found) << status;
}

// The audit's primary read waits on a primary that answers nothing (SIGSTOP) while the
// client's replica reads are answered: the response is sent before the audit starts.
// Audits over max_in_flight are skipped.
TEST(AuditTest, AuditsNeverHoldUpTheResponseAndAreCapped) {
  RedisCluster cluster(2);
  // A primary call may wait 60 s; the client gives up after 10 s: a response that waited
  // for its audit could not arrive.
  CxproxyProcess proxy(
      cluster, redisSection(cluster, "  command_timeout: 60s\n") + "audit: {sample_rate: 1, max_in_flight: 2}\n");
  HttpClient client(proxy.dataPort(), 10s);
  const int admin = proxy.adminPort();
  ASSERT_EQ(client.put("/v1/kv/held", "v").status, 204);
  cluster.waitSynced();
  cluster.pause(0);
  int served = 0;
  for (int i = 0; i < 5; ++i) {
    HttpResponse r;
    try {
      r = client.get("/v1/kv/held", {{"X-Consistency", "eventual"}});
    } catch (const HttpError& e) {
      cluster.resume(0);
      FAIL() << "read " << i << " got no response while its audit waited on the primary: " << e.what();
    }
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-served-role"), "replica");
    if (r.status == 200 && r.body == "v") ++served;
  }
  EXPECT_EQ(served, 5);
  EXPECT_GE(metric(admin, "cxproxy_audits_total", "result=\"skipped\""), 3.0);
  cluster.resume(0);
  // The two audits that were waiting complete once the primary answers again.
  // (match, or stale if the primary's replication ping moved its offset in between.)
  EXPECT_TRUE(waitUntil(
      [&] {
        return metric(admin, "cxproxy_audits_total", "result=\"match\"") +
                   metric(admin, "cxproxy_audits_total", "result=\"stale\"") >=
               2;
      },
      20s))
      << metric(admin, "cxproxy_audits_total", "result=\"error\"");
}

// Advice per rule on /v1/status and the HTML page: strong reads compared with a replica a
// bounded read would have used, replica reads with the primary.
TEST(AuditTest, AdviceAppearsOnStatusAfterSomeSamples) {
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster, kAuditAll + R"(consistency:
  rules:
    - name: accounts
      keys: ["account:*"]
      level: strong
      max_staleness: 100ms
    - name: feed
      keys: ["feed:*"]
      level: prefix
)");
  HttpClient client(proxy.dataPort());
  HttpClient admin(proxy.adminPort());
  ASSERT_EQ(client.put("/v1/kv/account:1", "balance").status, 204);
  ASSERT_EQ(client.put("/v1/kv/feed:1", "item").status, 204);
  cluster.waitSynced();
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(client.get("/v1/kv/account:1").status, 200);
    ASSERT_EQ(client.get("/v1/kv/feed:1").status, 200);
  }
  json::value status;
  auto adviceFor = [&](std::string_view rule) -> const json::object* {
    for (const auto& row : status.at("advice").as_array()) {
      if (row.at("rule").as_string() == rule) return &row.as_object();
    }
    return nullptr;
  };
  ASSERT_TRUE(waitUntil(
      [&] {
        status = json::parse(admin.get("/v1/status").body);
        return adviceFor("accounts") && adviceFor("feed");
      },
      10s))
      << status;
  const json::object& accounts = *adviceFor("accounts");
  EXPECT_EQ(accounts.at("level").as_string(), "strong");
  EXPECT_EQ(accounts.at("considered").as_string(), "bounded");
  EXPECT_EQ(accounts.at("considered_max_staleness_ms").to_number<int>(), 100);
  EXPECT_GE(accounts.at("samples").to_number<int>(), 1);
  EXPECT_EQ(accounts.at("identical_share").to_number<double>(), 1.0);  // nothing was written meanwhile
  const json::object& feed = *adviceFor("feed");
  EXPECT_EQ(feed.at("level").as_string(), "prefix");
  EXPECT_EQ(feed.at("compared_with").as_string(), "the primary");
  bool rulesListed = false;
  for (const auto& rule : status.at("rules").as_array()) {
    if (rule.at("name").as_string() == "accounts") {
      rulesListed = true;
      EXPECT_EQ(rule.at("sampled_reads_last_hour").to_number<int>(), 10);
    }
  }
  EXPECT_TRUE(rulesListed) << status;
  EXPECT_GE(status.at("traffic").at("levels").at("strong").at("served").to_number<double>(), 10);

  auto page = admin.get("/v1/status", {{"Accept", "text/html"}});
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("rule `accounts`: 100.00% of strong reads would have been identical at bounded 100ms"),
            std::string::npos)
      << page.body;
}

}  // namespace
}  // namespace cx::testing
