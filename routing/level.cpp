// Parsing and printing of consistency levels and policy enums.
#include "routing/level.h"

#include <algorithm>
#include <array>

#include "backends/text.h"

namespace cx::routing {
namespace {

// ASCII only, as header values are: no locale lookup per character (this runs on every
// request's X-Consistency).
using text::iequals;

constexpr std::array<std::string_view, 5> kLevelNames = {"strong", "bounded", "session", "prefix", "eventual"};
}  // namespace

std::optional<Level> parseLevel(std::string_view text) {
  for (std::size_t i = 0; i < kLevelNames.size(); ++i) {  // as clients mostly send it
    if (text == kLevelNames[i]) return static_cast<Level>(i);
  }
  for (std::size_t i = 0; i < kLevelNames.size(); ++i) {
    if (iequals(text, kLevelNames[i])) return static_cast<Level>(i);
  }
  if (iequals(text, "linearizable")) return Level::Strong;
  return std::nullopt;
}

std::string_view toString(Level level) { return kLevelNames[static_cast<std::size_t>(level)]; }

std::optional<Override> parseOverride(std::string_view text) {
  if (iequals(text, "any")) return Override::Any;
  if (iequals(text, "stronger")) return Override::Stronger;
  if (iequals(text, "none")) return Override::None;
  return std::nullopt;
}

std::optional<OnStale> parseOnStale(std::string_view text) {
  if (iequals(text, "primary")) return OnStale::Primary;
  if (iequals(text, "wait")) return OnStale::Wait;
  if (iequals(text, "error")) return OnStale::Error;
  return std::nullopt;
}

std::string_view toString(Override value) {
  switch (value) {
    case Override::Any: return "any";
    case Override::Stronger: return "stronger";
    case Override::None: return "none";
  }
  return "any";
}

std::string_view toString(OnStale value) {
  switch (value) {
    case OnStale::Primary: return "primary";
    case OnStale::Wait: return "wait";
    case OnStale::Error: return "error";
  }
  return "primary";
}

}  // namespace cx::routing
