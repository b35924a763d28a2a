// Unit tests for rule selection (README "Rules"): the first rule whose key glob and method
// match wins; /v1/cmd requests match by Redis command name or by GET (read) / PUT (write);
// a request no rule matches gets nullptr (consistency.default).
#include "routing/rules.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cx::routing {
namespace {

Rule rule(std::string name, std::vector<std::string> globs, std::vector<std::string> methods = {},
          Level level = Level::Session) {
  Rule r;
  r.name = std::move(name);
  r.keyGlobs = std::move(globs);
  r.methods = std::move(methods);
  r.policy.level = level;
  return r;
}

// The matching rule's name, or "default" when none matches.
std::string pick(const std::vector<Rule>& rules, std::string_view key, std::string_view method,
                 std::string_view command = {}, bool isWrite = false) {
  const Rule* r = matchRule(rules, key, method, command, isWrite);
  return r ? r->name : "default";
}

// ---------------------------------------------------------------------------------------
// Keys and order

TEST(Rules, NoRulesMeansNoMatch) {
  const std::vector<Rule> rules;
  EXPECT_EQ(matchRule(rules, "account:1", "GET"), nullptr);
}

TEST(Rules, KeyNoRuleMatchesGivesNullptr) {
  const std::vector<Rule> rules{rule("accounts", {"account:*"}), rule("feed", {"feed:*"})};
  EXPECT_EQ(matchRule(rules, "user:1", "GET"), nullptr);
  EXPECT_EQ(matchRule(rules, "accounts", "GET"), nullptr);    // no ':' after "account"
  EXPECT_EQ(matchRule(rules, "xaccount:1", "GET"), nullptr);  // a glob matches the whole key
  EXPECT_EQ(matchRule(rules, "", "GET"), nullptr);
}

TEST(Rules, ReturnsThePointerIntoTheRuleList) {
  const std::vector<Rule> rules{rule("accounts", {"account:*"}), rule("feed", {"feed:*"})};
  EXPECT_EQ(matchRule(rules, "account:1", "GET"), &rules[0]);
  EXPECT_EQ(matchRule(rules, "feed:1", "GET"), &rules[1]);
}

TEST(Rules, FirstMatchWinsOverLaterAndMoreSpecificRules) {
  const std::vector<Rule> rules{
      rule("broad", {"account:*"}, {}, Level::Strong),
      rule("specific", {"account:vip:*"}, {}, Level::Eventual),
      rule("catch-all", {"*"}),
  };
  EXPECT_EQ(pick(rules, "account:vip:7", "GET"), "broad");
  EXPECT_EQ(pick(rules, "account:1", "GET"), "broad");
  EXPECT_EQ(pick(rules, "feed:1", "GET"), "catch-all");
  EXPECT_EQ(matchRule(rules, "account:vip:7", "GET")->policy.level, Level::Strong);
}

TEST(Rules, SpecificRuleListedFirstShadowsTheBroadOne) {
  const std::vector<Rule> rules{
      rule("specific", {"account:vip:*"}),
      rule("broad", {"account:*"}),
  };
  EXPECT_EQ(pick(rules, "account:vip:7", "GET"), "specific");
  EXPECT_EQ(pick(rules, "account:7", "GET"), "broad");
}

TEST(Rules, AnyOfARulesGlobsSelectsIt) {
  const std::vector<Rule> rules{
      rule("money", {"account:*", "ledger:*", "balance"}),
      rule("other", {"*"}),
  };
  EXPECT_EQ(pick(rules, "account:1", "GET"), "money");
  EXPECT_EQ(pick(rules, "ledger:2024", "PUT"), "money");
  EXPECT_EQ(pick(rules, "balance", "DELETE"), "money");
  EXPECT_EQ(pick(rules, "balances", "GET"), "other");
}

TEST(Rules, GlobFeaturesSelectRules) {
  const std::vector<Rule> rules{
      rule("one-digit", {"user:[0-9]"}), rule("question", {"q:?"}),        rule("not-a", {"n:[^a]*"}),
      rule("literal-star", {"lit:\\*"}), rule("middle", {"feed:*:items"}),
  };
  EXPECT_EQ(pick(rules, "user:7", "GET"), "one-digit");
  EXPECT_EQ(pick(rules, "user:42", "GET"), "default");
  EXPECT_EQ(pick(rules, "user:x", "GET"), "default");
  EXPECT_EQ(pick(rules, "q:z", "GET"), "question");
  EXPECT_EQ(pick(rules, "q:", "GET"), "default");
  EXPECT_EQ(pick(rules, "q:zz", "GET"), "default");
  EXPECT_EQ(pick(rules, "n:bcd", "GET"), "not-a");
  EXPECT_EQ(pick(rules, "n:abc", "GET"), "default");
  EXPECT_EQ(pick(rules, "lit:*", "GET"), "literal-star");
  EXPECT_EQ(pick(rules, "lit:x", "GET"), "default");
  EXPECT_EQ(pick(rules, "feed:42:items", "GET"), "middle");
  EXPECT_EQ(pick(rules, "feed:a/b:c:items", "GET"), "middle");  // * crosses ':' and '/'
  EXPECT_EQ(pick(rules, "feed:42:item", "GET"), "default");
}

TEST(Rules, GlobsAreCaseSensitiveAndBinarySafe) {
  const std::vector<Rule> rules{rule("accounts", {"account:*"}), rule("bin", {std::string("b\0*", 3)})};
  EXPECT_EQ(pick(rules, "Account:1", "GET"), "default");
  EXPECT_EQ(pick(rules, "ACCOUNT:1", "GET"), "default");
  EXPECT_EQ(pick(rules, std::string("account:\0\r\n", 11), "GET"), "accounts");
  EXPECT_EQ(pick(rules, std::string("b\0xyz", 5), "GET"), "bin");
  EXPECT_EQ(pick(rules, "bxyz", "GET"), "default");
}

// ---------------------------------------------------------------------------------------
// HTTP methods (/v1/kv)

TEST(Rules, RuleWithoutMethodsMatchesEveryMethod) {
  const std::vector<Rule> rules{rule("accounts", {"account:*"})};
  for (const char* method : {"GET", "PUT", "DELETE", "POST"}) {
    EXPECT_EQ(pick(rules, "account:1", method), "accounts") << method;
  }
}

TEST(Rules, MethodListLimitsTheRuleAndOthersFallThrough) {
  const std::vector<Rule> rules{
      rule("account-reads", {"account:*"}, {"GET"}, Level::Strong),
      rule("account-deletes", {"account:*"}, {"DELETE"}),
      rule("accounts", {"account:*"}, {}, Level::Session),
  };
  EXPECT_EQ(pick(rules, "account:1", "GET"), "account-reads");
  EXPECT_EQ(pick(rules, "account:1", "DELETE"), "account-deletes");
  EXPECT_EQ(pick(rules, "account:1", "PUT"), "accounts");
}

TEST(Rules, SeveralMethodsInOneRule) {
  const std::vector<Rule> rules{rule("rw", {"k:*"}, {"GET", "PUT"})};
  EXPECT_EQ(pick(rules, "k:1", "GET"), "rw");
  EXPECT_EQ(pick(rules, "k:1", "PUT"), "rw");
  EXPECT_EQ(pick(rules, "k:1", "DELETE"), "default");
}

TEST(Rules, MethodMatchNeedsTheKeyToo) {
  const std::vector<Rule> rules{rule("account-reads", {"account:*"}, {"GET"})};
  EXPECT_EQ(pick(rules, "feed:1", "GET"), "default");
}

TEST(Rules, WithoutACommandGetAndPutAreOnlyHttpMethods) {
  // For /v1/kv there is no command: a PUT request is not a "read", and a rule listing a
  // Redis command name does not match an HTTP request.
  const std::vector<Rule> rules{rule("set-only", {"k:*"}, {"SET"}), rule("get-only", {"k:*"}, {"GET"})};
  EXPECT_EQ(pick(rules, "k:1", "PUT", {}, true), "default");
  EXPECT_EQ(pick(rules, "k:1", "GET"), "get-only");
}

// ---------------------------------------------------------------------------------------
// /v1/cmd: the command name, GET for reads, PUT for writes

TEST(Rules, CommandNameSelectsTheRule) {
  const std::vector<Rule> rules{
      rule("hashes-read", {"user:*"}, {"HGETALL", "HGET"}),
      rule("hashes-write", {"user:*"}, {"HSET"}),
  };
  EXPECT_EQ(pick(rules, "user:1", "POST", "HGETALL", false), "hashes-read");
  EXPECT_EQ(pick(rules, "user:1", "POST", "HGET", false), "hashes-read");
  EXPECT_EQ(pick(rules, "user:1", "POST", "HSET", true), "hashes-write");
  EXPECT_EQ(pick(rules, "user:1", "POST", "HDEL", true), "default");
  EXPECT_EQ(pick(rules, "user:1", "POST", "HLEN", false), "default");
}

TEST(Rules, GetMatchesReadCommandsAndPutMatchesWriteCommands) {
  const std::vector<Rule> rules{
      rule("reads", {"account:*"}, {"GET"}),
      rule("writes", {"account:*"}, {"PUT"}),
  };
  for (const char* readCommand : {"GET", "HGETALL", "LRANGE", "EXISTS", "MGET"}) {
    EXPECT_EQ(pick(rules, "account:1", "POST", readCommand, false), "reads") << readCommand;
  }
  for (const char* writeCommand : {"SET", "HSET", "INCR", "DEL", "GETDEL"}) {
    EXPECT_EQ(pick(rules, "account:1", "POST", writeCommand, true), "writes") << writeCommand;
  }
}

TEST(Rules, GetRuleDoesNotMatchWriteCommandsNorPutRuleReads) {
  const std::vector<Rule> readsOnly{rule("reads", {"account:*"}, {"GET"})};
  EXPECT_EQ(pick(readsOnly, "account:1", "POST", "SET", true), "default");
  EXPECT_EQ(pick(readsOnly, "account:1", "POST", "GETDEL", true), "default");
  const std::vector<Rule> writesOnly{rule("writes", {"account:*"}, {"PUT"})};
  EXPECT_EQ(pick(writesOnly, "account:1", "POST", "GET", false), "default");
  EXPECT_EQ(pick(writesOnly, "account:1", "POST", "HGETALL", false), "default");
}

TEST(Rules, DeleteIsNotACommandClass) {
  // Only GET (read) and PUT (write) stand for command classes; DELETE is an HTTP method.
  const std::vector<Rule> rules{rule("deletes", {"account:*"}, {"DELETE"})};
  EXPECT_EQ(pick(rules, "account:1", "POST", "DEL", true), "default");
  EXPECT_EQ(pick(rules, "account:1", "DELETE"), "deletes");
}

TEST(Rules, CommandRulesFirstMatchWins) {
  const std::vector<Rule> rules{
      rule("all-writes", {"account:*"}, {"PUT"}),
      rule("incr", {"account:*"}, {"INCR"}),
      rule("fallback", {"*"}),
  };
  EXPECT_EQ(pick(rules, "account:1", "POST", "INCR", true), "all-writes");
  EXPECT_EQ(pick(rules, "account:1", "POST", "GET", false), "fallback");
  EXPECT_EQ(pick(rules, "feed:1", "POST", "INCR", true), "fallback");
}

TEST(Rules, CommandRulesUseTheFirstKey) {
  // The caller passes the command's first key; other rules' keys play no part.
  const std::vector<Rule> rules{rule("accounts", {"account:*"}, {"GET"}), rule("feed", {"feed:*"})};
  EXPECT_EQ(pick(rules, "feed:1", "POST", "MGET", false), "feed");
  EXPECT_EQ(pick(rules, "account:1", "POST", "MGET", false), "accounts");
}

}  // namespace
}  // namespace cx::routing
