// Unit tests for the request parser: what it accepts (checked field by field against
// Beast's parser on generated requests, whole and in pieces of every size), what it
// refuses and why, keep-alive rules, limits, and reuse of one Request per connection.
#include "proxy/http/request.h"

#include <boost/beast/http.hpp>

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

namespace cx::proxy {
namespace {

namespace beast = boost::beast;
using namespace std::string_literals;

constexpr std::size_t kHeaderLimit = 8 * 1024;
constexpr std::uint64_t kBodyLimit = 64 * 1024;

struct Outcome {
  ParseStatus status = ParseStatus::NeedMore;
  std::string leftover;  // bytes after the request (a pipelined next one)
};

// Feeds `input` in pieces of `piece` bytes (0: whole) the way the server does: the
// unconsumed bytes stay buffered and are offered again with the next piece.
Outcome parse(RequestParser& parser, std::string_view input, std::size_t piece = 0) {
  parser.reset();
  std::string buffered;
  std::size_t offered = 0;
  for (;;) {
    const std::size_t n = piece == 0 ? input.size() - offered : std::min(piece, input.size() - offered);
    buffered.append(input.substr(offered, n));
    offered += n;
    for (;;) {
      if (parser.done()) return {ParseStatus::Ok, buffered};
      const auto r = parser.headerDone() ? parser.parseBody(buffered) : parser.parseHeader(buffered);
      buffered.erase(0, r.used);
      if (r.status == ParseStatus::NeedMore) break;
      if (r.status != ParseStatus::Ok) return {r.status, buffered};
    }
    if (offered == input.size()) return {ParseStatus::NeedMore, buffered};
  }
}

ParseStatus statusOf(std::string_view input) {
  Request req;
  RequestParser parser(req, kHeaderLimit, kBodyLimit);
  return parse(parser, input).status;
}

TEST(RequestParser, ParsesAGetAndLeavesThePipelinedNextRequest) {
  Request req;
  RequestParser parser(req, kHeaderLimit, kBodyLimit);
  const std::string next = "GET /second HTTP/1.1\r\nHost: x\r\n\r\n";
  Outcome out = parse(parser,
                      "GET /v1/kv/a%20b?x=1 HTTP/1.1\r\nHost: localhost\r\nX-Consistency:  session \t\r\n"
                      "x-empty:\r\n\r\n" +
                          next);
  ASSERT_EQ(out.status, ParseStatus::Ok) << describe(out.status);
  EXPECT_EQ(out.leftover, next);
  EXPECT_EQ(req.method(), http::verb::get);
  EXPECT_EQ(req.method_string(), "GET");
  EXPECT_EQ(req.target(), "/v1/kv/a%20b?x=1");
  EXPECT_EQ(req.version(), 11u);
  EXPECT_TRUE(req.keep_alive());
  EXPECT_TRUE(req.body().empty());
  ASSERT_EQ(req.fields().size(), 3u);
  EXPECT_EQ(req.fields()[1].name_string(), "X-Consistency");
  EXPECT_EQ(req.fields()[1].value(), "session");  // surrounding whitespace is not the value
  EXPECT_EQ(req.fields()[2].value(), "");
  EXPECT_EQ(req["x-consistency"], "session");
  EXPECT_EQ(req[http::field::host], "localhost");
  EXPECT_EQ(req["X-Missing"], "");
}

TEST(RequestParser, ReadsBodiesByLengthAndChunkedInPiecesOfEverySize) {
  const std::string byLength = "PUT /v1/kv/k HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world";
  const std::string chunked =
      "POST /v1/cmd HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n";
  for (std::size_t piece = 1; piece <= chunked.size(); ++piece) {
    Request req;
    RequestParser parser(req, kHeaderLimit, kBodyLimit);
    Outcome a = parse(parser, byLength, piece);
    ASSERT_EQ(a.status, ParseStatus::Ok) << "piece " << piece << ": " << describe(a.status);
    EXPECT_EQ(req.body(), "hello world") << "piece " << piece;
    Outcome b = parse(parser, chunked, piece);
    ASSERT_EQ(b.status, ParseStatus::Ok) << "piece " << piece << ": " << describe(b.status);
    EXPECT_EQ(req.body(), "hello 0123456789") << "piece " << piece;
    EXPECT_EQ(req.method(), http::verb::post);
    EXPECT_TRUE(b.leftover.empty());
  }
}

TEST(RequestParser, KeepAliveFollowsTheVersionAndTheConnectionField) {
  const std::pair<std::string, bool> cases[] = {
      {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, CLOSE\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n", true},
  };
  for (const auto& [input, keepAlive] : cases) {
    Request req;
    RequestParser parser(req, kHeaderLimit, kBodyLimit);
    ASSERT_EQ(parse(parser, input).status, ParseStatus::Ok) << input;
    EXPECT_EQ(req.keep_alive(), keepAlive) << input;
  }
}

TEST(RequestParser, SeesExpectContinueBeforeTheBody) {
  Request req;
  RequestParser parser(req, kHeaderLimit, kBodyLimit);
  Outcome out = parse(parser, "PUT /k HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n");
  EXPECT_EQ(out.status, ParseStatus::NeedMore);
  EXPECT_TRUE(parser.headerDone());
  EXPECT_FALSE(parser.done());
  EXPECT_TRUE(parser.expectContinue());
  EXPECT_EQ(parser.finishAtEof(), ParseStatus::PartialMessage);
}

TEST(RequestParser, RefusesWhatCouldHideWhereARequestEnds) {
  const std::pair<std::string, ParseStatus> cases[] = {
      {"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", ParseStatus::BadRequestLine},
      {"GET / HTTP/1.1 \r\n\r\n", ParseStatus::BadRequestLine},
      {"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", ParseStatus::BadRequestLine},
      {"GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n", ParseStatus::BadRequestLine},
      {"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", ParseStatus::BadRequestLine},
      {"GET / HTTX/1.1\r\n\r\n", ParseStatus::BadRequestLine},
      {"GET /\r\n\r\n", ParseStatus::BadRequestLine},
      {"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", ParseStatus::BadRequestLine},
      {"GET / HTTP/2.0\r\n\r\n", ParseStatus::BadVersion},
      {"GET / HTTP/1.1\r\nHost: x\r\nHost : x\r\n\r\n", ParseStatus::BadField},
      {"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n", ParseStatus::BadField},
      {"GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", ParseStatus::BadField},
      {"GET / HTTP/1.1\r\nHost: x\r\n: empty-name\r\n\r\n", ParseStatus::BadField},
      {"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", ParseStatus::BadField},
      {"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\nb\r\n\r\n", ParseStatus::BadField},
      {"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n"s, ParseStatus::BadField},
      {"GET / HTTP/1.1\r\nHost: x\r\nX-A: a long value with a DEL \x7f here\r\n\r\n", ParseStatus::BadField},
      {"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", ParseStatus::BadContentLength},
      {"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", ParseStatus::BadContentLength},
      {"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n", ParseStatus::BadContentLength},
      {"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", ParseStatus::BadContentLength},
      {"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", ParseStatus::BadContentLength},
      {"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", ParseStatus::BadContentLength},
      {"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
       ParseStatus::LengthAndEncoding},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n",
       ParseStatus::LengthAndEncoding},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", ParseStatus::BadTransferEncoding},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", ParseStatus::BadTransferEncoding},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
       ParseStatus::BadTransferEncoding},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ParseStatus::BadChunk},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n", ParseStatus::BadChunk},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 x\r\nabc\r\n", ParseStatus::BadChunk},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", ParseStatus::BadChunk},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(5000, '1'),
       ParseStatus::BadChunk},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
       ParseStatus::BadField},
      // Lines ended by LF alone are refused as soon as one arrives, not after a deadline.
      {"GET / HTTP/1.1\nHost: x\n", ParseStatus::BareLineFeed},
      {"GET / HTTP/1.1\r\nHost: x\n", ParseStatus::BareLineFeed},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello", ParseStatus::BareLineFeed},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\n", ParseStatus::BareLineFeed},
  };
  for (const auto& [input, expected] : cases) {
    EXPECT_EQ(statusOf(input), expected) << input << " → " << describe(statusOf(input));
  }
  // Two equal Content-Length fields would say the same thing, but other parsers refuse
  // them (Beast does): refused too.
  EXPECT_EQ(statusOf("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nab"),
            ParseStatus::BadContentLength);
}

// RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing; §3.2: an HTTP/1.1
// request has exactly one Host, any request at most one. And what Beast refuses and a
// differential fuzzer (tests/fuzz/fuzz_http_request.cpp) found this parser accepting.
TEST(RequestParser, RefusesWhatAnotherParserOnThePathWouldFrameDifferently) {
  const std::pair<std::string, ParseStatus> cases[] = {
      {"GET /v1/kv/a HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       ParseStatus::EncodingInHttp10},
      {"PUT / HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", ParseStatus::EncodingInHttp10},
      {"PUT / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", ParseStatus::EncodingInHttp10},
      {"GET / HTTP/1.1\r\n\r\n", ParseStatus::BadHost},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", ParseStatus::BadHost},
      {"GET / HTTP/1.1\r\nHost: a\r\nhOST: a\r\n\r\n", ParseStatus::BadHost},
      {"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", ParseStatus::BadHost},
      {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", ParseStatus::BadHost},
      {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", ParseStatus::BadHost},
      {"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", ParseStatus::BadHost},
      {"GET / HTTP/1.2\r\nHost: x\r\n\r\n", ParseStatus::BadVersion},
      {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", ParseStatus::BadVersion},
      // A line starting with a bare CR once ended the fields there, hiding the rest.
      {"PUT / HTTP/1.1\r\nHost: x\r\n\rContent-Length: 3\r\n\r\nabc", ParseStatus::BadField},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: \xff keep-alive\r\n\r\n", ParseStatus::BadField},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: a b\r\n\r\n", ParseStatus::BadField},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;\r\nabc\r\n0\r\n\r\n", ParseStatus::BadChunk},
      // Whitespace before the end of a chunk line (after the size, a name or a value):
      // outside the grammar, refused by Beast; found by the differential fuzzer.
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0;e=txt \r\n\r\n", ParseStatus::BadChunk},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0;e \r\n\r\n", ParseStatus::BadChunk},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n", ParseStatus::BadChunk},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\r\nabc\r\n0\r\n\r\n",
       ParseStatus::BadChunk},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\"b\r\nabc\r\n0\r\n\r\n",
       ParseStatus::BadChunk},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a\x80\r\nabc\r\n0\r\n\r\n",
       ParseStatus::BadChunk},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n",
       ParseStatus::BadField},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n",
       ParseStatus::BadField},
      {"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nConnection: a b\r\n\r\n",
       ParseStatus::BadField},
  };
  for (const auto& [input, expected] : cases) {
    EXPECT_EQ(statusOf(input), expected) << input << " → " << describe(statusOf(input));
  }
  // What stays accepted: HTTP/1.0 without Host, an empty Host, host:port and IP literals,
  // chunk extensions the grammar allows, other trailers.
  for (const std::string input :
       {"GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.1\r\nHost:\r\n\r\n", "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: [::1]:80\r\nConnection: keep-alive, , Upgrade\r\n\r\n",
        "PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3 ; a = b ;c;d=\"q \\\" \\x\"\r\nabc\r\n0\r\nX-T: 1\r\nHost: y\r\n\r\n"}) {
    EXPECT_EQ(statusOf(input), ParseStatus::Ok) << input << " → " << describe(statusOf(input));
  }
}

