// A small blocking HTTP/1.1 client for tests: Beast async operations driven one handler
// at a time on a private io_context, with beast::tcp_stream deadlines.
#include "tests/integration/support/http_client.h"

#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cerrno>
#include <optional>

namespace cx::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

HttpResponse toResponse(const http::response<http::string_body>& message) {
  HttpResponse out;
  out.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    std::string name = lower(std::string_view(field.name_string().data(), field.name_string().size()));
    std::string value(field.value().data(), field.value().size());
    auto [it, inserted] = out.headers.emplace(name, value);
    if (!inserted) it->second += ", " + value;
  }
  out.body = message.body();
  return out;
}

enum class ParseOutcome { Complete, Incomplete, Error };

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

bool HttpResponse::hasHeader(std::string_view name) const { return headers.count(lower(name)) != 0; }

struct HttpClient::Impl {
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  // Runs handlers until `done`; the stream's deadline guarantees it ends.
  void runUntil(const bool& done) {
    ioc.restart();
    while (!done) {
      if (ioc.run_one() == 0) throw HttpError("internal: io_context ran out of work");
    }
  }

  // Parses one response from the front of `buffer`. On Complete, `used` bytes form it.
  ParseOutcome parseOne(bool eof, bool headRequest, HttpResponse& out, std::size_t& used, std::string& error) {
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.header_limit(1024 * 1024);
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    if (headRequest) parser.skip(true);
    auto data = buffer.data();
    const char* bytes = static_cast<const char*>(data.data());
    std::size_t size = data.size();
    used = 0;
    while (!parser.is_done()) {
      beast::error_code ec;
      std::size_t n = parser.put(asio::buffer(bytes + used, size - used), ec);
      used += n;
      if (ec == http::error::need_more || (!ec && n == 0)) {
        if (!eof) return ParseOutcome::Incomplete;
        if (used == 0 && size == 0) return ParseOutcome::Incomplete;
        parser.put_eof(ec);
        if (ec) {
          if (ec == http::error::partial_message) return ParseOutcome::Incomplete;
          error = ec.message();
          return ParseOutcome::Error;
        }
        break;
      }
      if (ec) {
        error = ec.message();
        return ParseOutcome::Error;
      }
    }
    if (!parser.is_done()) return ParseOutcome::Incomplete;
    out = toResponse(parser.get());
    return ParseOutcome::Complete;
  }
};

HttpClient::HttpClient(int port, std::chrono::milliseconds timeout)
    : port_(port), timeout_(timeout), impl_(std::make_unique<Impl>()) {}

HttpClient::~HttpClient() { close(); }

void HttpClient::shutdownSend() {
  if (!impl_->stream) return;
  beast::error_code ec;
  impl_->stream->socket().shutdown(tcp::socket::shutdown_send, ec);
}

void HttpClient::close() {
  if (impl_->stream) {
    beast::error_code ec;
    impl_->stream->socket().shutdown(tcp::socket::shutdown_both, ec);
    impl_->stream->socket().close(ec);
    impl_->stream.reset();
  }
  impl_->buffer.consume(impl_->buffer.size());
  connected_ = false;
}

void HttpClient::ensureConnected(bool freshRequest) {
  if (connected_ && impl_->buffer.size() == 0) {
    // A keep-alive connection the server closed while idle: reopen rather than fail. For
    // request(), bytes the server sent unasked on an idle connection (e.g. a 408 before
    // closing) make it unusable too, as in common HTTP clients; raw mode keeps them.
    char byte;
    ssize_t n = ::recv(impl_->stream->socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    bool closedByPeer = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    if (closedByPeer || (n > 0 && freshRequest)) close();
  }
  if (connected_) return;
  close();
  impl_->stream.emplace(impl_->ioc);
  tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), static_cast<unsigned short>(port_));
  beast::error_code ec;
  bool done = false;
  impl_->stream->expires_after(timeout_);
  impl_->stream->async_connect(endpoint, [&](beast::error_code e) {
    ec = e;
    done = true;
  });
  impl_->runUntil(done);
  if (ec) {
    impl_->stream.reset();
    throw HttpError("connect 127.0.0.1:" + std::to_string(port_) + ": " + ec.message());
  }
  impl_->stream->socket().set_option(tcp::no_delay(true), ec);
  connected_ = true;
  ++connectionsOpened_;
}

