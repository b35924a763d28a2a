// Hot reload of the configuration: on SIGHUP and when the file changes (checked every
// second). Rules, defaults and load settings take effect for new requests; requests in
// flight finish under the snapshot they started with. Sections that need new sockets or
// threads (listen, workers, redis, tracking, session, limits) keep their running values
// and the log says a restart is needed.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "proxy/app/shared_state.h"

namespace cx::proxy {

// The names of the restart-only sections that differ between two configs.
std::vector<std::string> restartOnlyChanges(const Config& running, const Config& loaded);
// `loaded` with every restart-only section taken from `running`.
Config mergeReloadable(const Config& running, Config loaded);

// Runs on one io_context (the admin thread). Call start() once.
class ConfigReloader {
 public:
  using OnReload = std::function<void(const Config&)>;
  ConfigReloader(SharedState& shared, boost::asio::any_io_executor executor, std::string path, OnReload onReload);
  void start();
  void stop();
  // Loads the file now; returns "reloaded", "unchanged" or "error".
  std::string reload(std::string_view trigger);

 private:
  boost::asio::awaitable<void> watchFile();
  void waitSignal();

  SharedState& shared_;
  std::string path_;
  OnReload onReload_;
  boost::asio::signal_set hangup_;
  boost::asio::steady_timer timer_;
  std::filesystem::file_time_type lastWrite_{};
  std::uintmax_t lastSize_ = 0;
  bool stopped_ = false;
};

}  // namespace cx::proxy
