// FaultShim: Beast coroutines on one io_context thread.
#include "tests/integration/support/fault_shim.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <string>

namespace cx::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct FaultShim::Impl {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  int upstreamPort = 0;
  FaultShimOptions options;
  std::atomic<long>* forwarded = nullptr;

  asio::awaitable<void> forward(tcp::socket socket) {
    constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
    beast::tcp_stream client(std::move(socket));
    beast::tcp_stream upstream(co_await asio::this_coro::executor);
    auto [connectError] = co_await upstream.async_connect(
        tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<unsigned short>(upstreamPort)), tuple);
    if (connectError) co_return;
    beast::flat_buffer clientBuffer;
    beast::flat_buffer upstreamBuffer;
    for (;;) {
      http::request<http::string_body> req;
      auto [readError, n1] = co_await http::async_read(client, clientBuffer, req, tuple);
      if (readError) co_return;
      std::string requested(req["X-Consistency"]);
      if (options.lie) {
        req.erase("X-Session-Token");
        req.set("X-Consistency", "eventual");
      }
      auto [writeError, n2] = co_await http::async_write(upstream, req, tuple);
      if (writeError) co_return;
      http::response<http::string_body> res;
      auto [upstreamError, n3] = co_await http::async_read(upstream, upstreamBuffer, res, tuple);
      if (upstreamError) co_return;
      if (options.lie && !requested.empty()) {
        res.set("X-Consistency", requested);
        res.erase("X-Consistency-Downgraded");
      }
      forwarded->fetch_add(1);
      bool keepAlive = res.keep_alive();
      auto [replyError, n4] = co_await http::async_write(client, res, tuple);
      if (replyError || !keepAlive) co_return;
    }
  }

  asio::awaitable<void> accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(ioc, forward(std::move(socket)), asio::detached);
    }
  }
};

FaultShim::FaultShim(int upstreamPort, FaultShimOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->upstreamPort = upstreamPort;
  impl_->options = options;
  impl_->forwarded = &forwarded_;
  tcp::endpoint endpoint(asio::ip::address_v4::loopback(), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->ioc, impl_->accept(), asio::detached);
  thread_ = std::thread([this] { impl_->ioc.run(); });
}

FaultShim::~FaultShim() {
  impl_->ioc.stop();
  thread_.join();
}

}  // namespace cx::testing
