// The load controller (README "Rules"): decides from periodic observations of the primary
// whether cxproxy is in the *overloaded* state that lets rules downgrade primary reads.
// Pure logic: observations and time come in as values; no I/O, no threads, no clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cx::routing {

using Clock = std::chrono::steady_clock;

// One observation of the primary, usually from LatencyWindow::sample().
struct LoadSignals {
  std::uint32_t inFlight = 0;        // requests outstanding on the primary right now
  std::chrono::microseconds p99{0};  // over the sliding window
  double errorRate = 0.0;            // 0..1 over the same window
  std::uint64_t samples = 0;         // requests completed in the window
};

// A watermark. A signal whose *high* threshold is zero is not used: it never trips and
// always counts as low (config has no error-rate key, so errorRate is normally 0 = off).
struct LoadThresholds {
  std::uint32_t inFlight = 0;
  std::chrono::microseconds p99{0};
  double errorRate = 0.0;
};

struct LoadControllerOptions {
  bool enabled = true;
  LoadThresholds high;                      // enter when ANY used signal is >= its high mark
  LoadThresholds low;                       // leave when EVERY used signal is <= its low mark
  std::chrono::milliseconds holdFor{2000};  // load.for
  // p99 and errorRate from a window with fewer completed requests than this are not
  // evidence of anything: they never trip and count as low.
  std::uint64_t minSamples = 20;
};

// nullopt when the options make sense, otherwise what is wrong, naming the config key
// relative to `load:` (e.g. "low.inflight (300) must not exceed high.inflight (256)").
std::optional<std::string> validateLoadOptions(const LoadControllerOptions& options);

// Why this is shaped the way it is:
//
// Downgrading trades consistency for the primary's health, so the state must not
// follow noise. Two mechanisms guarantee that:
//  * Dwell time. A transition happens only after its condition held at *every* update
//    for at least holdFor (measured from the first update that met it to the current
//    one); a single update that does not meet it restarts the count. So a spike shorter
//    than holdFor never trips, and two transitions are always at least holdFor apart —
//    however the signal oscillates, the state changes at most once per holdFor.
//  * Hysteresis. Entering looks only at the high marks, leaving only at the low marks.
//    A signal between them changes nothing and cancels any pending transition, so a
//    signal wobbling around one watermark cannot flap the state.
//
// "Held" means: to enter, some used signal is high at each update (not necessarily the
// same one — inflight then p99 is one continuous overload); to leave, all are low.
//
// Latency and error rate need enough samples (minSamples): one slow request in an idle
// second says nothing. Such a window counts as low, not as "unknown", on purpose: while
// overloaded, reads are downgraded away from the primary, its traffic drops, and an
// "unknown" window would otherwise pin the state at overloaded forever. A primary that
// stops answering altogether shows up in inFlight, which needs no sample count.
//
// Not guaranteed: that the observations are accurate (they are whatever the caller
// measured), or a reaction faster than holdFor plus the sampling interval.
//
// Threading: not thread-safe. One owner (the sampler) calls update(); publish state()
// to the workers as a value (e.g. an atomic bool).
class LoadController {
 public:
  enum class State : std::uint8_t { Normal, Overloaded };

  explicit LoadController(LoadControllerOptions options);

  // Feeds one observation taken at `now` (non-decreasing across calls; a time earlier
  // than the start of the pending dwell restarts it). Returns the state after it.
  State update(const LoadSignals& signals, Clock::time_point now);

  State state() const { return state_; }

  // New thresholds from a config reload. Keeps the current state and any pending
  // transition (the next update judges it against the new marks), so reloading an
  // unchanged config changes nothing. Disabling forces Normal and forgets everything.
  void reconfigure(LoadControllerOptions options);

  // While Overloaded, the signal that was high when the state was entered: "inflight",
  // "p99" or "error_rate" (the first of those, in that order, when several were).
  // "" while Normal. Never null; points to a string literal.
  const char* reason() const { return reason_; }

  const LoadControllerOptions& options() const { return options_; }

 private:
  const char* highSignal(const LoadSignals& signals) const;  // nullptr when none is high
  bool allLow(const LoadSignals& signals) const;
  bool latencyCounts(const LoadSignals& signals) const;

  LoadControllerOptions options_;
  State state_ = State::Normal;
  const char* reason_ = "";
  // First update of the current run of updates that met the pending transition's
  // condition (high in Normal, all-low in Overloaded); nullopt when no run is going.
  std::optional<Clock::time_point> conditionSince_;
};

std::string_view toString(LoadController::State state);

}  // namespace cx::routing
