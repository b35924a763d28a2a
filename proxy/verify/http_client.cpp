// cxproxy-verify's HTTP client: Beast over a tcp_stream, driven with async operations on a
// private io_context so that the stream's deadline applies (Beast ignores it for
// synchronous calls).
#include "proxy/verify/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <optional>

namespace cx::verify {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string HttpReply::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, name)) return v;
  }
  return "";
}

struct HttpConnection::Impl {
  std::string host;
  std::string port;
  std::chrono::milliseconds timeout;
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  // Runs the queued operation to completion; the stream's deadline bounds it.
  void runIo() {
    ioc.restart();
    ioc.run();
  }

  beast::error_code connect() {
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    auto endpoints = resolver.resolve(host, port, ec);
    if (ec) return ec;
    stream.emplace(ioc);
    stream->expires_after(timeout);
    stream->async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    runIo();
    if (ec) stream.reset();
    buffer.clear();
    return ec;
  }
};

HttpConnection::HttpConnection(std::string host, std::string port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = std::move(port);
  impl_->timeout = timeout;
}

HttpConnection::~HttpConnection() = default;

HttpReply HttpConnection::request(std::string_view method, std::string_view target, std::string_view body,
                                  const std::vector<std::pair<std::string, std::string>>& headers) {
  HttpReply reply;
  Impl& s = *impl_;
  if (!s.stream) {
    if (auto ec = s.connect()) {
      reply.error = "connect to " + s.host + ":" + s.port + ": " + ec.message();
      return reply;
    }
  }
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, s.host + ":" + s.port);
  req.set(http::field::user_agent, "cxproxy-verify");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = std::string(body);
  req.prepare_payload();

  beast::error_code ec;
  s.stream->expires_after(s.timeout);
  http::async_write(*s.stream, req, [&](beast::error_code e, std::size_t) { ec = e; });
  s.runIo();
  http::response<http::string_body> res;
  if (!ec) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    s.stream->expires_after(s.timeout);
    http::async_read(*s.stream, s.buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    s.runIo();
    if (!ec) res = parser.release();
  }
  if (ec) {
    reply.error = std::string(method) + " " + std::string(target) + ": " +
                  (ec == beast::error::timeout ? std::string("timed out") : ec.message());
    s.stream.reset();
    return reply;
  }
  reply.status = static_cast<int>(res.result_int());
  reply.body = std::move(res.body());
  for (const auto& field : res)
    reply.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  if (!res.keep_alive()) s.stream.reset();
  return reply;
}

std::string encodePathSegment(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                 c == '_' || c == '~' || c == ':';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace cx::verify
