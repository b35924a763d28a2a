// Glob patterns for rule keys (README "Rules"): `*`, `?`, `[abc]`, `[a-z]`, `[^a]`/`[!a]`, `\x`.
// Binary safe and iterative: matching costs at most O(pattern × text), never recursion.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cx::routing {

// True when the whole of `text` matches `pattern`. Case-sensitive, byte-wise.
//   *      any run of bytes, including none (also across ':' and '/')
//   ?      exactly one byte
//   [...]  one byte from the set; `a-z` is a range (reversed ranges are swapped), a leading
//          `^` or `!` negates, a `]` right after the opening `[` (or `[^`) is literal, and
//          `-` first or last is literal
//   \x     the byte x literally, also inside a set
// A pattern that validateGlob() rejects still matches predictably: an unterminated `[`
// stands for itself and a trailing `\` for a backslash.
bool globMatch(std::string_view pattern, std::string_view text);

// nullopt when the pattern is well formed, otherwise what is wrong with it
// (unterminated `[`, trailing `\`), phrased for a configuration error message.
std::optional<std::string> validateGlob(std::string_view pattern);

// The literal bytes that every text matching `pattern` starts with (`prefix`: the bytes
// before the first `*`, `?` or set) and ends with (`suffix`: the bytes after the last
// one), escapes resolved. `exact` when the pattern has no wildcard at all: it matches the
// one text `prefix` (== `suffix`). Rule selection indexes globs by these (see rules.h);
// they follow globMatch() exactly, also for the patterns validateGlob() rejects.
struct GlobLiterals {
  std::string prefix;
  std::string suffix;
  bool exact = false;
};
GlobLiterals globLiterals(std::string_view pattern);

}  // namespace cx::routing