HttpResponse HttpClient::request(std::string_view method, std::string_view target, std::string_view body,
                                 const HttpHeaders& headers) {
  ensureConnected(true);
  http::request<http::string_body> req;
  req.method_string({method.data(), method.size()});
  req.target({target.data(), target.size()});
  req.version(11);
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port_));
  req.set(http::field::user_agent, "cxproxy-integration-tests");
  req.body() = std::string(body);
  req.prepare_payload();
  for (const auto& [name, value] : headers) req.set(name, value);

  beast::error_code ec;
  bool done = false;
  impl_->stream->expires_after(timeout_);
  http::async_write(*impl_->stream, req, [&](beast::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  impl_->runUntil(done);
  if (ec) {
    close();
    throw HttpError(std::string(method) + " " + std::string(target) + ": write failed: " + ec.message());
  }
  RawResult result = readResponses(1, timeout_, lower(method) == "head");
  if (result.responses.empty()) {
    std::string why = !result.parseError.empty() ? "bad response: " + result.parseError
                      : result.timedOut          ? "no response within " + std::to_string(timeout_.count()) + " ms"
                                                 : "connection closed without a response";
    close();
    throw HttpError(std::string(method) + " " + std::string(target) + ": " + why);
  }
  HttpResponse& response = result.responses.front();
  if (lower(response.header("connection")).find("close") != std::string::npos) close();
  return std::move(response);
}

bool HttpClient::sendRaw(std::string_view bytes) {
  ensureConnected();
  beast::error_code ec;
  bool done = false;
  impl_->stream->expires_after(timeout_);
  asio::async_write(*impl_->stream, asio::buffer(bytes.data(), bytes.size()), [&](beast::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  impl_->runUntil(done);
  if (ec) {
    connected_ = false;  // keep buffered bytes: a response may have arrived before the close
    return false;
  }
  return true;
}

RawResult HttpClient::readRaw(std::size_t responses, std::chrono::milliseconds timeout) {
  if (!connected_ && impl_->buffer.size() == 0) ensureConnected();
  return readResponses(responses, timeout, false);
}

RawResult HttpClient::exchangeRaw(std::string_view bytes, std::size_t responses, std::chrono::milliseconds timeout) {
  sendRaw(bytes);
  return readResponses(responses, timeout, false);
}

RawResult HttpClient::readResponses(std::size_t count, std::chrono::milliseconds timeout, bool headRequest) {
  RawResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool eof = !connected_;
  for (;;) {
    // Take every complete response already buffered.
    while (result.responses.size() < count) {
      HttpResponse response;
      std::size_t used = 0;
      ParseOutcome outcome = impl_->parseOne(eof, headRequest, response, used, result.parseError);
      if (outcome == ParseOutcome::Error) break;
      if (outcome == ParseOutcome::Incomplete) break;
      result.bytes.append(static_cast<const char*>(impl_->buffer.data().data()), used);
      impl_->buffer.consume(used);
      result.responses.push_back(std::move(response));
    }
    if (result.responses.size() >= count || !result.parseError.empty() || eof) break;

    beast::error_code ec;
    std::size_t n = 0;
    bool done = false;
    impl_->stream->expires_at(deadline);
    impl_->stream->async_read_some(impl_->buffer.prepare(64 * 1024), [&](beast::error_code e, std::size_t bytes) {
      ec = e;
      n = bytes;
      done = true;
    });
    impl_->runUntil(done);
    impl_->buffer.commit(n);
    if (ec == beast::error::timeout) {
      result.timedOut = true;
      connected_ = false;  // the stream closed the socket
      break;
    }
    if (ec) {
      result.closed = true;
      eof = true;
      connected_ = false;
    }
  }
  if (eof && connected_ == false && !result.timedOut) result.closed = true;
  if (!connected_) {
    // Nothing more will arrive: hand over the incomplete tail too.
    auto data = impl_->buffer.data();
    result.bytes.append(static_cast<const char*>(data.data()), data.size());
    impl_->buffer.consume(data.size());
    impl_->stream.reset();
  }
  return result;
}

}  // namespace cx::testing
