// The admin listener's endpoints (DESIGN §3): /metrics, /healthz, /readyz, /v1/status.
// Also owns the loader of the backend's COMMAND table, which /v1/cmd needs.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>

#include "backends/connection.h"
#include "proxy/worker.h"

namespace cx::proxy {

// Runs on the admin io_context's thread.
class AdminEndpoints {
 public:
  AdminEndpoints(SharedState& shared, boost::asio::any_io_executor executor);
  void start();  // begins loading the command table (retrying until a backend answers)
  void stop();
  boost::asio::awaitable<void> handle(const Request& request, Response& response);

 private:
  boost::asio::awaitable<void> loadCommandTable();
  std::string statusJson() const;

  SharedState& shared_;
  boost::asio::any_io_executor executor_;
  std::vector<std::shared_ptr<backends::Connection>> tableConnections_;
  std::chrono::system_clock::time_point startedAt_;
};

}  // namespace cx::proxy
