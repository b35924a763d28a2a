// Feeds the load controller (routing/load_controller.h) from the primary's signals and
// publishes its state to the workers. Runs on the admin io_context.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "proxy/app/shared_state.h"
#include "routing/load_controller.h"

namespace cx::proxy {

routing::LoadControllerOptions loadOptions(const LoadConfig& config);

class LoadMonitor {
 public:
  LoadMonitor(SharedState& shared, boost::asio::any_io_executor executor);
  void start();
  void stop();

 private:
  boost::asio::awaitable<void> run();

  SharedState& shared_;
  boost::asio::steady_timer timer_;
  routing::LoadController controller_;
  std::string configVersion_;
  bool stopped_ = false;
};

}  // namespace cx::proxy
