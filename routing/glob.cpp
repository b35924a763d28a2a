// Glob matching for rule key patterns: one-star backtracking, so no recursion and no
// exponential blow-up on patterns like "a*a*a*a*b".
#include "routing/glob.h"

#include <cstddef>
#include <utility>

namespace cx::routing {
namespace {

constexpr std::size_t kNoStar = std::string_view::npos;

struct SetMatch {
  bool matched = false;
  std::size_t end = 0;  // index just past the closing ']'
};

// Evaluates the set that opens at pattern[open] == '[' against one byte. nullopt when the
// set has no closing ']'. Why the '\' handling mirrors the outside of a set: users escape
// ']' and '-' the same way everywhere.
std::optional<SetMatch> matchSet(std::string_view pattern, std::size_t open, unsigned char byte) {
  std::size_t i = open + 1;
  bool negated = false;
  if (i < pattern.size() && (pattern[i] == '^' || pattern[i] == '!')) {
    negated = true;
    ++i;
  }
  bool matched = false;
  bool first = true;
  while (i < pattern.size()) {
    if (pattern[i] == ']' && !first) return SetMatch{matched != negated, i + 1};
    first = false;
    // One member: a byte, possibly escaped, possibly the start of a range.
    unsigned char low;
    if (pattern[i] == '\\') {
      if (i + 1 >= pattern.size()) return std::nullopt;
      low = static_cast<unsigned char>(pattern[i + 1]);
      i += 2;
    } else {
      low = static_cast<unsigned char>(pattern[i]);
      i += 1;
    }
    unsigned char high = low;
    // A '-' followed by something other than the closing ']' makes a range.
    if (i + 1 < pattern.size() && pattern[i] == '-' && pattern[i + 1] != ']') {
      if (pattern[i + 1] == '\\') {
        if (i + 2 >= pattern.size()) return std::nullopt;
        high = static_cast<unsigned char>(pattern[i + 2]);
        i += 3;
      } else {
        high = static_cast<unsigned char>(pattern[i + 1]);
        i += 2;
      }
      if (high < low) std::swap(low, high);
    }
    if (byte >= low && byte <= high) matched = true;
  }
  return std::nullopt;
}

}  // namespace

bool globMatch(std::string_view pattern, std::string_view text) {
  std::size_t p = 0;
  std::size_t t = 0;
  // The most recent '*': where the pattern resumes after it, and how much text it has
  // swallowed so far. Only the last star needs remembering: any match an earlier star
  // could still produce, the later one produces too.
  std::size_t starResume = kNoStar;
  std::size_t starText = 0;

  while (t < text.size()) {
    bool advanced = false;
    if (p < pattern.size()) {
      const char pc = pattern[p];
      const auto byte = static_cast<unsigned char>(text[t]);
      if (pc == '*') {
        starResume = ++p;
        starText = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        continue;
      }
      if (pc == '[') {
        if (auto set = matchSet(pattern, p, byte)) {
          if (set->matched) {
            p = set->end;
            ++t;
            advanced = true;
          }
        } else if (byte == '[') {  // unterminated: a literal '['
          ++p;
          ++t;
          advanced = true;
        }
      } else {
        std::size_t width = 1;
        auto literal = static_cast<unsigned char>(pc);
        if (pc == '\\' && p + 1 < pattern.size()) {
          literal = static_cast<unsigned char>(pattern[p + 1]);
          width = 2;
        }
        if (byte == literal) {
          p += width;
          ++t;
          advanced = true;
        }
      }
    }
    if (advanced) continue;
    if (starResume == kNoStar) return false;
    p = starResume;
    t = ++starText;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::optional<std::string> validateGlob(std::string_view pattern) {
  for (std::size_t i = 0; i < pattern.size();) {
    if (pattern[i] == '\\') {
      if (i + 1 >= pattern.size()) return std::string("trailing '\\' escapes nothing");
      i += 2;
    } else if (pattern[i] == '[') {
      auto set = matchSet(pattern, i, 0);
      if (!set) {
        return "unterminated '[' at offset " + std::to_string(i) + " (write \\[ for a literal bracket)";
      }
      i = set->end;
    } else {
      ++i;
    }
  }
  return std::nullopt;
}

GlobLiterals globLiterals(std::string_view pattern) {
  // The same tokens globMatch() steps through: a '*', '?' or terminated set is a wildcard,
  // everything else one literal byte (an unterminated '[' is '[', a trailing backslash itself).
  GlobLiterals out;
  bool sawWildcard = false;
  std::string run;  // literal bytes since the last wildcard
  auto wildcard = [&] {
    if (!sawWildcard) out.prefix = run;
    sawWildcard = true;
    run.clear();
  };
  for (std::size_t p = 0; p < pattern.size();) {
    const char pc = pattern[p];
    if (pc == '*' || pc == '?') {
      wildcard();
      ++p;
    } else if (pc == '[') {
      if (auto set = matchSet(pattern, p, 0)) {
        wildcard();
        p = set->end;
      } else {
        run += '[';
        ++p;
      }
    } else if (pc == '\\' && p + 1 < pattern.size()) {
      run += pattern[p + 1];
      p += 2;
    } else {
      run += pc;
      ++p;
    }
  }
  if (!sawWildcard) {
    out.prefix = run;
    out.exact = true;
  }
  out.suffix = std::move(run);
  return out;
}

}  // namespace cx::routing
