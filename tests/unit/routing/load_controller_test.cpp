// Tests for the load controller: when cxproxy enters and leaves the overloaded state that
// allows downgrading (README "Rules"), driven by a fake clock and synthetic observations.
#include "routing/load_controller.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace cx::routing {
namespace {

using namespace std::chrono_literals;
using State = LoadController::State;

constexpr auto kTick = 100ms;  // the sampler's interval

LoadControllerOptions defaultOptions() {
  LoadControllerOptions options;
  options.enabled = true;
  options.high = {256, 20ms, 0.0};
  options.low = {64, 5ms, 0.0};
  options.holdFor = 2s;
  options.minSamples = 20;
  return options;
}

LoadSignals signals(std::uint32_t inFlight, std::chrono::microseconds p99 = 1ms, double errorRate = 0.0,
                    std::uint64_t samples = 1000) {
  return LoadSignals{inFlight, p99, errorRate, samples};
}

const LoadSignals kHigh = signals(300);     // inflight over the high mark
const LoadSignals kBetween = signals(100);  // between low and high on every signal
const LoadSignals kLow = signals(10);       // under every low mark

// Drives a controller with one observation per tick from a fake clock.
class Driver {
 public:
  explicit Driver(LoadControllerOptions options = defaultOptions()) : controller(options) {}

  // Feeds `signal` every tick for `span` (the first at the current time); returns the
  // state after the last update and records every transition's time.
  State feed(const LoadSignals& signal, std::chrono::milliseconds span) {
    for (auto end = now + span; now < end; now += kTick) step(signal);
    return controller.state();
  }

  State step(const LoadSignals& signal) {
    const State before = controller.state();
    const State after = controller.update(signal, now);
    if (after != before) transitions.push_back(now);
    return after;
  }

  std::chrono::milliseconds elapsed() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
  }

  LoadController controller;
  Clock::time_point start{};
  Clock::time_point now{};
  std::vector<Clock::time_point> transitions;
};

TEST(LoadController, StartsNormal) {
  LoadController controller(defaultOptions());
  EXPECT_EQ(controller.state(), State::Normal);
  EXPECT_STREQ(controller.reason(), "");
}

TEST(LoadController, EntersAfterHighHoldsForHoldForNotBefore) {
  Driver driver;
  // Updates at 0, 100, ..., 1900 ms: high for 1.9 s, not yet 2 s.
  EXPECT_EQ(driver.feed(kHigh, 2000ms), State::Normal);
  // The update at 2000 ms completes 2 s of continuous high.
  EXPECT_EQ(driver.step(kHigh), State::Overloaded);
  EXPECT_STREQ(driver.controller.reason(), "inflight");
  ASSERT_EQ(driver.transitions.size(), 1u);
  EXPECT_EQ(driver.transitions[0] - driver.start, 2s);
}

TEST(LoadController, HighWatermarkIsInclusive) {
  Driver driver;
  EXPECT_EQ(driver.feed(signals(256), 2100ms), State::Overloaded);
}

TEST(LoadController, SingleSpikeDoesNotTrip) {
  Driver driver;
  driver.feed(kLow, 1s);
  driver.feed(signals(100000, 10s, 1.0), kTick);  // one terrible observation
  EXPECT_EQ(driver.feed(kBetween, 10s), State::Normal);
  EXPECT_TRUE(driver.transitions.empty());
}

TEST(LoadController, SpikeShorterThanHoldForDoesNotTrip) {
  Driver driver;
  driver.feed(kHigh, 1900ms);
  EXPECT_EQ(driver.feed(kLow, 10s), State::Normal);
  EXPECT_TRUE(driver.transitions.empty());
}

TEST(LoadController, DipBelowHighResetsTheEnterTimer) {
  Driver driver;
  driver.feed(kHigh, 1500ms);    // 0 .. 1400 high
  driver.feed(kBetween, kTick);  // 1500: below the high mark (still above low)
  // High again from 1600 ms: entering needs a full 2 s from there, i.e. at 3600 ms.
  EXPECT_EQ(driver.feed(kHigh, 2000ms), State::Normal);
  EXPECT_EQ(driver.step(kHigh), State::Overloaded);
  EXPECT_EQ(driver.elapsed(), 3600ms);
}

