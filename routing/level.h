// Consistency levels (README "Consistency levels") and the per-rule policy that chooses among them.
// Pure values: no I/O, no clocks.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cx::routing {

// Ordered strongest first; the relaxation order of README "Rules" is increasing value.
enum class Level : std::uint8_t { Strong = 0, Bounded = 1, Session = 2, Prefix = 3, Eventual = 4 };

// Case-insensitive; accepts the alias "linearizable" for strong. nullopt when unknown.
std::optional<Level> parseLevel(std::string_view text);
std::string_view toString(Level level);
constexpr bool isStronger(Level a, Level b) { return static_cast<int>(a) < static_cast<int>(b); }

// May the client's X-Consistency header change the level a rule gives?
enum class Override : std::uint8_t { Any, Stronger, None };
// What to do when no replica is fresh enough for the level.
enum class OnStale : std::uint8_t { Primary, Wait, Error };

std::optional<Override> parseOverride(std::string_view text);
std::optional<OnStale> parseOnStale(std::string_view text);
std::string_view toString(Override value);
std::string_view toString(OnStale value);

struct Policy {
  Level level = Level::Session;
  std::optional<std::chrono::milliseconds> maxStaleness;  // none: consistency.max_staleness
  Override override = Override::Any;
  OnStale onStale = OnStale::Primary;
  bool downgradeEnabled = false;
  Level floor = Level::Eventual;  // never relaxed below this
};

struct Rule {
  std::string name;
  std::vector<std::string> keyGlobs;  // any match selects the rule
  std::vector<std::string> methods;   // upper case; empty = every method
  Policy policy;
  int line = 0;  // where the rule starts in the config file, for messages
};

}  // namespace cx::routing
