// Tests for rule key globs: the syntax users write in consistency.rules[].keys.
#include "routing/glob.h"

#include <gtest/gtest.h>

#include <string>

namespace cx::routing {
namespace {

TEST(GlobMatch, LiteralPatternMatchesOnlyItself) {
  EXPECT_TRUE(globMatch("account:1", "account:1"));
  EXPECT_FALSE(globMatch("account:1", "account:12"));
  EXPECT_FALSE(globMatch("account:1", "account:"));
  EXPECT_TRUE(globMatch("", ""));
  EXPECT_FALSE(globMatch("", "a"));
  EXPECT_FALSE(globMatch("a", ""));
}

TEST(GlobMatch, StarMatchesAnyRunIncludingEmpty) {
  EXPECT_TRUE(globMatch("account:*", "account:"));
  EXPECT_TRUE(globMatch("account:*", "account:42"));
  EXPECT_TRUE(globMatch("account:*", "account:42:balance"));
  EXPECT_FALSE(globMatch("account:*", "accounts:42"));
  EXPECT_TRUE(globMatch("*", ""));
  EXPECT_TRUE(globMatch("*", "anything/at:all"));
  EXPECT_TRUE(globMatch("**", "x"));
  EXPECT_TRUE(globMatch("*:balance", "account:7:balance"));
  EXPECT_FALSE(globMatch("*:balance", "account:7:balances"));
  EXPECT_TRUE(globMatch("a*b*c", "aXXbYYc"));
  EXPECT_TRUE(globMatch("a*b*c", "abc"));
  EXPECT_FALSE(globMatch("a*b*c", "aXXbYY"));
  EXPECT_TRUE(globMatch("a*a", "aaa"));
  EXPECT_FALSE(globMatch("a*a", "a"));
}

TEST(GlobMatch, QuestionMarkMatchesExactlyOneByte) {
  EXPECT_TRUE(globMatch("user:?", "user:1"));
  EXPECT_FALSE(globMatch("user:?", "user:"));
  EXPECT_FALSE(globMatch("user:?", "user:12"));
  EXPECT_TRUE(globMatch("??", "ab"));
  EXPECT_TRUE(globMatch("*?", "a"));
  EXPECT_FALSE(globMatch("*?", ""));
}

TEST(GlobMatch, SetsRangesAndNegation) {
  EXPECT_TRUE(globMatch("shard:[abc]", "shard:b"));
  EXPECT_FALSE(globMatch("shard:[abc]", "shard:d"));
  EXPECT_TRUE(globMatch("n[0-9]", "n7"));
  EXPECT_FALSE(globMatch("n[0-9]", "nx"));
  EXPECT_TRUE(globMatch("n[9-0]", "n5"));  // reversed range is swapped
  EXPECT_TRUE(globMatch("[^a]", "b"));
  EXPECT_FALSE(globMatch("[^a]", "a"));
  EXPECT_TRUE(globMatch("[!a]", "b"));
  EXPECT_FALSE(globMatch("[!a]", "a"));
  EXPECT_TRUE(globMatch("[a-cx-z]", "y"));
  EXPECT_FALSE(globMatch("[a-cx-z]", "m"));
  EXPECT_TRUE(globMatch("[]]", "]"));  // ']' first is literal
  EXPECT_TRUE(globMatch("[^]]", "x"));
  EXPECT_FALSE(globMatch("[^]]", "]"));
  EXPECT_TRUE(globMatch("[a-]", "-"));  // '-' last is literal
  EXPECT_TRUE(globMatch("[-a]", "-"));  // '-' first is literal
  EXPECT_FALSE(globMatch("[a-]", "b"));
  EXPECT_TRUE(globMatch("[\\]x]", "]"));   // escaped ']' inside a set
  EXPECT_TRUE(globMatch("[a\\-c]", "-"));  // escaped '-' is not a range
  EXPECT_FALSE(globMatch("[a\\-c]", "b"));
  EXPECT_FALSE(globMatch("[abc]", ""));
}

TEST(GlobMatch, BackslashEscapesSpecialBytes) {
  EXPECT_TRUE(globMatch("a\\*", "a*"));
  EXPECT_FALSE(globMatch("a\\*", "ab"));
  EXPECT_TRUE(globMatch("\\?", "?"));
  EXPECT_FALSE(globMatch("\\?", "x"));
  EXPECT_TRUE(globMatch("\\[x]", "[x]"));
  EXPECT_TRUE(globMatch("\\\\", "\\"));
}

TEST(GlobMatch, MalformedPatternsMatchLiterally) {
  EXPECT_TRUE(globMatch("a[b", "a[b"));
  EXPECT_FALSE(globMatch("a[b", "ab"));
  EXPECT_TRUE(globMatch("a\\", "a\\"));
  EXPECT_TRUE(globMatch("*[", "xx["));
}

TEST(GlobMatch, IsBinarySafe) {
  const std::string key("k\0\xff:\n", 5);
  EXPECT_TRUE(globMatch("k*", key));
  EXPECT_TRUE(globMatch(std::string("k\0?:\n", 5), key));
  EXPECT_TRUE(globMatch(std::string("k?[\x80-\xff]*", 8), key));
  EXPECT_FALSE(globMatch("k", key));
  EXPECT_TRUE(globMatch(std::string("[\0]", 3), std::string("\0", 1)));
  EXPECT_TRUE(globMatch("*\xff*", key));  // high bytes compare unsigned
}

TEST(GlobMatch, PathologicalPatternIsFast) {
  // Naive recursive matchers take exponential time here.
  const std::string text(4096, 'a');
  std::string pattern;
  for (int i = 0; i < 64; ++i) pattern += "a*";
  pattern += "b";
  EXPECT_FALSE(globMatch(pattern, text));
  EXPECT_TRUE(globMatch(pattern.substr(0, pattern.size() - 1), text));
}

TEST(ValidateGlob, AcceptsWellFormedPatterns) {
  for (const char* pattern :
       {"", "*", "account:*", "a?c", "[abc]", "[a-z]*", "[^a]", "[!a]", "[]]", "\\[", "a\\*b", "[\\]]", "\\\\"}) {
    EXPECT_EQ(validateGlob(pattern), std::nullopt) << pattern;
  }
}

TEST(ValidateGlob, RejectsUnterminatedSet) {
  for (const char* pattern : {"[", "a[b", "[a-z", "[^", "[]", "[\\]", "ok[x]bad[", "[a-\\"}) {
    auto problem = validateGlob(pattern);
    ASSERT_TRUE(problem.has_value()) << pattern;
    EXPECT_NE(problem->find("unterminated"), std::string::npos) << *problem;
  }
}

TEST(ValidateGlob, RejectsTrailingBackslash) {
  auto problem = validateGlob("account:\\");
  ASSERT_TRUE(problem.has_value());
  EXPECT_NE(problem->find("trailing"), std::string::npos) << *problem;
  EXPECT_EQ(validateGlob("account:\\\\"), std::nullopt);
}

}  // namespace
}  // namespace cx::routing
