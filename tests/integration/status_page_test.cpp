// The admin /v1/status page as a browser sees it (real cxproxy, real Redis, headless
// Chromium when installed) and the /metrics exposition as Prometheus's own linter
// (promtool, when installed) sees it.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "metrics/metrics.h"
#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

namespace json = boost::json;

// What Chromium sends when navigating to a page.
const HttpHeaders kBrowserAccept{
    {"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"}};

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

// Waits until /v1/status reports every replica tracked, then long enough for the admin
// thread to have taken a few once-per-second staleness samples.
void waitTrackedWithHistory(HttpClient& admin, std::size_t replicas) {
  ASSERT_TRUE(waitUntil(
      [&] {
        auto v = json::parse(admin.get("/v1/status").body);
        std::size_t tracked = 0;
        for (const auto& b : v.at("backends").as_array()) {
          if (b.as_object().contains("tracked") && b.at("tracked").as_bool()) ++tracked;
        }
        return tracked == replicas;
      },
      15s, 50ms))
      << admin.get("/v1/status").body;
  std::this_thread::sleep_for(2500ms);
}

// An executable named by $<envVar> or found in $PATH (or at `fallback`); "" if none.
std::string locateTool(const char* envVar, const std::string& name, const std::string& fallback = "") {
  if (const char* env = std::getenv(envVar); env && *env) return env;
  try {
    return findExecutable(name);
  } catch (const std::exception&) {
  }
  if (!fallback.empty() && std::filesystem::exists(fallback)) return fallback;
  return "";
}

// Runs `shellCommand` under /bin/sh with its stdout (and stderr) in `outputPath`.
std::optional<int> runShell(const std::string& shellCommand, const std::filesystem::path& outputPath,
                            std::chrono::milliseconds timeout, const std::map<std::string, std::string>& env = {}) {
  ChildProcess child;
  child.start({"/bin/sh", "-c", shellCommand}, outputPath, env);
  auto status = child.waitExit(timeout);
  if (!status) child.kill();
  return status;
}

TEST(StatusPageTest, BrowserGetsHtmlWithEveryBackendAndOthersGetJson) {
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster);
  HttpClient admin(proxy.adminPort());
  waitTrackedWithHistory(admin, 2);

  auto page = admin.get("/v1/status", kBrowserAccept);
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(page.header("vary"), "Accept");
  EXPECT_EQ(page.body.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.body.find("<meta http-equiv=\"refresh\" content=\"2\">"), std::string::npos);
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    EXPECT_NE(page.body.find("data-backend=\"" + cluster.name(i) + "\"><td>" + cluster.name(i) + "</td>"),
              std::string::npos)
        << cluster.name(i);
  }
  EXPECT_EQ(count(page.body, "<svg class=\"spark\""), 2u);
  // The replicas have been tracked for seconds: their sparklines have a line.
  EXPECT_EQ(count(page.body, "<path class=\"line\""), 2u) << page.body;

  // curl (Accept: */*), no Accept at all and an explicit JSON Accept: the JSON as before.
  for (const HttpHeaders& headers :
       {HttpHeaders{{"Accept", "*/*"}}, HttpHeaders{}, HttpHeaders{{"Accept", "application/json"}}}) {
    auto res = admin.get("/v1/status", headers);
    ASSERT_EQ(res.status, 200);
    EXPECT_EQ(res.header("content-type"), "application/json");
    auto v = json::parse(res.body);
    EXPECT_EQ(v.at("backends").as_array().size(), 3u);
  }

  // The once-per-second sampler does not hold up a clean shutdown (nor leak, under ASan).
  EXPECT_EQ(proxy.terminate(), 0) << proxy.outputTail();
}

