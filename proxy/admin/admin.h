// The admin listener's endpoints (README "HTTP API"): /metrics, /healthz, /readyz, /v1/status.
// Also owns the loader of the backend's COMMAND table, which /v1/cmd needs.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>

#include "backends/connection.h"
#include "proxy/admin/status_page.h"
#include "proxy/app/shared_state.h"
#include "proxy/http/request.h"
#include "proxy/http/response.h"

namespace cx::proxy {

// Runs on the admin io_context's thread.
class AdminEndpoints {
 public:
  AdminEndpoints(SharedState& shared, boost::asio::any_io_executor executor);
  // Begins loading the command table (retrying until a backend answers) and sampling
  // the staleness history once per second.
  void start();
  void stop();
  // Answers one admin request at once (nothing here waits).
  void handle(const Request& request, Response& response);

 private:
  boost::asio::awaitable<void> loadCommandTable();
  boost::asio::awaitable<void> sampleStaleness(std::shared_ptr<boost::asio::steady_timer> timer);
  std::string statusHtml() const;

  SharedState& shared_;
  boost::asio::any_io_executor executor_;
  std::vector<std::shared_ptr<backends::Connection>> tableConnections_;
  std::vector<std::string> tableNames_;  // the backend each of tableConnections_ goes to
  void addTableConnection(const std::string& name, const std::string& host, std::uint16_t port);
  std::chrono::system_clock::time_point startedAt_;
  StalenessHistory stalenessHistory_;  // for the HTML /v1/status; admin thread only
  // Shared with the sampling coroutine so a frame destroyed with the io_context never
  // outlives its timer.
  std::shared_ptr<boost::asio::steady_timer> samplerTimer_;
  bool stopped_ = false;
};

}  // namespace cx::proxy