// A CR at the end of one read and its LF at the start of the next is a proper line end.
TEST(RequestParser, ACrlfCutBetweenReadsIsNotABareLineFeed) {
  Request req;
  RequestParser parser(req, kHeaderLimit, kBodyLimit);
  const std::string input = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  for (std::size_t piece = 1; piece <= input.size(); ++piece) {
    EXPECT_EQ(parse(parser, input, piece).status, ParseStatus::Ok) << "piece " << piece;
  }
}

TEST(RequestParser, EnforcesTheHeaderAndBodyLimits) {
  const std::string line = "GET / HTTP/1.1\r\nHost: x\r\n";
  auto withFiller = [&](std::size_t total) {  // a complete header of exactly `total` bytes
    const std::string prefix = line + "X-Filler: ";
    return prefix + std::string(total - prefix.size() - 4, 'a') + "\r\n\r\n";
  };
  EXPECT_EQ(statusOf(withFiller(kHeaderLimit)), ParseStatus::Ok);
  EXPECT_EQ(statusOf(withFiller(kHeaderLimit + 1)), ParseStatus::HeaderTooLarge);
  // An unfinished header over the limit is refused without waiting for its end.
  EXPECT_EQ(statusOf(line + "X-Filler: " + std::string(kHeaderLimit, 'a')), ParseStatus::HeaderTooLarge);

  const std::string body(kBodyLimit, 'b');
  EXPECT_EQ(statusOf("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(kBodyLimit) + "\r\n\r\n" + body),
            ParseStatus::Ok);
  EXPECT_EQ(statusOf("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(kBodyLimit + 1) + "\r\n\r\n"),
            ParseStatus::BodyTooLarge);
  auto chunkedOf = [](std::size_t bytes) {
    std::string s = "PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (std::size_t sent = 0; sent < bytes;) {
      const std::size_t n = std::min<std::size_t>(1000, bytes - sent);
      char size[16];
      std::snprintf(size, sizeof size, "%zx\r\n", n);
      s += size + std::string(n, 'c') + "\r\n";
      sent += n;
    }
    return s + "0\r\n\r\n";
  };
  EXPECT_EQ(statusOf(chunkedOf(kBodyLimit)), ParseStatus::Ok);
  EXPECT_EQ(statusOf(chunkedOf(kBodyLimit + 1)), ParseStatus::BodyTooLarge);
}

TEST(RequestParser, TellsAClosedConnectionFromACutRequest) {
  Request req;
  RequestParser parser(req, kHeaderLimit, kBodyLimit);
  parser.reset();
  EXPECT_EQ(parser.finishAtEof(), ParseStatus::Ok);  // nothing of a request arrived
  EXPECT_EQ(parse(parser, "GET / HTT").status, ParseStatus::NeedMore);
  EXPECT_EQ(parser.finishAtEof(), ParseStatus::PartialMessage);
}

TEST(RequestParser, OneRequestObjectServesManyRequests) {
  Request req;
  RequestParser parser(req, kHeaderLimit, kBodyLimit);
  ASSERT_EQ(parse(parser, "PUT /a HTTP/1.0\r\nContent-Length: 3\r\nX-A: 1\r\n\r\nabc").status, ParseStatus::Ok);
  ASSERT_EQ(parse(parser, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n").status, ParseStatus::Ok);
  EXPECT_EQ(req.target(), "/b");
  EXPECT_TRUE(req.body().empty());
  EXPECT_EQ(req.fields().size(), 1u);
  EXPECT_EQ(req["X-A"], "");
  EXPECT_EQ(req.version(), 11u);
  EXPECT_TRUE(req.keep_alive());
}

// Generated valid requests: everything Beast's parser reads from them, this parser must
// read the same, whole and in random pieces.
TEST(RequestParser, ReadsGeneratedRequestsAsBeastDoes) {
  std::mt19937 rng(20261122);
  auto pick = [&](std::string_view chars) { return chars[rng() % chars.size()]; };
  auto randomString = [&](std::string_view chars, std::size_t minLen, std::size_t maxLen) {
    std::string s(minLen + rng() % (maxLen - minLen + 1), ' ');
    for (auto& c : s) c = pick(chars);
    return s;
  };
  const std::string_view tokenChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";
  const std::string_view targetChars = "abcXYZ0189/?=&%:@-._~+!$'()*,;";
  const std::string_view valueChars = "abcXYZ0189 \t!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\x80\xff";
  const std::string_view methods[] = {"GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS", "FROB"};

  for (int round = 0; round < 400; ++round) {
    const bool http10 = rng() % 4 == 0;
    std::string input =
        std::string(methods[rng() % std::size(methods)]) + " /" + randomString(targetChars, 0, 40) +
        (http10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\nHost: " + randomString(targetChars.substr(0, 10), 0, 20) + "\r\n");
    const int fields = static_cast<int>(rng() % 8);
    for (int i = 0; i < fields; ++i) {
      std::string value = randomString(valueChars, 0, 60);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
      input += "X-" + randomString(tokenChars, 1, 12) + ":" + (rng() % 2 ? " " : "") + value + "\r\n";
    }
    if (rng() % 3 == 0) input += rng() % 2 ? "Connection: close\r\n" : "Connection: keep-alive\r\n";
    const std::string body = randomString(valueChars, 0, 300);
    if (http10 || rng() % 2 == 0) {  // HTTP/1.0 has no chunked framing
      input += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    } else {
      input += "Transfer-Encoding: chunked\r\n\r\n";
      for (std::size_t at = 0; at < body.size();) {
        const std::size_t n = std::min<std::size_t>(1 + rng() % 64, body.size() - at);
        char size[16];
        std::snprintf(size, sizeof size, "%zX", n);
        input += size + std::string(rng() % 3 == 0 ? ";ext=1" : "") + "\r\n" + body.substr(at, n) + "\r\n";
        at += n;
      }
      input += "0\r\n" + std::string(rng() % 3 == 0 ? "X-Trailer: done\r\n" : "") + "\r\n";
    }

    http::request_parser<http::string_body> beastParser;
    beastParser.eager(true);
    beast::error_code ec;
    const auto used = beastParser.put(boost::asio::buffer(input), ec);
    ASSERT_FALSE(ec) << ec.message() << "\n" << input;
    ASSERT_TRUE(beastParser.is_done()) << input;
    ASSERT_EQ(used, input.size());
    const auto& expected = beastParser.get();

    const std::size_t pieces[] = {0, 1 + rng() % 16, 1 + rng() % 200};
    for (std::size_t piece : pieces) {
      Request req;
      RequestParser parser(req, kHeaderLimit, kBodyLimit);
      Outcome out = parse(parser, input, piece);
      ASSERT_EQ(out.status, ParseStatus::Ok) << describe(out.status) << " (piece " << piece << ")\n" << input;
      EXPECT_TRUE(out.leftover.empty());
      EXPECT_EQ(req.method(), expected.method());
      EXPECT_EQ(req.method_string(), expected.method_string());
      EXPECT_EQ(req.target(), expected.target());
      EXPECT_EQ(req.version(), expected.version());
      EXPECT_EQ(req.keep_alive(), expected.keep_alive()) << input;
      EXPECT_EQ(req.body(), expected.body());
      std::vector<std::pair<std::string, std::string>> ours;
      std::vector<std::pair<std::string, std::string>> theirs;
      for (const auto& f : req) ours.emplace_back(f.name_string(), f.value());
      for (const auto& f : expected) {
        if (f.name_string() != "X-Trailer") theirs.emplace_back(f.name_string(), f.value());  // Beast keeps trailers
      }
      EXPECT_EQ(ours, theirs) << input;
    }
  }
}

}  // namespace
}  // namespace cx::proxy
