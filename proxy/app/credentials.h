// The credentials that rotate without a restart (README "Security"): the listeners'
// certificate files and the bearer-token file are re-read on SIGHUP and when they change
// (checked every second, like the config file), so cert-manager or a secret rotation
// needs no restart. A file that cannot be used is logged and the running credentials stay.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/app/shared_state.h"

namespace cx::proxy {

// The bearer tokens auth.tokens_env or auth.tokens_file name. Throws std::runtime_error
// naming where they came from and what is wrong (never a secret).
std::shared_ptr<const ApiTokens> loadApiTokens(const AuthConfig& auth);

// Runs on one io_context (the admin thread). Call start() once.
class CredentialReloader {
 public:
  CredentialReloader(SharedState& shared, boost::asio::any_io_executor executor);
  void start();
  void stop();
  // Re-reads what changed (everything with `force`, as on SIGHUP).
  void reload(std::string_view trigger, bool force);

 private:
  boost::asio::awaitable<void> watch();
  void waitSignal();
  void reloadListener(TlsServerContext& tls, std::string_view listener, std::string_view trigger, bool force);
  void reloadTokens(std::string_view trigger, bool force);

  SharedState& shared_;
  std::string tokensFile_;  // empty: tokens from the environment (or auth off): nothing to watch
  std::filesystem::file_time_type tokensWrite_{};
  std::uintmax_t tokensSize_ = 0;
  boost::asio::signal_set hangup_;
  boost::asio::steady_timer timer_;
  bool stopped_ = false;
};

}  // namespace cx::proxy