TEST(StatusPageTest, HeadlessChromiumRendersTheTableAndASparklinePerReplica) {
  const std::string chromium = locateTool("CXPROXY_CHROMIUM", "chromium", "/usr/bin/chromium");
  if (chromium.empty()) {
    GTEST_SKIP() << "chromium is not installed (apt-get install -y chromium, or scripts/install-deps.sh); "
                    "set CXPROXY_CHROMIUM to use another binary";
  }
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster, "audit: {sample_rate: 1}\n");
  HttpClient admin(proxy.adminPort());
  waitTrackedWithHistory(admin, 2);
  // Audited eventual reads, so the page has advice and an observed-staleness row.
  HttpClient data(proxy.dataPort());
  ASSERT_EQ(data.put("/v1/kv/page", "v").status, 204);
  cluster.waitSynced();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(data.get("/v1/kv/page", {{"X-Consistency", "eventual"}}).status, 200);
  ASSERT_TRUE(
      waitUntil([&] { return metricValue(proxy.adminPort(), "cxproxy_audits_total", "result=\"match\"") >= 5; }, 10s));

  TempDir dir("cxproxy-chromium");
  const auto dom = dir.path() / "dom.html";
  const auto log = dir.path() / "chromium.log";
  const std::string url = "http://127.0.0.1:" + std::to_string(proxy.adminPort()) + "/v1/status";
  const std::string command = "exec '" + chromium +
                              "' --headless --no-sandbox --disable-gpu --disable-background-networking "
                              "--disable-component-update --disable-sync --no-first-run --user-data-dir='" +
                              (dir.path() / "profile").string() + "' --dump-dom '" + url + "' 2>'" + log.string() + "'";
  const auto home = dir.path().string();
  auto status = runShell(command, dom, 90s,
                         {{"HOME", home}, {"XDG_CONFIG_HOME", home + "/config"}, {"XDG_CACHE_HOME", home + "/cache"}});
  ASSERT_TRUE(status) << "chromium did not finish within 90 s; its log:\n" << tailFile(log, 30);
  ASSERT_EQ(*status, 0) << tailFile(log, 30);
  const std::string html = readFile(dom);

  // The DOM Chromium built (not just the bytes sent): the table with a row per backend
  // and an <svg> per replica.
  EXPECT_NE(html.find("<table class=\"backends\">"), std::string::npos) << html;
  EXPECT_EQ(count(html, "<tr class=\"backend "), cluster.size()) << html;
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    EXPECT_NE(html.find("data-backend=\"" + cluster.name(i) + "\"><td>" + cluster.name(i) + "</td>"), std::string::npos)
        << cluster.name(i);
  }
  for (std::size_t i : cluster.replicaIndices()) {
    EXPECT_NE(html.find("<svg class=\"spark\" data-backend=\"" + cluster.name(i) + "\""), std::string::npos)
        << cluster.name(i) << "\n"
        << html;
  }
  EXPECT_EQ(count(html, "<svg "), cluster.replicaIndices().size());
  EXPECT_EQ(html.find("<script"), std::string::npos);
  // What the proxy did: traffic per level, the rules (the default at least) with their
  // advice, and the audit's observed staleness next to the bound served, for the reads
  // made before the page was loaded.
  EXPECT_NE(html.find("<table class=\"traffic\">"), std::string::npos) << html;
  EXPECT_EQ(count(html, "<tr class=\"level\""), 6u);
  EXPECT_NE(html.find("<tr class=\"rule\" data-rule=\"default\">"), std::string::npos);
  EXPECT_NE(html.find("<li class=\"advice\">rule `default`: 100.00% of eventual reads served by replicas"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<tr class=\"observed\" data-level=\"eventual\">"), std::string::npos) << html;
  EXPECT_NE(html.find("<tr class=\"served\" data-level=\"eventual\">"), std::string::npos);
}