TEST(LoadController, AnyHighSignalKeepsTheEnterTimerRunning) {
  // Inflight and p99 take turns being high: the primary is overloaded throughout.
  Driver driver;
  const LoadSignals slow = signals(10, 25ms);
  for (int i = 0; i < 20; ++i) {
    driver.step(i % 2 == 0 ? kHigh : slow);
    driver.now += kTick;
  }
  EXPECT_EQ(driver.controller.state(), State::Normal);
  EXPECT_EQ(driver.step(kHigh), State::Overloaded);
}

TEST(LoadController, ReasonNamesTheSignalThatTripped) {
  {
    Driver driver;
    driver.feed(signals(10, 50ms), 2100ms);
    EXPECT_EQ(driver.controller.state(), State::Overloaded);
    EXPECT_STREQ(driver.controller.reason(), "p99");
  }
  {
    LoadControllerOptions options = defaultOptions();
    options.high.errorRate = 0.5;
    options.low.errorRate = 0.1;
    Driver driver(options);
    driver.feed(signals(10, 1ms, 0.6), 2100ms);
    EXPECT_EQ(driver.controller.state(), State::Overloaded);
    EXPECT_STREQ(driver.controller.reason(), "error_rate");
  }
  {
    Driver driver;  // several high at once: the first in the documented order
    driver.feed(signals(1000, 50ms), 2100ms);
    EXPECT_STREQ(driver.controller.reason(), "inflight");
    driver.feed(kLow, 2100ms);
    EXPECT_EQ(driver.controller.state(), State::Normal);
    EXPECT_STREQ(driver.controller.reason(), "");
  }
}

TEST(LoadController, HoldsOverloadedWhileBetweenWatermarks) {
  Driver driver;
  driver.feed(kHigh, 2100ms);
  ASSERT_EQ(driver.controller.state(), State::Overloaded);
  EXPECT_EQ(driver.feed(kBetween, 60s), State::Overloaded);
  // Inflight low but p99 between the marks is not "all low" either.
  EXPECT_EQ(driver.feed(signals(10, 10ms), 60s), State::Overloaded);
  EXPECT_EQ(driver.transitions.size(), 1u);
}

TEST(LoadController, StaysNormalWhileBetweenWatermarks) {
  Driver driver;
  EXPECT_EQ(driver.feed(kBetween, 60s), State::Normal);
  EXPECT_TRUE(driver.transitions.empty());
}

TEST(LoadController, LeavesOnlyAfterAllLowHoldsForHoldFor) {
  Driver driver;
  driver.feed(kHigh, 2100ms);
  ASSERT_EQ(driver.controller.state(), State::Overloaded);
  const auto lowFrom = driver.now;
  EXPECT_EQ(driver.feed(kLow, 2000ms), State::Overloaded);  // 1.9 s of all-low
  EXPECT_EQ(driver.step(kLow), State::Normal);
  EXPECT_EQ(driver.now - lowFrom, 2s);
  EXPECT_STREQ(driver.controller.reason(), "");
}

TEST(LoadController, LowWatermarkIsInclusive) {
  Driver driver;
  driver.feed(kHigh, 2100ms);
  EXPECT_EQ(driver.feed(signals(64, 5ms), 2100ms), State::Normal);
}

TEST(LoadController, AnUpdateAboveLowResetsTheLeaveTimer) {
  Driver driver;
  driver.feed(kHigh, 2100ms);
  driver.feed(kLow, 1500ms);
  driver.feed(signals(65), kTick);  // just above the low mark
  const auto lowAgain = driver.now;
  EXPECT_EQ(driver.feed(kLow, 2000ms), State::Overloaded);
  EXPECT_EQ(driver.step(kLow), State::Normal);
  EXPECT_EQ(driver.now - lowAgain, 2s);
}

TEST(LoadController, DoesNotFlapOnSignalOscillatingAroundOneWatermark) {
  Driver driver;
  // Around the high mark, alternating every update: never high for 2 s.
  for (int i = 0; i < 600; ++i) driver.feed(signals(i % 2 == 0 ? 255 : 257), kTick);
  EXPECT_EQ(driver.controller.state(), State::Normal);
  EXPECT_TRUE(driver.transitions.empty());

  driver.feed(kHigh, 2100ms);
  ASSERT_EQ(driver.controller.state(), State::Overloaded);
  // Around the low mark: never all-low for 2 s.
  for (int i = 0; i < 600; ++i) driver.feed(signals(i % 2 == 0 ? 63 : 65), kTick);
  EXPECT_EQ(driver.controller.state(), State::Overloaded);
  EXPECT_EQ(driver.transitions.size(), 1u);
}

