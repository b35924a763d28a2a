// Unit tests for the admin endpoints' answers built from the shared state: the load state
// on /v1/status (HTML and JSON agree), and the catalogue's errors on the admin port.
#include "proxy/admin/admin.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>
#include <string_view>

#include "backends/tracker.h"
#include "metrics/metrics.h"
#include "proxy/admin/status_json.h"
#include "proxy/http/request.h"

namespace cx::proxy {
namespace {

// Shared state as the server builds it, with a tracker that is never started (its
// snapshot says every backend is "not polled yet").
struct AdminFixture {
  AdminFixture() {
    shared.config.store(std::make_shared<const Config>());
    shared.metrics = &metrics;
    shared.tracker = &tracker;
    admin = std::make_unique<AdminEndpoints>(shared, io.get_executor());
  }

  // Answers `head` (request line and fields, LF line endings).
  Response get(std::string_view head) {
    std::string text;
    for (char c : head) {
      if (c == '\n') text += '\r';
      text += c;
    }
    if (text.find("\r\nHost:") == std::string::npos) text += "Host: localhost\r\n";  // HTTP/1.1 requires it
    text += "\r\n";
    Request request;
    RequestParser parser(request, 16 * 1024, 0);
    EXPECT_EQ(parser.parseHeader(text).status, ParseStatus::Ok);
    Response response;
    admin->handle(request, response);
    return response;
  }

  metrics::Metrics metrics;
  backends::ReplicationTracker tracker{backends::TrackerOptions{}, nullptr};
  SharedState shared;
  boost::asio::io_context io;
  std::unique_ptr<AdminEndpoints> admin;
};

constexpr std::string_view kBrowser = "GET /v1/status HTTP/1.1\nAccept: text/html,application/xhtml+xml,*/*;q=0.8\n";

TEST(AdminStatus, HtmlPageShowsTheLoadStateTheJsonReports) {
  AdminFixture f;
  Response normal = f.get(kBrowser);
  EXPECT_EQ(normal["Content-Type"], "text/html; charset=utf-8");
  EXPECT_NE(normal.body().find("normal"), std::string::npos);
  EXPECT_EQ(normal.body().find("overloaded"), std::string::npos);

  f.shared.overloadReason = "p99";
  f.shared.overloaded = true;
  Response html = f.get(kBrowser);
  EXPECT_NE(html.body().find("overloaded"), std::string::npos) << "the page must show the controller's state";
  Response json = f.get("GET /v1/status HTTP/1.1\n");
  EXPECT_NE(json.body().find(R"("load":{"state":"overloaded","reason":"p99")"), std::string::npos) << json.body();
}

TEST(AdminStatus, LoadStatusFollowsTheController) {
  AdminFixture f;
  EXPECT_EQ(loadStatus(f.shared).state, "normal");
  EXPECT_EQ(loadStatus(f.shared).reason, "");
  f.shared.overloadReason = "inflight";
  f.shared.overloaded = true;
  EXPECT_EQ(loadStatus(f.shared).state, "overloaded");
  EXPECT_EQ(loadStatus(f.shared).reason, "inflight");
}

TEST(AdminErrors, AnswersFromTheCatalogue) {
  AdminFixture f;
  Response post = f.get("POST /metrics HTTP/1.1\nContent-Length: 0\n");
  EXPECT_EQ(post.result_int(), 405u);
  EXPECT_EQ(post["Allow"], "GET, HEAD");
  EXPECT_EQ(post.body(), R"({"error":"method_not_allowed","message":"admin endpoints take GET"})");
  Response unknown = f.get("GET /nope HTTP/1.1\n");
  EXPECT_EQ(unknown.result_int(), 404u);
  Response ready = f.get("GET /readyz HTTP/1.1\n");  // the primary was never reached
  EXPECT_EQ(ready.result_int(), 503u);
  EXPECT_NE(ready.body().find("\"error\":\"primary_unavailable\""), std::string::npos);
  f.shared.draining = true;
  Response draining = f.get("GET /readyz HTTP/1.1\n");
  EXPECT_EQ(draining.body(), R"({"error":"draining","message":"cxproxy is shutting down"})");
  EXPECT_FALSE(draining.has("Retry-After"));
}

}  // namespace
}  // namespace cx::proxy