TEST(MetricsExpositionTest, LiveScrapePassesPromtoolCheck) {
  const std::string promtool = locateTool("CXPROXY_PROMTOOL", "promtool");
  if (promtool.empty()) {
    GTEST_SKIP() << "promtool not found: `make test` unpacks it with scripts/fetch-promtool.sh and sets "
                    "CXPROXY_PROMTOOL; run it that way or point CXPROXY_PROMTOOL at a promtool binary";
  }
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster);
  HttpClient admin(proxy.adminPort());
  waitTrackedWithHistory(admin, 2);

  // Traffic at several levels, so labelled children and histograms exist.
  HttpClient data(proxy.dataPort());
  ASSERT_EQ(data.put("/v1/kv/promtool", "value").status, 204);
  for (const char* level : {"strong", "bounded", "eventual", "session"}) {
    EXPECT_EQ(data.get("/v1/kv/promtool", {{"X-Consistency", level}}).status, 200) << level;
  }
  EXPECT_EQ(data.get("/v1/kv/absent").status, 404);
  EXPECT_EQ(data.get("/v1/kv/promtool", {{"X-Consistency", "nonsense"}}).status, 400);

  auto scrape = admin.get("/metrics");
  ASSERT_EQ(scrape.status, 200);
  EXPECT_NE(scrape.body.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(scrape.body.find("cxproxy_requests_total{"), std::string::npos);

  TempDir dir("cxproxy-promtool");
  writeFile(dir.path() / "metrics.txt", scrape.body);
  const auto out = dir.path() / "promtool.out";
  auto status =
      runShell("exec '" + promtool + "' check metrics < '" + (dir.path() / "metrics.txt").string() + "'", out, 60s);
  ASSERT_TRUE(status) << "promtool did not finish";
  EXPECT_EQ(*status, 0) << "promtool check metrics:\n" << readFile(out);
}

// Families only appear in a scrape once they have a child, so a live scrape never shows
// some of them (no violation, no reload yet). This gives every family one child and lints
// the whole exposition. A new Metrics accessor belongs here too.
TEST(MetricsExpositionTest, EveryFamilyPassesPromtoolCheck) {
  const std::string promtool = locateTool("CXPROXY_PROMTOOL", "promtool");
  if (promtool.empty()) {
    GTEST_SKIP() << "promtool is not installed (Debian ships it in the `prometheus` package, ~96 MB, which "
                    "scripts/install-deps.sh does not install); set CXPROXY_PROMTOOL to a promtool binary";
  }
  metrics::Metrics m;
  m.requests("get", "bounded", "bounded", "replica", 200).Increment();
  m.requestDuration("get", "replica").Observe(0.001);
  m.readStaleness("bounded").Observe(0.02);
  m.replicaLagBytes("replica-1").Set(10);
  m.replicaStaleness("replica-1").Set(0.02);
  m.backendUp("replica-1", "replica").Set(1);
  m.violations("session_history_lost").Increment();
  m.quorumFailures("put").Increment();
  m.downgrades("strong", "bounded", "primary_overloaded").Increment();
  m.overloaded().Set(0);
  m.fallbacks("replica", "primary", "no_fresh_replica").Increment();
  m.backendErrors("replica-1", "timeout").Increment();
  m.sessionTokensRejected("bad_signature").Increment();
  m.connections("data").Set(1);
  m.configReloads("success").Increment();
  m.backendRequests("replica-1", "ok").Increment();
  m.backendRequestDuration("replica-1").Observe(0.0005);
  m.audits("mismatch").Increment();
  m.auditObservedStaleness("bounded").Observe(0.02);

  TempDir dir("cxproxy-promtool");
  writeFile(dir.path() / "metrics.txt", m.serialize());
  const auto out = dir.path() / "promtool.out";
  auto status =
      runShell("exec '" + promtool + "' check metrics < '" + (dir.path() / "metrics.txt").string() + "'", out, 60s);
  ASSERT_TRUE(status) << "promtool did not finish";
  EXPECT_EQ(*status, 0) << "promtool check metrics:\n" << readFile(out);
}

}  // namespace
}  // namespace cx::testing
