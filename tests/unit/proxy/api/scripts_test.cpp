// Unit tests for the Upstash-only shebang flag removal and EVALSHA aliases.
#include "proxy/api/scripts.h"

#include <gtest/gtest.h>

namespace cx::proxy {
namespace {

TEST(UpstashScriptFlags, TheOnlyFlagLeavesABareShebang) {
  EXPECT_EQ(stripUpstashScriptFlags("#!lua flags=allow-key-locking\n  return 1\n"), "#!lua\n  return 1\n");
  EXPECT_EQ(stripUpstashScriptFlags("#!lua flags=allow-key-locking"), "#!lua");
}

TEST(UpstashScriptFlags, OtherFlagsAreKeptInOrder) {
  EXPECT_EQ(stripUpstashScriptFlags("#!lua flags=no-writes,allow-key-locking\nreturn 1"),
            "#!lua flags=no-writes\nreturn 1");
  EXPECT_EQ(stripUpstashScriptFlags("#!lua flags=allow-key-locking,no-writes,allow-stale\nreturn 1"),
            "#!lua flags=no-writes,allow-stale\nreturn 1");
}

TEST(UpstashScriptFlags, ScriptsWithoutTheFlagAreLeftAlone) {
  EXPECT_EQ(stripUpstashScriptFlags("return 1"), std::nullopt);
  EXPECT_EQ(stripUpstashScriptFlags("#!lua\nreturn 1"), std::nullopt);
  EXPECT_EQ(stripUpstashScriptFlags("#!lua flags=no-writes\nreturn 1"), std::nullopt);
  // Only the first line is a shebang.
  EXPECT_EQ(stripUpstashScriptFlags("return 1\n#!lua flags=allow-key-locking"), std::nullopt);
  EXPECT_EQ(stripUpstashScriptFlags("-- flags=allow-key-locking\nreturn 1"), std::nullopt);
}

TEST(ScriptSha, IsTheSha1RedisUses) {
  // redis-cli SCRIPT LOAD "return 1"
  EXPECT_EQ(sha1Hex("return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

TEST(ScriptAliases, EvalshaOfTheOriginalFindsTheStrippedScript) {
  ScriptAliases aliases(2);
  const std::string original = "#!lua flags=allow-key-locking\nreturn 1";
  const std::string stripped = "#!lua\nreturn 1";
  EXPECT_EQ(aliases.aliasOf(sha1Hex(original)), std::nullopt);
  aliases.remember(original, stripped);
  EXPECT_EQ(aliases.aliasOf(sha1Hex(original)), sha1Hex(stripped));
  std::string upper = sha1Hex(original);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(aliases.aliasOf(upper), sha1Hex(stripped));
  EXPECT_EQ(aliases.aliasOf(sha1Hex(stripped)), std::nullopt);
  // Full: starts again rather than growing.
  aliases.remember("a", "b");
  aliases.remember("c", "d");
  EXPECT_EQ(aliases.aliasOf(sha1Hex(original)), std::nullopt);
  EXPECT_EQ(aliases.aliasOf(sha1Hex("c")), sha1Hex("d"));
}

}  // namespace
}  // namespace cx::proxy
