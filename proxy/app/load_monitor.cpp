// Load sampling: every 100 ms, the primary's latency window and in-flight count go into
// the controller; a state change is logged, counted in cxproxy_overloaded and published
// to workers through SharedState::overloaded. A reload that changes `load:` reconfigures
// the controller without resetting its state.
#include "proxy/app/load_monitor.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/app/log.h"

namespace cx::proxy {

namespace asio = boost::asio;

routing::LoadControllerOptions loadOptions(const LoadConfig& config) {
  routing::LoadControllerOptions o;
  o.enabled = config.enabled;
  o.high.inFlight = static_cast<std::uint32_t>(std::max(0, config.high.inflight));
  o.high.p99 = std::chrono::duration_cast<std::chrono::microseconds>(config.high.p99);
  o.low.inFlight = static_cast<std::uint32_t>(std::max(0, config.low.inflight));
  o.low.p99 = std::chrono::duration_cast<std::chrono::microseconds>(config.low.p99);
  o.high.errorRate = config.high.errorRate;
  o.low.errorRate = config.low.errorRate;
  o.holdFor = config.holdFor;
  return o;
}

LoadMonitor::LoadMonitor(SharedState& shared, asio::any_io_executor executor)
    : shared_(shared), timer_(executor), controller_(loadOptions(shared.config.load()->load)) {
  configVersion_ = shared.config.load()->version;
}

void LoadMonitor::start() { asio::co_spawn(timer_.get_executor(), run(), asio::detached); }

void LoadMonitor::stop() {
  stopped_ = true;
  timer_.cancel();
}

asio::awaitable<void> LoadMonitor::run() {
  while (!stopped_) {
    timer_.expires_after(std::chrono::milliseconds(100));
    auto [ec] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || stopped_) co_return;
    auto config = shared_.config.load();
    if (config->version != configVersion_) {
      controller_.reconfigure(loadOptions(config->load));
      configVersion_ = config->version;
    }
    auto now = routing::Clock::now();
    auto signals =
        shared_.primaryLatency.sample(now, shared_.inFlight.total(shared_.tracker->snapshot()->primaryIndex));
    const bool was = shared_.overloaded.load();
    const bool is = controller_.update(signals, now) == routing::LoadController::State::Overloaded;
    if (was != is) {
      shared_.overloaded.store(is);
      shared_.metrics->overloaded().Set(is ? 1 : 0);
      shared_.overloadReason.store(is ? controller_.reason() : "");
      log(is ? LogLevel::Warn : LogLevel::Info, is ? "primary_overloaded" : "primary_load_normal",
          {{"reason", is ? controller_.reason() : "all low watermarks held"},
           {"inflight", std::to_string(signals.inFlight)},
           {"p99_us", std::to_string(signals.p99.count())},
           {"samples", std::to_string(signals.samples)}});
    }
  }
}

}  // namespace cx::proxy