TEST(LoadController, SquareWaveShorterThanHoldForNeverTrips) {
  Driver driver;
  for (int period = 0; period < 30; ++period) {
    driver.feed(kHigh, 1500ms);
    driver.feed(kLow, 1500ms);
  }
  EXPECT_TRUE(driver.transitions.empty());
}

TEST(LoadController, TransitionsAreAtLeastHoldForApartWhateverTheSignal) {
  Driver driver;
  std::mt19937 random(12345);
  std::uniform_int_distribution<std::uint32_t> inFlight(0, 400);
  std::uniform_int_distribution<int> runLength(1, 40);
  for (int run = 0; run < 2000; ++run) {  // runs of 1..40 ticks at a random level
    driver.feed(signals(inFlight(random)), kTick * runLength(random));
  }
  ASSERT_GT(driver.transitions.size(), 10u);  // the signal did move the state
  for (std::size_t i = 1; i < driver.transitions.size(); ++i) {
    EXPECT_GE(driver.transitions[i] - driver.transitions[i - 1], 2s);
  }
}

TEST(LoadController, FewSamplesDoNotTripP99OrErrorRate) {
  LoadControllerOptions options = defaultOptions();
  options.high.errorRate = 0.5;
  options.low.errorRate = 0.1;
  Driver driver(options);
  // One slow, failing request in an otherwise idle window.
  EXPECT_EQ(driver.feed(signals(0, 5s, 1.0, 1), 10s), State::Normal);
  EXPECT_EQ(driver.feed(signals(0, 5s, 1.0, 19), 10s), State::Normal);
  // With enough samples the same latency is real.
  EXPECT_EQ(driver.feed(signals(0, 5s, 0.0, 20), 2100ms), State::Overloaded);
  EXPECT_STREQ(driver.controller.reason(), "p99");
}

TEST(LoadController, FewSamplesCountAsLowSoAnIdlePrimaryLeavesOverload) {
  // Downgrading moves reads off the primary; a quiet window must not pin the state.
  Driver driver;
  driver.feed(signals(10, 50ms), 2100ms);
  ASSERT_EQ(driver.controller.state(), State::Overloaded);
  EXPECT_EQ(driver.feed(signals(0, 50ms, 0.0, 3), 2100ms), State::Normal);
}

TEST(LoadController, InFlightNeedsNoSamples) {
  Driver driver;
  EXPECT_EQ(driver.feed(signals(1000, 0us, 0.0, 0), 2100ms), State::Overloaded);
}

TEST(LoadController, ZeroErrorRateThresholdIsNotUsed) {
  Driver driver;  // high.errorRate = 0
  EXPECT_EQ(driver.feed(signals(10, 1ms, 1.0), 10s), State::Normal);
  driver.feed(kHigh, 2100ms);
  ASSERT_EQ(driver.controller.state(), State::Overloaded);
  // Every request failing does not keep it overloaded either.
  EXPECT_EQ(driver.feed(signals(10, 1ms, 1.0), 2100ms), State::Normal);
}

TEST(LoadController, ZeroHighThresholdDisablesThatSignal) {
  LoadControllerOptions options = defaultOptions();
  options.high.inFlight = 0;
  options.low.inFlight = 0;
  Driver driver(options);
  EXPECT_EQ(driver.feed(signals(100000), 10s), State::Normal);
  EXPECT_EQ(driver.feed(signals(100000, 30ms), 2100ms), State::Overloaded);
  EXPECT_EQ(driver.feed(signals(100000, 1ms), 2100ms), State::Normal);
}

TEST(LoadController, ErrorRateUsesBothWatermarks) {
  LoadControllerOptions options = defaultOptions();
  options.high.errorRate = 0.5;
  options.low.errorRate = 0.1;
  Driver driver(options);
  driver.feed(signals(10, 1ms, 0.5), 2100ms);
  ASSERT_EQ(driver.controller.state(), State::Overloaded);
  EXPECT_EQ(driver.feed(signals(10, 1ms, 0.2), 10s), State::Overloaded);
  EXPECT_EQ(driver.feed(signals(10, 1ms, 0.1), 2100ms), State::Normal);
}

