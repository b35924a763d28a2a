// serializeHead: the status line and fields the server writes before a response body.
// HttpLoopTest: the loop itself, in process, on one end of a socketpair: how a handler's
// Responder gets its response out.
#include "proxy/http/http_loop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <boost/asio/post.hpp>

#include <atomic>
#include <charconv>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "metrics/metrics.h"

namespace cx::proxy {
namespace {

Response make(unsigned status, std::string body) {
  Response res;
  res.result(status);
  res.set("Content-Type", "application/json");
  res.body() = std::move(body);
  return res;
}

TEST(SerializeHeadTest, StatusLineFieldsLengthAndBlankLine) {
  std::string out = "left over from the previous response";
  serializeHead(make(200, "{\"a\":1}"), 11, true, out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n");
}

TEST(SerializeHeadTest, NoContentLengthFor204And304) {
  std::string out;
  serializeHead(make(204, ""), 11, true, out);
  EXPECT_EQ(out, "HTTP/1.1 204 No Content\r\nContent-Type: application/json\r\n\r\n");
  serializeHead(make(304, ""), 11, true, out);
  EXPECT_EQ(out, "HTTP/1.1 304 Not Modified\r\nContent-Type: application/json\r\n\r\n");
}

TEST(SerializeHeadTest, ConnectionFieldOnlyWhereTheVersionsDefaultDiffers) {
  std::string out;
  serializeHead(make(404, "x"), 11, false, out);  // HTTP/1.1 keeps alive unless told
  EXPECT_EQ(out,
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 1\r\n"
            "Connection: close\r\n\r\n");
  serializeHead(make(404, "x"), 10, true, out);  // HTTP/1.0 closes unless told
  EXPECT_EQ(out,
            "HTTP/1.0 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 1\r\n"
            "Connection: keep-alive\r\n\r\n");
  serializeHead(make(503, "xy"), 10, false, out);
  EXPECT_EQ(out, "HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n");
}

TEST(SerializeHeadTest, LargeBodyLength) {
  std::string out;
  serializeHead(make(200, std::string(1234567, 'v')), 11, true, out);
  EXPECT_NE(out.find("\r\nContent-Length: 1234567\r\n"), std::string::npos) << out;
}

// A loop serving one end of a socketpair; the test is the client on the other end.
class HttpLoopTest : public ::testing::Test {
 protected:
  void start(Handler handler) {
    loop_ = std::make_unique<HttpLoop>(io_, LimitsConfig{}, std::move(handler), open_, metrics_, "data");
    loop_->start();
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    client_ = fds[1];
    ASSERT_EQ(::fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    open_ = 1;  // what the acceptor counts before it hands a connection over
    loop_->adopt(fds[0]);
  }
  void TearDown() override {
    if (loop_) loop_->stop();
    loop_.reset();
    if (client_ >= 0) ::close(client_);
  }

  // Sends `requests` and runs the loop until `count` responses came back (or none came
  // for a long while: a stuck connection fails the test, it does not hang it). Returns
  // each response's status code and body.
  std::vector<std::pair<int, std::string>> exchange(const std::string& requests, std::size_t count) {
    EXPECT_EQ(::send(client_, requests.data(), requests.size(), 0), static_cast<ssize_t>(requests.size()));
    std::vector<std::pair<int, std::string>> responses;
    std::string in;
    const auto giveUp = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (responses.size() < count && std::chrono::steady_clock::now() < giveUp) {
      io_.run_for(std::chrono::milliseconds(5));
      char buf[4096];
      const ssize_t n = ::recv(client_, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) in.append(buf, static_cast<std::size_t>(n));
      for (;;) {  // complete responses: head, then Content-Length bytes
        const auto end = in.find("\r\n\r\n");
        if (end == std::string::npos) break;
        const auto at = in.find("Content-Length: ");
        std::size_t length = 0;
        if (at != std::string::npos && at < end) std::from_chars(in.data() + at + 16, in.data() + end, length);
        if (in.size() < end + 4 + length) break;
        responses.emplace_back(std::stoi(in.substr(9, 3)), in.substr(end + 4, length));
        in.erase(0, end + 4 + length);
      }
    }
    return responses;
  }

  boost::asio::io_context io_{1};
  metrics::Metrics metrics_;
  std::atomic<std::size_t> open_{0};
  std::unique_ptr<HttpLoop> loop_;
  int client_ = -1;
};

std::string get(const std::string& path) { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"; }

TEST_F(HttpLoopTest, AHandlerThatThrowsBeforeAnsweringGets500AndTheConnectionGoesOn) {
  start([](const Request& req, Response& res, Responder done) {
    if (req.target() == "/throw") throw std::runtime_error("a bug");
    res.body() = "fine";
    done();
  });
  const auto responses = exchange(get("/throw") + get("/next"), 2);
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].first, 500);
  EXPECT_NE(responses[0].second.find("\"internal_error\""), std::string::npos) << responses[0].second;
  EXPECT_EQ(responses[1], std::make_pair(200, std::string("fine")));
}

// Answers that come in a later turn of the loop (as backend replies do) go out in the
// requests' order. A handler that calls its Responder again later (a bug), by which time
// the connection is on its next request, does not answer that request: the call is
// ignored.
TEST_F(HttpLoopTest, AnswersFromALaterTurnKeepTheirOrderAndAStraySecondCallIsIgnored) {
  start([this](const Request& req, Response& res, Responder done) {
    boost::asio::post(io_, [this, &res, done, target = std::string(req.target())] {
      res.body() = target;
      done();
      // Two turns on: the response has been sent and the next request is in its handler.
      boost::asio::post(io_, [this, done] { boost::asio::post(io_, [done] { done(); }); });
    });
  });
  const auto responses = exchange(get("/a") + get("/b") + get("/c"), 3);
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_EQ(responses[0], std::make_pair(200, std::string("/a")));
  EXPECT_EQ(responses[1], std::make_pair(200, std::string("/b")));
  EXPECT_EQ(responses[2], std::make_pair(200, std::string("/c")));
}

}  // namespace
}  // namespace cx::proxy
