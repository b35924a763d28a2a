// Parsing and printing of consistency levels and policy enums.
#include "routing/level.h"

#include <algorithm>
#include <array>

namespace cx::routing {
namespace {

// ASCII only, as header values are: no locale lookup per character (this runs on every
// request's X-Consistency).
constexpr char asciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return asciiLower(x) == asciiLower(y); });
}

constexpr std::array<std::string_view, 5> kLevelNames = {"strong", "bounded", "session", "prefix",
                                                         "eventual"};
}  // namespace

std::optional<Level> parseLevel(std::string_view text) {
  for (std::size_t i = 0; i < kLevelNames.size(); ++i) {  // as clients mostly send it
    if (text == kLevelNames[i]) return static_cast<Level>(i);
  }
  for (std::size_t i = 0; i < kLevelNames.size(); ++i) {
    if (equalsIgnoreCase(text, kLevelNames[i])) return static_cast<Level>(i);
  }
  if (equalsIgnoreCase(text, "linearizable")) return Level::Strong;
  return std::nullopt;
}

std::string_view toString(Level level) { return kLevelNames[static_cast<std::size_t>(level)]; }

std::optional<Override> parseOverride(std::string_view text) {
  if (equalsIgnoreCase(text, "any")) return Override::Any;
  if (equalsIgnoreCase(text, "stronger")) return Override::Stronger;
  if (equalsIgnoreCase(text, "none")) return Override::None;
  return std::nullopt;
}

std::optional<OnStale> parseOnStale(std::string_view text) {
  if (equalsIgnoreCase(text, "primary")) return OnStale::Primary;
  if (equalsIgnoreCase(text, "wait")) return OnStale::Wait;
  if (equalsIgnoreCase(text, "error")) return OnStale::Error;
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
