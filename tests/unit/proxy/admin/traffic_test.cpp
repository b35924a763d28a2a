// The traffic summary the status page and /v1/status show, from real metric families, and
// the page's rendering of it (levels, rules with advice, the observed-staleness table).
#include "proxy/admin/traffic.h"

#include <gtest/gtest.h>

#include "metrics/metrics.h"
#include "proxy/admin/status_page.h"
#include "proxy/app/advice.h"
#include "proxy/config/config.h"

namespace cx::proxy {
namespace {

using backends::Clock;

TEST(TrafficSummary, SumsRequestsPerLevelReplicaShareFallbacksAndHistograms) {
  metrics::Metrics m;
  m.requests("get", "bounded", "bounded", "replica", 200).Increment(3);
  m.requests("get", "bounded", "bounded", "primary", 200).Increment(1);
  m.requests("get", "strong", "bounded", "replica", 200).Increment(2);  // downgraded
  m.requests("put", "default", "session", "primary", 204).Increment(5);
  m.requests("get", "nonsense", "none", "none", 400).Increment(1);
  m.fallbacks("replica", "primary", "no_fresh_replica").Increment(4);
  m.downgrades("strong", "bounded", "primary_overloaded").Increment(2);
  m.audits("match").Increment(7);
  m.violations("audit_mismatch").Increment(1);
  m.auditObservedStaleness("bounded").Observe(0.02);
  m.readStaleness("bounded").Observe(0.003);

  const TrafficSummary t = summarizeTraffic(m.collect());
  EXPECT_EQ(t.requests, 12);
  EXPECT_EQ(t.reads, 6);  // served GETs; the 400 was not served
  EXPECT_EQ(t.servedByReplica, 5);
  EXPECT_EQ(t.levels.at("bounded").requested, 4);
  EXPECT_EQ(t.levels.at("bounded").served, 6);
  EXPECT_EQ(t.levels.at("bounded").servedByReplica, 5);
  EXPECT_EQ(t.levels.at("strong").requested, 2);
  EXPECT_EQ(t.levels.at("strong").served, 0);
  EXPECT_EQ(t.levels.at("default").requested, 5);
  EXPECT_EQ(t.fallbacks.at("no_fresh_replica"), 4);
  EXPECT_EQ(t.fallbacks.at("replica_error"), 0);  // exported at 0 from the start
  EXPECT_EQ(t.downgrades.at("strong->bounded"), 2);
  EXPECT_EQ(t.audits.at("match"), 7);
  EXPECT_EQ(t.audits.at("skipped"), 0);
  EXPECT_EQ(t.auditMismatches, 1);
  const auto& observed = t.observedStaleness.at("bounded");
  EXPECT_EQ(observed.count, 1u);
  ASSERT_EQ(observed.upperBounds.size(), 8u);             // 0.01 ... 10, +Inf
  EXPECT_EQ(observed.cumulative[0], 0u);                  // <= 10 ms
  EXPECT_EQ(observed.cumulative[1], 1u);                  // <= 50 ms
  EXPECT_EQ(t.observedStaleness.at("strong").count, 0u);  // every level exported at 0
  EXPECT_EQ(t.servedStaleness.at("bounded").cumulative[0], 1u);
}

TEST(TrafficSummary, RulesCarryTheirSampledReadsAndAnEstimate) {
  Config config = parseConfig(
      "audit: {sample_rate: 0.01}\n"
      "consistency:\n  rules:\n    - {name: accounts, keys: [\"account:*\"], level: strong}\n");
  AdviceBoard advice;
  const auto now = Clock::now();
  for (int i = 0; i < 3; ++i) advice.drawn("accounts", now);
  const auto rules = ruleTraffic(config, advice, now);
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].name, "accounts");
  EXPECT_EQ(rules[0].level, routing::Level::Strong);
  EXPECT_EQ(rules[0].sampledLastHour, 3u);
  EXPECT_DOUBLE_EQ(rules[0].estimatedReadsLastHour, 300);
  EXPECT_EQ(rules[1].name, "default");
  EXPECT_EQ(rules[1].sampledLastHour, 0u);
}

TEST(StatusPageActivity, ShowsLevelsRulesAdviceAndTheStalenessTableEscaped) {
  metrics::Metrics m;
  m.requests("get", "strong", "strong", "primary", 200).Increment(4);
  m.requests("get", "prefix", "prefix", "replica", 200).Increment(6);
  m.auditObservedStaleness("prefix").Observe(0.2);
  m.readStaleness("prefix").Observe(0.02);
  const TrafficSummary traffic = summarizeTraffic(m.collect());
  Config config = parseConfig("consistency:\n  rules:\n    - {name: accounts, keys: [\"<a>:*\"], level: strong}\n");
  AdviceBoard advice;
  const auto now = Clock::now();
  advice.drawn("accounts", now);
  advice.record({"accounts", routing::Level::Strong, routing::Level::Bounded, std::chrono::milliseconds{100}}, true,
                now);

  backends::Topology topology;
  backends::BackendStatus primary;
  primary.name = "primary";
  topology.backends.push_back(primary);
  StalenessHistory history;
  StatusPageContext context;
  context.now = now;
  context.traffic = &traffic;
  context.rules = ruleTraffic(config, advice, now);
  context.advice = advice.rows(now);
  context.auditSampleRate = 0.001;
  const std::string html = renderStatusHtml(topology, history, context);

  EXPECT_NE(html.find("<table class=\"traffic\">"), std::string::npos);
  EXPECT_NE(html.find("<span class=\"replica-share\">60.0%</span>"), std::string::npos) << html;
  EXPECT_NE(html.find("<tr class=\"rule\" data-rule=\"accounts\">"), std::string::npos);
  EXPECT_NE(html.find("<code>&lt;a&gt;:*</code>"), std::string::npos);  // keys escaped
  EXPECT_EQ(html.find("<a>:*"), std::string::npos);
  EXPECT_NE(html.find("rule `accounts`: 100.00% of strong reads would have been identical at bounded 100ms"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<tr class=\"observed\" data-level=\"prefix\">"), std::string::npos);
  EXPECT_NE(html.find("<tr class=\"served\" data-level=\"prefix\">"), std::string::npos);
  EXPECT_EQ(html.find("<tr class=\"observed\" data-level=\"bounded\">"), std::string::npos);  // no reads there
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);  // self-contained
  EXPECT_EQ(html.find("https://"), std::string::npos);
}

}  // namespace
}  // namespace cx::proxy
