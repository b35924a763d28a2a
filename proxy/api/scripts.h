// Lua scripts written for Upstash (README "Using existing clients"). Upstash accepts a
// shebang flag of its own, `#!lua flags=allow-key-locking` (used by @upstash/ratelimit
// from 2.1 on), which Redis 7 refuses ("Unexpected flag in script shebang"). cxproxy
// removes that flag before a script reaches Redis and keeps every other flag.
//
// The client names a cached script by the SHA1 of the text it wrote (EVALSHA), which is
// not the SHA1 Redis cached after the flag was removed. ScriptAliases remembers, per
// worker, which stripped script each original SHA1 stands for, so EVALSHA of the
// original finds the script Redis has; without the alias the client would get NOSCRIPT
// and fall back to EVAL with the whole text on every call (correct, but slower).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cx::proxy {

// The script without the Upstash-only shebang flag: `#!lua flags=allow-key-locking,no-writes`
// becomes `#!lua flags=no-writes`, `#!lua flags=allow-key-locking` becomes `#!lua`
// (Redis 7 accepts a shebang without flags). nullopt when the script has no such flag:
// it is sent as it is.
std::optional<std::string> stripUpstashScriptFlags(std::string_view script);

// SHA1 of `text` as 40 lower-case hex digits (what EVALSHA takes).
std::string sha1Hex(std::string_view text);

// Original-script SHA1 -> stripped-script SHA1, for EVALSHA. Bounded: when full it
// forgets everything and starts again (the client's NOSCRIPT fallback refills it).
// Call on the owning worker only.
class ScriptAliases {
 public:
  explicit ScriptAliases(std::size_t capacity = 1024) : capacity_(capacity) {}
  void remember(std::string_view originalScript, std::string_view strippedScript);
  // The SHA1 to send for an EVALSHA of `sha` (any case); nullopt when it has no alias.
  std::optional<std::string> aliasOf(std::string_view sha) const;

 private:
  std::size_t capacity_;
  std::unordered_map<std::string, std::string> aliases_;
};

}  // namespace cx::proxy
