// Unit tests for the HTML status page: the per-backend staleness history rings, HTML
// escaping of everything from outside, sparklines, and Accept-header negotiation.
#include "proxy/admin/status_page.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace cx::proxy {
namespace {

using backends::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

const Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours{1};

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

// A primary and two replicas; replica-2 is fresh as of `replica2FreshAgo` before `now`.
backends::Topology topology(Clock::time_point now, milliseconds replica2FreshAgo = milliseconds{40}) {
  backends::Topology t;
  t.generation = 7;
  t.takenAt = now;
  backends::BackendStatus p;
  p.name = "primary";
  p.address = "127.0.0.1:6379";
  p.configuredPrimary = true;
  p.up = true;
  p.role = backends::NodeRole::Primary;
  p.replid = "8a1f0c";
  p.offset = 123456;
  t.backends.push_back(p);
  backends::BackendStatus r1;
  r1.name = "replica-1";
  r1.address = "127.0.0.1:6380";
  r1.up = false;
  r1.role = backends::NodeRole::Replica;
  r1.lastError = "connect: refused";
  t.backends.push_back(r1);
  backends::BackendStatus r2;
  r2.name = "replica-2";
  r2.address = "127.0.0.1:6381";
  r2.up = true;
  r2.role = backends::NodeRole::Replica;
  r2.tracked = true;
  r2.offset = 123000;
  r2.lagBytes = 456;
  r2.freshAsOf = now - replica2FreshAgo;
  t.backends.push_back(r2);
  return t;
}

TEST(StalenessHistory, KeepsOneSamplePerCallPerBackend) {
  StalenessHistory history(seconds{600}, seconds{1});
  history.sample(topology(kT0), kT0);
  history.sample(topology(kT0 + seconds{1}, milliseconds{300}), kT0 + seconds{1});
  const SampleRing* r2 = history.samples("replica-2");
  ASSERT_NE(r2, nullptr);
  ASSERT_EQ(r2->size(), 2u);
  EXPECT_EQ((*r2)[0].bound, milliseconds{40});
  EXPECT_EQ((*r2)[1].bound, milliseconds{300});
  EXPECT_EQ((*r2)[1].lagBytes, 456u);
  EXPECT_EQ((*r2)[1].at, kT0 + seconds{1});
  const SampleRing* r1 = history.samples("replica-1");
  ASSERT_NE(r1, nullptr);
  EXPECT_EQ(r1->newest().bound, std::nullopt);  // untracked: no bound
  EXPECT_FALSE(r1->newest().up);
  EXPECT_EQ(history.samples("primary")->newest().bound, milliseconds{0});
  EXPECT_EQ(history.samples("nobody"), nullptr);
}

TEST(StalenessHistory, RingHoldsTheLastWindowAndDropsTheOldest) {
  StalenessHistory history(seconds{10}, seconds{1});
  EXPECT_EQ(history.capacity(), 10u);
  for (int i = 0; i < 25; ++i) {
    auto now = kT0 + seconds{i};
    history.sample(topology(now, milliseconds{i}), now);
  }
  const SampleRing* r2 = history.samples("replica-2");
  ASSERT_NE(r2, nullptr);
  ASSERT_EQ(r2->size(), 10u);
  for (std::size_t i = 0; i < r2->size(); ++i) {
    EXPECT_EQ((*r2)[i].at, kT0 + seconds{15 + static_cast<int>(i)}) << i;
    EXPECT_EQ((*r2)[i].bound, milliseconds{15 + static_cast<int>(i)});
  }
}

TEST(StalenessHistory, ForgetsBackendsThatLeaveTheTopology) {
  StalenessHistory history;
  history.sample(topology(kT0), kT0);
  auto smaller = topology(kT0 + seconds{1});
  smaller.backends.pop_back();
  history.sample(smaller, kT0 + seconds{1});
  EXPECT_EQ(history.samples("replica-2"), nullptr);
  EXPECT_NE(history.samples("replica-1"), nullptr);
}

TEST(SampleRing, OverwritesOldestWhenFull) {
  SampleRing ring(3);
  for (int i = 0; i < 5; ++i) ring.push({kT0 + seconds{i}, milliseconds{i}, 0, true});
  ASSERT_EQ(ring.size(), 3u);
  EXPECT_EQ(ring[0].bound, milliseconds{2});
  EXPECT_EQ(ring[2].bound, milliseconds{4});
  EXPECT_EQ(ring.newest().bound, milliseconds{4});
}

TEST(StatusPage, ShowsEveryBackendSummaryAndRefreshes) {
  StalenessHistory history;
  for (int i = 0; i < 30; ++i) history.sample(topology(kT0 + seconds{i}), kT0 + seconds{i});
  const auto now = kT0 + seconds{29};
  StatusPageContext ctx;
  ctx.now = now;
  ctx.loadState = "overloaded";
  ctx.configVersion = "v42";
  ctx.proxyVersion = "0.1.0";
  const std::string html = renderStatusHtml(topology(now), history, ctx);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<meta http-equiv=\"refresh\" content=\"2\">"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);  // no external assets
  EXPECT_EQ(html.find("https://"), std::string::npos);
  for (const char* name : {"primary", "replica-1", "replica-2"}) {
    EXPECT_NE(html.find(std::string("data-backend=\"") + name + "\"><td>" + name + "</td>"), std::string::npos) << name;
  }
  EXPECT_EQ(count(html, "<tr class=\"backend "), 3u);
  EXPECT_NE(html.find("<tr class=\"backend down\" data-backend=\"replica-1\">"), std::string::npos);
  EXPECT_NE(html.find("123456"), std::string::npos);      // primary offset
  EXPECT_NE(html.find("8a1f0c"), std::string::npos);      // replid
  EXPECT_NE(html.find("overloaded"), std::string::npos);  // load state
  EXPECT_NE(html.find("v42"), std::string::npos);         // config version
  EXPECT_NE(html.find("127.0.0.1:6381"), std::string::npos);
  EXPECT_NE(html.find("40 ms"), std::string::npos);  // replica-2's current bound
  EXPECT_NE(html.find("456 B"), std::string::npos);  // replica-2's lag
  EXPECT_NE(html.find("connect: refused"), std::string::npos);
}

