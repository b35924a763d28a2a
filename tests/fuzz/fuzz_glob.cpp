// Differential fuzzing of the glob matcher (routing/glob.h) against a reference written
// from its documented grammar: the pattern compiled to tokens (star, any byte, a set of
// bytes, a literal byte), matched by dynamic programming. The two must agree on every
// pattern and text, well formed or not (an unterminated '[' is a literal '[', a trailing
// '\' a literal '\'); validateGlob() must accept exactly the patterns the tokenizer
// compiles without falling back to those literals.
#include <bitset>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/glob.h"

namespace {

struct Token {
  enum Kind { Star, Any, Set } kind;
  std::bitset<256> bytes;  // Set (a literal is a set of one)
};

// A set opening at pattern[open] == '['; nullopt when it never closes.
std::optional<std::pair<std::bitset<256>, std::size_t>> parseSet(std::string_view pattern, std::size_t open) {
  std::size_t i = open + 1;
  bool negated = false;
  if (i < pattern.size() && (pattern[i] == '^' || pattern[i] == '!')) {
    negated = true;
    ++i;
  }
  std::bitset<256> members;
  bool first = true;
  // One member, possibly escaped; nullopt when an escape runs off the end.
  auto member = [&](std::size_t& at) -> std::optional<unsigned char> {
    if (pattern[at] == '\\') {
      if (at + 1 >= pattern.size()) return std::nullopt;
      at += 2;
      return static_cast<unsigned char>(pattern[at - 1]);
    }
    return static_cast<unsigned char>(pattern[at++]);
  };
  while (i < pattern.size()) {
    if (pattern[i] == ']' && !first) {
      if (negated) members.flip();
      return std::make_pair(members, i + 1);
    }
    first = false;
    const auto low = member(i);
    if (!low) return std::nullopt;
    unsigned lo = *low;
    unsigned hi = lo;
    if (i + 1 < pattern.size() && pattern[i] == '-' && pattern[i + 1] != ']') {
      ++i;
      const auto high = member(i);
      if (!high) return std::nullopt;
      hi = *high;
      if (hi < lo) std::swap(lo, hi);
    }
    for (unsigned b = lo; b <= hi; ++b) members.set(b);
  }
  return std::nullopt;
}

std::vector<Token> compile(std::string_view pattern, bool& wellFormed) {
  std::vector<Token> tokens;
  wellFormed = true;
  for (std::size_t i = 0; i < pattern.size();) {
    Token t{Token::Set, {}};
    const char c = pattern[i];
    if (c == '*') {
      t.kind = Token::Star;
      ++i;
    } else if (c == '?') {
      t.kind = Token::Any;
      ++i;
    } else if (c == '[') {
      if (auto set = parseSet(pattern, i)) {
        t.bytes = set->first;
        i = set->second;
      } else {
        wellFormed = false;
        t.bytes.set('[');
        ++i;
      }
    } else if (c == '\\') {
      if (i + 1 < pattern.size()) {
        t.bytes.set(static_cast<unsigned char>(pattern[i + 1]));
        i += 2;
      } else {
        wellFormed = false;
        t.bytes.set('\\');
        ++i;
      }
    } else {
      t.bytes.set(static_cast<unsigned char>(c));
      ++i;
    }
    tokens.push_back(t);
  }
  return tokens;
}

bool referenceMatch(const std::vector<Token>& tokens, std::string_view text) {
  // row[j]: the tokens so far match text[0, j).
  std::vector<char> row(text.size() + 1, 0);
  row[0] = 1;
  for (const Token& t : tokens) {
    std::vector<char> next(text.size() + 1, 0);
    for (std::size_t j = 0; j <= text.size(); ++j) {
      if (t.kind == Token::Star) {
        next[j] = row[j] || (j > 0 && next[j - 1]);
      } else if (j > 0 && row[j - 1]) {
        next[j] = t.kind == Token::Any || t.bytes.test(static_cast<unsigned char>(text[j - 1]));
      }
    }
    row.swap(next);
  }
  return row[text.size()] != 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || size > 512) return 0;  // the reference is quadratic
  const std::size_t split = std::min<std::size_t>(data[0], size - 1);
  const std::string_view pattern(reinterpret_cast<const char*>(data + 1), split);
  const std::string_view text(reinterpret_cast<const char*>(data + 1 + split), size - 1 - split);

  bool wellFormed = false;
  const auto tokens = compile(pattern, wellFormed);
  const bool valid = !cx::routing::validateGlob(pattern).has_value();
  if (valid != wellFormed) {
    std::fprintf(stderr, "fuzz_glob: validateGlob says %s for %.*s\n", valid ? "valid" : "invalid",
                 static_cast<int>(pattern.size()), pattern.data());
    std::abort();
  }
  if (cx::routing::globMatch(pattern, text) != referenceMatch(tokens, text)) {
    std::fprintf(stderr, "fuzz_glob: globMatch differs from the reference\n");
    std::abort();
  }
  return 0;
}
