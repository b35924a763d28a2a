// Credential loading and rotation (see credentials.h).
#include "proxy/app/credentials.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "proxy/app/log.h"

namespace cx::proxy {

namespace asio = boost::asio;

std::shared_ptr<const ApiTokens> loadApiTokens(const AuthConfig& auth) {
  std::string spec;
  std::string origin;
  if (!auth.tokensFile.empty()) {
    origin = "auth.tokens_file " + auth.tokensFile;
    std::ifstream in(auth.tokensFile);
    if (!in) throw std::runtime_error(origin + ": cannot read the file");
    std::stringstream text;
    text << in.rdbuf();
    spec = text.str();
  } else {
    origin = "auth.tokens_env " + auth.tokensEnv;
    const char* value = std::getenv(auth.tokensEnv.c_str());
    if (value == nullptr) throw std::runtime_error(origin + ": the environment variable is not set");
    spec = value;
  }
  // Lines are entries too, so a file may hold one token per line.
  for (char& c : spec) {
    if (c == '\n' || c == '\r') c = ',';
  }
  try {
    return std::make_shared<const ApiTokens>(ApiTokens::parse(spec));
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(origin + ": " + e.what());
  }
}

CredentialReloader::CredentialReloader(SharedState& shared, asio::any_io_executor executor)
    : shared_(shared), hangup_(executor, SIGHUP), timer_(executor) {
  const auto config = shared_.config.load();
  if (shared_.authEnabled) tokensFile_ = config->auth.tokensFile;
  if (!tokensFile_.empty()) {
    std::error_code ec;
    tokensWrite_ = std::filesystem::last_write_time(tokensFile_, ec);
    tokensSize_ = ec ? 0 : std::filesystem::file_size(tokensFile_, ec);
  }
}

void CredentialReloader::start() {
  waitSignal();
  asio::co_spawn(timer_.get_executor(), watch(), asio::detached);
}

void CredentialReloader::stop() {
  stopped_ = true;
  boost::system::error_code ignored;
  hangup_.cancel(ignored);
  timer_.cancel();
}

void CredentialReloader::waitSignal() {
  hangup_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec || stopped_) return;
    reload("SIGHUP", true);
    waitSignal();
  });
}

asio::awaitable<void> CredentialReloader::watch() {
  while (!stopped_) {
    timer_.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || stopped_) co_return;
    reload("file_changed", false);
  }
}

void CredentialReloader::reload(std::string_view trigger, bool force) {
  if (shared_.dataTls) reloadListener(*shared_.dataTls, "data", trigger, force);
  if (shared_.adminTls) reloadListener(*shared_.adminTls, "admin", trigger, force);
  if (!tokensFile_.empty()) reloadTokens(trigger, force);
}

void CredentialReloader::reloadListener(TlsServerContext& tls, std::string_view listener, std::string_view trigger,
                                        bool force) {
  std::string error;
  switch (tls.reload(force, &error)) {
    case TlsServerContext::Reload::Unchanged: return;
    case TlsServerContext::Reload::Reloaded:
      log(LogLevel::Info, "tls_certificate_reloaded",
          {{"listener", listener}, {"trigger", trigger}, {"cert_file", tls.certFile()}});
      return;
    case TlsServerContext::Reload::Failed:
      log(LogLevel::Error, "tls_certificate_reload_failed",
          {{"listener", listener},
           {"trigger", trigger},
           {"error", error},
           {"detail", "new connections keep the certificate loaded before"}});
      return;
  }
}

void CredentialReloader::reloadTokens(std::string_view trigger, bool force) {
  std::error_code ec;
  const auto write = std::filesystem::last_write_time(tokensFile_, ec);
  const auto size = ec ? 0 : std::filesystem::file_size(tokensFile_, ec);
  if (ec) {
    if (force) {
      log(LogLevel::Error, "api_tokens_reload_failed",
          {{"trigger", trigger}, {"error", "cannot read " + tokensFile_}, {"detail", "the running tokens stay"}});
    }
    return;  // being replaced (a Secret's symlink swap): looked at again in a second
  }
  if (!force && write == tokensWrite_ && size == tokensSize_) return;
  tokensWrite_ = write;
  tokensSize_ = size;
  try {
    auto tokens = loadApiTokens(shared_.config.load()->auth);
    const std::size_t count = tokens->size();
    shared_.apiTokens.store(std::move(tokens), std::memory_order_release);
    shared_.apiTokensVersion.fetch_add(1, std::memory_order_release);
    log(LogLevel::Info, "api_tokens_reloaded",
        {{"trigger", trigger}, {"from", tokensFile_}, {"tokens", std::to_string(count)}});
  } catch (const std::exception& e) {
    log(LogLevel::Error, "api_tokens_reload_failed",
        {{"trigger", trigger}, {"error", e.what()}, {"detail", "the running tokens stay"}});
  }
}

}  // namespace cx::proxy