TEST(StatusPage, DrawsOneSparklinePerReplica) {
  StalenessHistory history;
  for (int i = 0; i < 30; ++i) {
    auto now = kT0 + seconds{i};
    history.sample(topology(now, milliseconds{10 * i}), now);
  }
  const auto now = kT0 + seconds{29};
  StatusPageContext ctx;
  ctx.now = now;
  const std::string html = renderStatusHtml(topology(now), history, ctx);
  EXPECT_EQ(count(html, "<svg class=\"spark\""), 2u);  // replicas only
  EXPECT_NE(html.find("<svg class=\"spark\" data-backend=\"replica-2\""), std::string::npos);
  // replica-2 had a bound in every sample: one continuous line of 30 points.
  auto svg = html.substr(html.find("<svg class=\"spark\" data-backend=\"replica-2\""));
  svg = svg.substr(0, svg.find("</svg>"));
  ASSERT_NE(svg.find("<path class=\"line\" d=\"M"), std::string::npos) << svg;
  EXPECT_EQ(count(svg, "L"), 29u);
  // The newest point is at the right edge and the largest bound at the top.
  EXPECT_NE(svg.find("L240.0,3.0"), std::string::npos) << svg;
  // replica-1 never had a bound: no line, red marks instead.
  auto svg1 = html.substr(html.find("<svg class=\"spark\" data-backend=\"replica-1\""));
  svg1 = svg1.substr(0, svg1.find("</svg>"));
  EXPECT_EQ(svg1.find("<path"), std::string::npos);
  EXPECT_EQ(count(svg1, "<rect class=\"unknown\""), 30u);
}

TEST(StatusPage, SparklineWithoutHistorySaysSo) {
  StalenessHistory history;
  StatusPageContext ctx;
  ctx.now = kT0;
  const std::string html = renderStatusHtml(topology(kT0), history, ctx);
  EXPECT_EQ(count(html, "<svg class=\"spark\""), 2u);
  EXPECT_EQ(count(html, "no samples yet"), 2u);
}

TEST(StatusPage, EscapesNamesErrorsAndVersions) {
  auto t = topology(kT0);
  t.backends[1].name = "<b>r&1</b>";
  t.backends[1].lastError = "<script>alert('x')</script> \"quoted\"";
  t.backends[2].address = "host\"><img src=x>";
  StalenessHistory history;
  history.sample(t, kT0);
  StatusPageContext ctx;
  ctx.now = kT0;
  const std::string version = "<i>v1</i>";
  ctx.configVersion = version;
  const std::string html = renderStatusHtml(t, history, ctx);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<i>"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;r&amp;1&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &quot;quoted&quot;"), std::string::npos);
  EXPECT_NE(html.find("data-backend=\"&lt;b&gt;r&amp;1&lt;/b&gt;\""), std::string::npos);
  EXPECT_NE(html.find("&lt;i&gt;v1&lt;/i&gt;"), std::string::npos);
}

TEST(HtmlEscape, ReplacesEveryMarkupCharacter) {
  EXPECT_EQ(htmlEscape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(htmlEscape("plain"), "plain");
}

TEST(PrefersHtml, BrowsersGetHtmlEverythingElseJson) {
  // Chromium's and Firefox's navigation Accept headers.
  EXPECT_TRUE(
      prefersHtml("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
                  "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"));
  EXPECT_TRUE(prefersHtml("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
  EXPECT_TRUE(prefersHtml("TEXT/HTML"));
  EXPECT_TRUE(prefersHtml("application/json;q=0.5, text/html"));
  EXPECT_TRUE(prefersHtml("text/*"));
  EXPECT_FALSE(prefersHtml(""));
  EXPECT_FALSE(prefersHtml("*/*"));  // curl
  EXPECT_FALSE(prefersHtml("application/json"));
  EXPECT_FALSE(prefersHtml("application/json, text/html"));  // a tie keeps JSON
  EXPECT_FALSE(prefersHtml("text/html;q=0.5, application/json"));
  EXPECT_FALSE(prefersHtml("text/html;q=0, */*"));
}

}  // namespace
}  // namespace cx::proxy