TEST(LoadController, DisabledIsAlwaysNormal) {
  LoadControllerOptions options = defaultOptions();
  options.enabled = false;
  Driver driver(options);
  EXPECT_EQ(driver.feed(signals(1000000, 60s, 1.0), 60s), State::Normal);
  EXPECT_TRUE(driver.transitions.empty());
}

TEST(LoadController, ZeroHoldForTransitionsOnTheFirstUpdate) {
  LoadControllerOptions options = defaultOptions();
  options.holdFor = 0ms;
  Driver driver(options);
  EXPECT_EQ(driver.step(kHigh), State::Overloaded);
  EXPECT_EQ(driver.step(kBetween), State::Overloaded);
  EXPECT_EQ(driver.step(kLow), State::Normal);
}

TEST(LoadController, ReconfigureKeepsStateAndAppliesNewMarks) {
  Driver driver;
  driver.feed(kHigh, 2100ms);
  ASSERT_EQ(driver.controller.state(), State::Overloaded);

  LoadControllerOptions options = defaultOptions();
  options.low.inFlight = 5;
  driver.controller.reconfigure(options);
  EXPECT_EQ(driver.controller.state(), State::Overloaded);
  EXPECT_STREQ(driver.controller.reason(), "inflight");
  EXPECT_EQ(driver.feed(signals(10), 10s), State::Overloaded);  // low under the old marks only
  EXPECT_EQ(driver.feed(signals(5), 2100ms), State::Normal);
}

TEST(LoadController, ReconfigureWithSameOptionsDoesNotDelayAPendingTransition) {
  Driver driver;
  driver.feed(kHigh, 1500ms);
  driver.controller.reconfigure(defaultOptions());
  driver.feed(kHigh, 500ms);
  EXPECT_EQ(driver.step(kHigh), State::Overloaded);
  EXPECT_EQ(driver.elapsed(), 2000ms);
}

TEST(LoadController, ReconfigureToDisabledForcesNormalAndReenablingStartsOver) {
  Driver driver;
  driver.feed(kHigh, 2100ms);
  ASSERT_EQ(driver.controller.state(), State::Overloaded);

  LoadControllerOptions disabled = defaultOptions();
  disabled.enabled = false;
  driver.controller.reconfigure(disabled);
  EXPECT_EQ(driver.controller.state(), State::Normal);
  EXPECT_STREQ(driver.controller.reason(), "");
  EXPECT_EQ(driver.feed(kHigh, 5s), State::Normal);

  driver.controller.reconfigure(defaultOptions());
  EXPECT_EQ(driver.feed(kHigh, 2000ms), State::Normal);  // a full holdFor from re-enabling
  EXPECT_EQ(driver.step(kHigh), State::Overloaded);
}

TEST(LoadController, StateNames) {
  EXPECT_EQ(toString(State::Normal), "normal");
  EXPECT_EQ(toString(State::Overloaded), "overloaded");
}

TEST(LoadControllerOptions, ValidationNamesTheKey) {
  EXPECT_FALSE(validateLoadOptions(defaultOptions()).has_value());

  LoadControllerOptions options = defaultOptions();
  options.low.inFlight = 300;
  ASSERT_TRUE(validateLoadOptions(options).has_value());
  EXPECT_NE(validateLoadOptions(options)->find("low.inflight"), std::string::npos);

  options = defaultOptions();
  options.low.p99 = 30ms;
  ASSERT_TRUE(validateLoadOptions(options).has_value());
  EXPECT_NE(validateLoadOptions(options)->find("low.p99"), std::string::npos);

  options = defaultOptions();
  options.high.errorRate = 1.5;
  EXPECT_TRUE(validateLoadOptions(options).has_value());

  options = defaultOptions();
  options.holdFor = -1ms;
  EXPECT_TRUE(validateLoadOptions(options).has_value());

  options = defaultOptions();  // an unused signal's low mark is ignored
  options.high.inFlight = 0;
  options.low.inFlight = 1000;
  EXPECT_FALSE(validateLoadOptions(options).has_value());
}

}  // namespace
}  // namespace cx::routing
