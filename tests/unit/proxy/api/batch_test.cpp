// Unit tests for batch bodies (parsing, limits, JSON numbers and booleans), batch plans
// (write or read, cursors, refusals, what MULTI cannot hold) and a batch's one
// consistency decision across its keys' rules.
#include "proxy/api/batch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/command_table.h"
#include "tests/support/command_fixtures.h"

namespace cx::proxy {
namespace {

using backends::CommandPolicy;
using backends::CommandSpecForTest;
using routing::Level;

std::vector<Argv> batch(std::string_view body, std::size_t max = 100) {
  auto parsed = parseBatchJson(body, max);
  if (auto* error = std::get_if<BodyError>(&parsed)) {
    ADD_FAILURE() << "refused: " << error->message;
    return {};
  }
  return std::get<std::vector<Argv>>(parsed);
}

BodyError refusal(std::string_view body, std::size_t max = 100) {
  auto parsed = parseBatchJson(body, max);
  if (auto* error = std::get_if<BodyError>(&parsed)) return *error;
  ADD_FAILURE() << "accepted: " << body;
  return {};
}

TEST(BatchBody, ParsesCommandsInOrder) {
  EXPECT_EQ(batch(R"([["SET","a","1"],["GET","b"]])"), (std::vector<Argv>{{"SET", "a", "1"}, {"GET", "b"}}));
}

TEST(BatchBody, NumbersAndBooleansBecomeTheirJsonText) {
  EXPECT_EQ(batch(R"([["SET","a",1],["ZADD","z",1.5,"m"],["SET","b",true],["SET","c",false],["INCRBY","n",-3]])"),
            (std::vector<Argv>{{"SET", "a", "1"},
                               {"ZADD", "z", "1.5", "m"},
                               {"SET", "b", "true"},
                               {"SET", "c", "false"},
                               {"INCRBY", "n", "-3"}}));
  // As JavaScript prints them: plain digits below 1e21, an exponent beyond.
  EXPECT_EQ(batch(R"([["SET","a",100000000000000000000,1e21,0.25,18446744073709551615]])")[0],
            (Argv{"SET", "a", "100000000000000000000", "1e+21", "0.25", "18446744073709551615"}));
}

TEST(BatchBody, Base64ArgumentsCarryAnyBytes) {
  EXPECT_EQ(batch(R"([["SET","k",{"base64":"AP8="}]])")[0], (Argv{"SET", "k", std::string("\0\xff", 2)}));
}

TEST(BatchBody, RefusesWhatIsNotABatchOfCommands) {
  EXPECT_NE(refusal("not json").message.find("not valid JSON"), std::string::npos);
  EXPECT_NE(refusal(R"({"cmd":"GET"})").message.find("non-empty JSON array of commands"), std::string::npos);
  EXPECT_NE(refusal("[]").message.find("non-empty"), std::string::npos);
  EXPECT_NE(refusal(R"(["GET","a"])").message.find("command 1 of the batch is not an array"), std::string::npos);
  EXPECT_NE(refusal(R"([["GET","a"],[]])").message.find("command 2 of the batch must be a non-empty"),
            std::string::npos);
  EXPECT_NE(refusal(R"([["GET",["a"]]])").message.find("element 1 of command 1 of the batch is an array"),
            std::string::npos);
  EXPECT_NE(refusal(R"([["GET",null]])").message.find("is null"), std::string::npos);
  EXPECT_NE(refusal(R"([["GET",{"x":1}]])").message.find("is an object"), std::string::npos);
  EXPECT_FALSE(refusal(R"([["GET","a"],"GET"])").tooManyCommands);
}

TEST(BatchBody, MoreCommandsThanTheLimitIsTooLarge) {
  EXPECT_EQ(batch(R"([["GET","a"],["GET","b"]])", 2).size(), 2u);
  const BodyError error = refusal(R"([["GET","a"],["GET","b"],["GET","c"]])", 2);
  EXPECT_TRUE(error.tooManyCommands);
  EXPECT_NE(error.message.find("3 commands; the limit is 2 (limits.max_batch_commands)"), std::string::npos);
}

TEST(CommandBody, OneCommandArray) {
  auto parsed = parseCommandJson(R"(["SET","a",2,true])");
  ASSERT_TRUE(std::holds_alternative<Argv>(parsed));
  EXPECT_EQ(std::get<Argv>(parsed), (Argv{"SET", "a", "2", "true"}));
  EXPECT_TRUE(std::holds_alternative<BodyError>(parseCommandJson(R"([["GET","a"]])")));
  EXPECT_TRUE(std::holds_alternative<BodyError>(parseCommandJson("[]")));
}

// ---- plans ----

CommandPolicy policy(bool allowScripts = true) {
  std::vector<CommandSpecForTest> specs = backends::redisCommandsForTest();
  specs.push_back({.name = "hscan",
                   .arity = -3,
                   .flags = {"readonly"},
                   .firstKey = 1,
                   .lastKey = 1,
                   .keyStep = 1,
                   .aclCategories = {"@read", "@hash", "@slow"}});
  specs.push_back({.name = "refusedinmulti", .arity = 1, .flags = {"no_multi"}, .aclCategories = {"@slow"}});
  return CommandPolicy(backends::makeCommandTableForTest(specs), allowScripts);
}

BatchPlan plan(const std::vector<Argv>& commands, BatchKind kind = BatchKind::Pipeline) {
  static const CommandPolicy p = policy();
  auto planned = planBatch(commands, kind, p);
  if (auto* refused = std::get_if<BatchRefusal>(&planned)) {
    ADD_FAILURE() << refused->message;
    return {};
  }
  return std::get<BatchPlan>(planned);
}

BatchRefusal refused(const std::vector<Argv>& commands, BatchKind kind = BatchKind::Pipeline,
                     bool allowScripts = true) {
  const CommandPolicy p = policy(allowScripts);
  auto planned = planBatch(commands, kind, p);
  if (auto* r = std::get_if<BatchRefusal>(&planned)) return *r;
  ADD_FAILURE() << "planned";
  return {};
}

TEST(BatchPlan, AnyWriteSendsTheWholeBatchToThePrimary) {
  const std::vector<Argv> reads{{"GET", "a"}, {"MGET", "b", "c"}};
  EXPECT_FALSE(plan(reads).isWrite);
  const std::vector<Argv> mixed{{"GET", "a"}, {"SET", "b", "1"}, {"GET", "b"}};
  const BatchPlan p = plan(mixed);
  EXPECT_TRUE(p.isWrite);
  ASSERT_EQ(p.commands.size(), 3u);
  EXPECT_FALSE(p.commands[0].isWrite);
  EXPECT_TRUE(p.commands[1].isWrite);
  EXPECT_EQ(p.commands[1].name, "SET");
  EXPECT_EQ(p.commands[1].keys, (std::vector<std::string_view>{"b"}));
}

TEST(BatchPlan, KeysOfEveryCommand) {
  const std::vector<Argv> commands{{"mget", "a", "b"}, {"ping"}};
  const BatchPlan p = plan(commands);
  EXPECT_EQ(p.commands[0].keys, (std::vector<std::string_view>{"a", "b"}));
  EXPECT_EQ(p.commands[0].name, "MGET");
  EXPECT_TRUE(p.commands[1].keys.empty());
}

TEST(BatchPlan, ScriptsAreWritesUnlessReadOnly) {
  const std::vector<Argv> eval{{"EVAL", "return 1", "1", "k"}};
  EXPECT_TRUE(plan(eval).isWrite);
  EXPECT_TRUE(plan(eval).hasScript);
  const std::vector<Argv> evalRo{{"EVALSHA_RO", "abc", "1", "k"}};
  EXPECT_FALSE(plan(evalRo).isWrite);
  EXPECT_TRUE(plan(evalRo).hasScript);
  EXPECT_TRUE(refused(eval, BatchKind::Pipeline, /*allowScripts=*/false).notAllowed);
}

TEST(BatchPlan, CursorsNeedThePrimary) {
  const std::vector<Argv> scan{{"GET", "a"}, {"SCAN", "0"}};
  EXPECT_TRUE(plan(scan).needsPrimary);
  EXPECT_FALSE(plan(scan).isWrite);
  const std::vector<Argv> hscan{{"HSCAN", "h", "0"}};
  EXPECT_TRUE(plan(hscan).needsPrimary);
  const std::vector<Argv> get{{"GET", "a"}};
  EXPECT_FALSE(plan(get).needsPrimary);
}

TEST(BatchPlan, OneRefusedCommandRefusesTheBatch) {
  const BatchRefusal r = refused({{"SET", "a", "1"}, {"FLUSHALL"}, {"GET", "a"}});
  EXPECT_EQ(r.index, 1u);
  EXPECT_TRUE(r.notAllowed);
  EXPECT_NE(r.message.find("command 2 of the batch: 'FLUSHALL' is not allowed"), std::string::npos);
  const BatchRefusal arity = refused({{"GET"}});
  EXPECT_FALSE(arity.notAllowed);
  EXPECT_NE(arity.message.find("wrong number of arguments"), std::string::npos);
  EXPECT_FALSE(refused({{"NOSUCH"}}).notAllowed);
  EXPECT_TRUE(refused({{"MULTI"}}).notAllowed);
}

TEST(BatchPlan, MultiRefusesWhatCannotRunInATransaction) {
  const std::vector<Argv> inMulti{{"SET", "a", "1"}, {"REFUSEDINMULTI"}};
  EXPECT_EQ(plan(inMulti, BatchKind::Pipeline).commands.size(), 2u);  // fine outside a transaction
  const BatchRefusal r = refused(inMulti, BatchKind::Multi);
  EXPECT_EQ(r.index, 1u);
  EXPECT_NE(r.message.find("cannot run inside MULTI"), std::string::npos);
}

// ---- the batch's consistency decision ----

routing::Rule rule(std::string name, std::string glob, Level level,
                   routing::Override override = routing::Override::Any) {
  routing::Rule r;
  r.name = std::move(name);
  r.keyGlobs = {std::move(glob)};
  r.policy.level = level;
  r.policy.override = override;
  return r;
}

TEST(BatchPolicy, TheStrongestLevelAmongTheKeysRulesWins) {
  std::vector<routing::Rule> list{rule("accounts", "account:*", Level::Strong),
                                  rule("feed", "feed:*", Level::Eventual)};
  list[0].policy.maxStaleness = std::chrono::milliseconds(500);
  list[1].policy.maxStaleness = std::chrono::milliseconds(200);
  const routing::RuleList rules(std::move(list));
  routing::Policy def;
  def.level = Level::Session;
  const std::vector<Argv> feedOnly{{"GET", "feed:1"}, {"GET", "feed:2"}};
  const BatchPolicy a = batchPolicy(plan(feedOnly), rules, def, std::nullopt);
  EXPECT_EQ(a.level, Level::Eventual);
  EXPECT_EQ(a.rule, &rules[1]);

  const std::vector<Argv> mixed{{"GET", "feed:1"}, {"MGET", "x", "account:1"}};
  const BatchPolicy b = batchPolicy(plan(mixed), rules, def, std::nullopt);
  EXPECT_EQ(b.level, Level::Strong);
  EXPECT_EQ(b.rule, &rules[0]);
  EXPECT_EQ(b.policy.maxStaleness, std::chrono::milliseconds(200));  // the smallest named

  const std::vector<Argv> defaultOnly{{"GET", "x"}};
  EXPECT_EQ(batchPolicy(plan(defaultOnly), rules, def, std::nullopt).rule, nullptr);
  EXPECT_EQ(batchPolicy(plan(defaultOnly), rules, def, std::nullopt).level, Level::Session);
}

TEST(BatchPolicy, TheHeaderAppliesWhereEachRuleLetsIt) {
  const routing::RuleList rules(
      std::vector<routing::Rule>{rule("accounts", "account:*", Level::Strong, routing::Override::Stronger)});
  routing::Policy def;
  def.level = Level::Session;
  const std::vector<Argv> commands{{"GET", "x"}, {"GET", "account:1"}};
  const BatchPolicy p = batchPolicy(plan(commands), rules, def, Level::Eventual);
  EXPECT_EQ(p.level, Level::Strong);  // account:1 refuses the weaker header
  EXPECT_TRUE(p.headerOverridden);
  const std::vector<Argv> free{{"GET", "x"}};
  EXPECT_EQ(batchPolicy(plan(free), rules, def, Level::Eventual).level, Level::Eventual);
}

TEST(BatchPolicy, DowngradeOnlyWhenEveryRuleAllowsItAndNeverBelowTheStrongestFloor) {
  std::vector<routing::Rule> list{rule("a", "a:*", Level::Strong), rule("b", "b:*", Level::Bounded)};
  list[0].policy.downgradeEnabled = true;
  list[0].policy.floor = Level::Prefix;
  list[1].policy.downgradeEnabled = true;
  list[1].policy.floor = Level::Bounded;
  const routing::RuleList rules(std::move(list));
  routing::Policy def;
  def.downgradeEnabled = false;
  const std::vector<Argv> both{{"GET", "a:1"}, {"GET", "b:1"}};
  const BatchPolicy p = batchPolicy(plan(both), rules, def, std::nullopt);
  EXPECT_TRUE(p.policy.downgradeEnabled);
  EXPECT_EQ(p.policy.floor, Level::Bounded);
  const std::vector<Argv> withDefault{{"GET", "a:1"}, {"GET", "other"}};
  EXPECT_FALSE(batchPolicy(plan(withDefault), rules, def, std::nullopt).policy.downgradeEnabled);
}

}  // namespace
}  // namespace cx::proxy
