// The load controller: dwell time and hysteresis over primary load observations
// (see load_controller.h for what is guaranteed and why).
#include "routing/load_controller.h"

#include <string>

namespace cx::routing {
namespace {

std::string microsText(std::chrono::microseconds value) { return std::to_string(value.count()) + "us"; }

}  // namespace

std::optional<std::string> validateLoadOptions(const LoadControllerOptions& options) {
  const LoadThresholds& high = options.high;
  const LoadThresholds& low = options.low;
  if (options.holdFor.count() < 0) return "for must not be negative";
  if (high.p99.count() < 0 || low.p99.count() < 0) return "p99 must not be negative";
  for (double rate : {high.errorRate, low.errorRate}) {
    if (!(rate >= 0.0 && rate <= 1.0)) return "error_rate must be between 0 and 1";
  }
  if (high.inFlight > 0 && low.inFlight > high.inFlight) {
    return "low.inflight (" + std::to_string(low.inFlight) + ") must not exceed high.inflight (" +
           std::to_string(high.inFlight) + ")";
  }
  if (high.p99.count() > 0 && low.p99 > high.p99) {
    return "low.p99 (" + microsText(low.p99) + ") must not exceed high.p99 (" + microsText(high.p99) + ")";
  }
  if (high.errorRate > 0.0 && low.errorRate > high.errorRate) {
    return "low.error_rate must not exceed high.error_rate";
  }
  return std::nullopt;
}

LoadController::LoadController(LoadControllerOptions options) : options_(options) {}

bool LoadController::latencyCounts(const LoadSignals& signals) const { return signals.samples >= options_.minSamples; }

const char* LoadController::highSignal(const LoadSignals& signals) const {
  const LoadThresholds& high = options_.high;
  if (high.inFlight > 0 && signals.inFlight >= high.inFlight) return "inflight";
  if (!latencyCounts(signals)) return nullptr;
  if (high.p99.count() > 0 && signals.p99 >= high.p99) return "p99";
  if (high.errorRate > 0.0 && signals.errorRate >= high.errorRate) return "error_rate";
  return nullptr;
}

bool LoadController::allLow(const LoadSignals& signals) const {
  const LoadThresholds& high = options_.high;
  const LoadThresholds& low = options_.low;
  if (high.inFlight > 0 && signals.inFlight > low.inFlight) return false;
  if (!latencyCounts(signals)) return true;
  if (high.p99.count() > 0 && signals.p99 > low.p99) return false;
  if (high.errorRate > 0.0 && signals.errorRate > low.errorRate) return false;
  return true;
}

LoadController::State LoadController::update(const LoadSignals& signals, Clock::time_point now) {
  if (!options_.enabled) return state_;  // Normal: reconfigure() and the constructor see to it

  const char* tripped = state_ == State::Normal ? highSignal(signals) : nullptr;
  const bool conditionMet = state_ == State::Normal ? tripped != nullptr : allLow(signals);
  if (!conditionMet) {
    conditionSince_.reset();
    return state_;
  }
  if (!conditionSince_ || now < *conditionSince_) conditionSince_ = now;
  if (now - *conditionSince_ < options_.holdFor) return state_;

  conditionSince_.reset();
  if (state_ == State::Normal) {
    state_ = State::Overloaded;
    reason_ = tripped;
  } else {
    state_ = State::Normal;
    reason_ = "";
  }
  return state_;
}

void LoadController::reconfigure(LoadControllerOptions options) {
  options_ = options;
  if (!options_.enabled) {
    state_ = State::Normal;
    reason_ = "";
    conditionSince_.reset();
  }
}

std::string_view toString(LoadController::State state) {
  return state == LoadController::State::Overloaded ? "overloaded" : "normal";
}

}  // namespace cx::routing
