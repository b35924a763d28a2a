// Unit tests for the COMMAND table (Redis 5/6/7 reply shapes, subcommands, key specs) and
// the POST /v1/cmd allow-list policy.
#include "backends/command_table.h"
#include "tests/support/command_fixtures.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "tests/unit/support/resp_values.h"

namespace cx::backends {
namespace {

using testing::array;
using testing::bulk;
using testing::integer;
using testing::status;

// GET exactly as redis-server 7.0 answers `COMMAND INFO get` (RESP2: name and map keys
// are bulk strings, flags and categories status strings).
RespValue realGetEntry() {
  RespValue keySpec = array({
      bulk("flags"),
      array({status("RO"), status("access")}),
      bulk("begin_search"),
      array({bulk("type"), bulk("index"), bulk("spec"), array({bulk("index"), integer(1)})}),
      bulk("find_keys"),
      array({bulk("type"), bulk("range"), bulk("spec"),
             array({bulk("lastkey"), integer(0), bulk("keystep"), integer(1), bulk("limit"), integer(0)})}),
  });
  return array({bulk("get"), integer(2), array({status("readonly"), status("fast")}), integer(1), integer(1),
                integer(1), array({status("@read"), status("@string"), status("@fast")}), array({}), array({keySpec}),
                array({})});
}

// A policy over the Redis 7.0 slice that ships with the test support.
CommandPolicy defaultPolicy(bool allowScripts = false, std::vector<std::string> allow = {},
                            std::vector<std::string> deny = {}) {
  const std::vector<CommandSpecForTest> specs = redisCommandsForTest();
  return CommandPolicy(makeCommandTableForTest(specs), allowScripts, allow, deny);
}

CommandDecision check(const CommandPolicy& policy, std::vector<std::string_view> argv) { return policy.check(argv); }

std::vector<std::string_view> keysOf(const CommandTable& table, std::vector<std::string_view> argv) {
  const CommandInfo* info = table.resolve(argv);
  if (info == nullptr) return {};
  return keyArguments(*info, argv);
}

std::optional<std::string_view> firstKeyOf(const CommandTable& table, std::vector<std::string_view> argv) {
  const CommandInfo* info = table.resolve(argv);
  if (info == nullptr) return std::nullopt;
  return firstKey(*info, argv);
}

using Keys = std::vector<std::string_view>;

// ---- Table parsing ----------------------------------------------------------------------

TEST(CommandTable, ParsesRedis7EntryAsTheServerSendsIt) {
  const CommandTable table = CommandTable::fromCommandReply(array({realGetEntry()}));
  ASSERT_EQ(table.size(), 1u);
  const CommandInfo* get = table.find("get");
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(get->name, "get");
  EXPECT_EQ(get->arity, 2);
  EXPECT_TRUE(get->isReadonly);
  EXPECT_FALSE(get->isWrite);
  EXPECT_TRUE(get->isFast);
  EXPECT_FALSE(get->isAdmin);
  EXPECT_EQ(get->firstKey, 1);
  EXPECT_EQ(get->lastKey, 1);
  EXPECT_EQ(get->keyStep, 1);
  ASSERT_EQ(get->keySpecs.size(), 1u);
  EXPECT_EQ(get->keySpecs[0].begin, KeySpec::Begin::Index);
  EXPECT_EQ(get->keySpecs[0].index, 1);
  EXPECT_EQ(get->keySpecs[0].find, KeySpec::Find::Range);
  EXPECT_FALSE(get->hasSubcommands());
}

TEST(CommandTable, LookupIsCaseInsensitiveAndNamesAreLowerCase) {
  RespValue entry = realGetEntry();
  entry.elements[0] = bulk("GET");
  const CommandTable table = CommandTable::fromCommandReply(array({entry}));
  for (std::string_view spelling : {"get", "GET", "gEt"}) {
    const CommandInfo* info = table.find(spelling);
    ASSERT_NE(info, nullptr) << spelling;
    EXPECT_EQ(info->name, "get");
  }
  EXPECT_EQ(table.find("getx"), nullptr);
  EXPECT_EQ(table.find(""), nullptr);
}

TEST(CommandTable, ParsesRedis6EntryWithoutKeySpecs) {
  // Redis 6.2: seven elements, blocking only as an ACL category.
  RespValue blpop =
      array({bulk("blpop"), integer(-3), array({status("write"), status("noscript")}), integer(1), integer(-2),
             integer(1), array({status("@write"), status("@list"), status("@slow"), status("@blocking")})});
  RespValue mset = array({bulk("mset"), integer(-3), array({status("write"), status("denyoom")}), integer(1),
                          integer(-1), integer(2), array({status("@write")})});
  const CommandTable table = CommandTable::fromCommandReply(array({blpop, mset}));
  ASSERT_EQ(table.size(), 2u);
  const CommandInfo* info = table.find("BLPOP");
  ASSERT_NE(info, nullptr);
  EXPECT_TRUE(info->isWrite);
  EXPECT_TRUE(info->isNoscript);
  EXPECT_FALSE(info->isBlocking);
  EXPECT_TRUE(info->inBlockingCategory);
  EXPECT_TRUE(info->keySpecs.empty());
  EXPECT_EQ(keysOf(table, {"BLPOP", "a", "b", "0"}), (Keys{"a", "b"}));
  EXPECT_EQ(keysOf(table, {"MSET", "k1", "v1", "k2", "v2"}), (Keys{"k1", "k2"}));
}

TEST(CommandTable, ParsesRedis5EntryWithoutCategories) {
  RespValue get =
      array({bulk("get"), integer(2), array({status("readonly"), status("fast")}), integer(1), integer(1), integer(1)});
  const CommandTable table = CommandTable::fromCommandReply(array({get}));
  const CommandInfo* info = table.find("get");
  ASSERT_NE(info, nullptr);
  EXPECT_TRUE(info->isReadonly);
  EXPECT_EQ(firstKeyOf(table, {"get", "k"}), "k");
}

TEST(CommandTable, SkipsMalformedEntriesAndRejectsNonArrayReplies) {
  RespValue noName = realGetEntry();
  noName.elements[0] = integer(7);
  RespValue shortEntry = array({bulk("set"), integer(-3)});
  RespValue textArity = realGetEntry();
  textArity.elements[0] = bulk("strlen");
  textArity.elements[1] = bulk("2");
  const CommandTable table =
      CommandTable::fromCommandReply(array({noName, shortEntry, textArity, bulk("junk"), realGetEntry()}));
  EXPECT_EQ(table.size(), 1u);
  EXPECT_NE(table.find("get"), nullptr);

  EXPECT_TRUE(CommandTable::fromCommandReply(RespValue::makeError("NOPERM no")).empty());
  EXPECT_TRUE(CommandTable::fromCommandReply(RespValue{}).empty());
}

TEST(CommandTable, ResolvesSubcommandsThroughTheContainer) {
  const std::vector<CommandSpecForTest> specs = redisCommandsForTest();
  const CommandTable table = makeCommandTableForTest(specs);
  const CommandInfo* object = table.find("object");
  ASSERT_NE(object, nullptr);
  EXPECT_TRUE(object->hasSubcommands());
  EXPECT_FALSE(object->isReadonly);  // the container carries no flags

  std::vector<std::string_view> argv{"OBJECT", "Encoding", "k"};
  const CommandInfo* encoding = table.resolve(argv);
  ASSERT_NE(encoding, nullptr);
  EXPECT_EQ(encoding->name, "object|encoding");
  EXPECT_EQ(encoding->arity, 3);
  EXPECT_TRUE(encoding->isReadonly);
  EXPECT_EQ(firstKey(*encoding, argv), "k");

  EXPECT_EQ(CommandTable::findSubcommand(*object, "nosuch"), nullptr);
  std::vector<std::string_view> unknownSub{"object", "nosuch", "k"};
  EXPECT_EQ(table.resolve(unknownSub), object);
  std::vector<std::string_view> unknown{"nosuch"};
  EXPECT_EQ(table.resolve(unknown), nullptr);
}

TEST(CommandTable, ArityCountsTheCommandName) {
  CommandInfo exact;
  exact.arity = 2;
  EXPECT_FALSE(exact.arityAccepts(1));
  EXPECT_TRUE(exact.arityAccepts(2));
  EXPECT_FALSE(exact.arityAccepts(3));
  CommandInfo atLeast;
  atLeast.arity = -3;
  EXPECT_FALSE(atLeast.arityAccepts(2));
  EXPECT_TRUE(atLeast.arityAccepts(3));
  EXPECT_TRUE(atLeast.arityAccepts(30));
}

// ---- Key positions ----------------------------------------------------------------------

class KeyPositions : public ::testing::Test {
 protected:
  const std::vector<CommandSpecForTest> specs_ = redisCommandsForTest();
  const CommandTable table_ = makeCommandTableForTest(specs_);
};

TEST_F(KeyPositions, SingleKeyCommands) {
  EXPECT_EQ(firstKeyOf(table_, {"GET", "user:1"}), "user:1");
  EXPECT_EQ(firstKeyOf(table_, {"SET", "user:1", "v", "PX", "10"}), "user:1");
  EXPECT_EQ(keysOf(table_, {"SET", "user:1", "v", "PX", "10"}), (Keys{"user:1"}));
  EXPECT_EQ(firstKeyOf(table_, {"HGETALL", "h"}), "h");
}

TEST_F(KeyPositions, CommandsWithoutKeysHaveNone) {
  EXPECT_EQ(firstKeyOf(table_, {"PING"}), std::nullopt);
  EXPECT_EQ(firstKeyOf(table_, {"TIME"}), std::nullopt);
  EXPECT_EQ(firstKeyOf(table_, {"SCAN", "0"}), std::nullopt);
  EXPECT_TRUE(keysOf(table_, {"DBSIZE"}).empty());
}

TEST_F(KeyPositions, MissingKeyArgumentGivesNone) {
  EXPECT_EQ(firstKeyOf(table_, {"GET"}), std::nullopt);
  EXPECT_EQ(firstKeyOf(table_, {"DEL"}), std::nullopt);
}

TEST_F(KeyPositions, MultiKeyRangesAndSteps) {
  EXPECT_EQ(keysOf(table_, {"DEL", "a", "b", "c"}), (Keys{"a", "b", "c"}));
  EXPECT_EQ(keysOf(table_, {"MGET", "a", "b"}), (Keys{"a", "b"}));
  EXPECT_EQ(keysOf(table_, {"MSET", "a", "1", "b", "2"}), (Keys{"a", "b"}));
  EXPECT_EQ(keysOf(table_, {"COPY", "src", "dst", "REPLACE"}), (Keys{"src", "dst"}));
}

TEST_F(KeyPositions, ScriptsUseTheNumkeysArgument) {
  EXPECT_EQ(firstKeyOf(table_, {"EVAL", "return 1", "0"}), std::nullopt);
  EXPECT_EQ(firstKeyOf(table_, {"EVAL", "return 1", "2", "k1", "k2", "arg"}), "k1");
  EXPECT_EQ(keysOf(table_, {"EVAL", "return 1", "2", "k1", "k2", "arg"}), (Keys{"k1", "k2"}));
  EXPECT_EQ(keysOf(table_, {"FCALL_RO", "f", "1", "k1", "arg"}), (Keys{"k1"}));
  // A numkeys that is not a number, or exceeds the arguments, selects nothing.
  EXPECT_TRUE(keysOf(table_, {"EVAL", "return 1", "x", "k1"}).empty());
  EXPECT_TRUE(keysOf(table_, {"EVAL", "return 1", "3", "k1"}).empty());
  EXPECT_TRUE(keysOf(table_, {"EVAL", "return 1", "-1", "k1"}).empty());
}

TEST_F(KeyPositions, ZunionstoreHasDestinationAndNumkeysSources) {
  EXPECT_EQ(keysOf(table_, {"ZUNIONSTORE", "dst", "2", "a", "b", "WEIGHTS", "1", "2"}), (Keys{"dst", "a", "b"}));
  EXPECT_EQ(firstKeyOf(table_, {"ZUNIONSTORE", "dst", "2", "a", "b"}), "dst");
}

TEST_F(KeyPositions, StreamReadsFindKeysAfterTheStreamsKeyword) {
  EXPECT_EQ(keysOf(table_, {"XREAD", "COUNT", "10", "streams", "s1", "s2", "0", "0"}), (Keys{"s1", "s2"}));
  EXPECT_EQ(firstKeyOf(table_, {"XREAD", "STREAMS", "s1", "$"}), "s1");
  EXPECT_EQ(keysOf(table_, {"XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"}), (Keys{"s"}));
  EXPECT_TRUE(keysOf(table_, {"XREAD", "COUNT", "10"}).empty());
}

TEST_F(KeyPositions, MigrateFindsTheKeysKeywordFromTheEnd) {
  EXPECT_EQ(keysOf(table_, {"MIGRATE", "h", "6379", "k", "0", "5000"}), (Keys{"k"}));
  EXPECT_EQ(keysOf(table_, {"MIGRATE", "h", "6379", "", "0", "5000", "KEYS", "a", "b"}), (Keys{"", "a", "b"}));
}

TEST_F(KeyPositions, SubcommandKeysCountTheContainer) {
  EXPECT_EQ(firstKeyOf(table_, {"XINFO", "STREAM", "s"}), "s");
  EXPECT_EQ(firstKeyOf(table_, {"OBJECT", "FREQ", "k"}), "k");
  EXPECT_EQ(firstKeyOf(table_, {"OBJECT", "HELP"}), std::nullopt);
}

// ---- Policy -------------------------------------------------------------------------------

TEST(CommandPolicy, AllowsPlainReadsAndWrites) {
  const CommandPolicy policy = defaultPolicy();
  for (const std::vector<std::string_view>& argv :
       std::vector<std::vector<std::string_view>>{{"GET", "k"},
                                                  {"set", "k", "v"},
                                                  {"HGETALL", "h"},
                                                  {"HSET", "h", "f", "v"},
                                                  {"DEL", "a", "b"},
                                                  {"MGET", "a", "b"},
                                                  {"EXPIRE", "k", "10"},
                                                  {"TTL", "k"},
                                                  {"SCAN", "0"},
                                                  {"DBSIZE"},
                                                  {"PING"},
                                                  {"ECHO", "x"},
                                                  {"TIME"},
                                                  {"XADD", "s", "*", "f", "v"},
                                                  {"XRANGE", "s", "-", "+"},
                                                  {"OBJECT", "ENCODING", "k"},
                                                  {"XINFO", "STREAM", "s"},
                                                  {"COPY", "a", "b"},
                                                  {"INCR", "n"},
                                                  {"EXISTS", "a"}}) {
    const CommandDecision decision = policy.check(argv);
    EXPECT_TRUE(decision.allowed()) << argv[0] << ": " << verdictName(decision.verdict);
  }
}

TEST(CommandPolicy, WriteFlagDecidesRouting) {
  const CommandPolicy policy = defaultPolicy(/*allowScripts=*/true);
  EXPECT_TRUE(check(policy, {"SET", "k", "v"}).isWrite);
  EXPECT_TRUE(check(policy, {"DEL", "k"}).isWrite);
  EXPECT_TRUE(check(policy, {"XADD", "s", "*", "f", "v"}).isWrite);
  EXPECT_FALSE(check(policy, {"GET", "k"}).isWrite);
  EXPECT_FALSE(check(policy, {"HGETALL", "h"}).isWrite);
  EXPECT_FALSE(check(policy, {"OBJECT", "ENCODING", "k"}).isWrite);
  // Neither write nor readonly: a read.
  EXPECT_FALSE(check(policy, {"PING"}).isWrite);
  EXPECT_FALSE(check(policy, {"ECHO", "x"}).isWrite);
  EXPECT_FALSE(check(policy, {"TIME"}).isWrite);
  // Scripts may write unless they are the _RO variants.
  EXPECT_TRUE(check(policy, {"EVAL", "return 1", "0"}).isWrite);
  EXPECT_TRUE(check(policy, {"EVALSHA", "abc", "0"}).isWrite);
  EXPECT_TRUE(check(policy, {"FCALL", "f", "0"}).isWrite);
  EXPECT_FALSE(check(policy, {"EVAL_RO", "return 1", "0"}).isWrite);
  EXPECT_FALSE(check(policy, {"EVALSHA_RO", "abc", "0"}).isWrite);
  EXPECT_FALSE(check(policy, {"FCALL_RO", "f", "0"}).isWrite);
  // XREADGROUP without BLOCK is allowed and writes (it moves the group's cursor).
  const CommandDecision group = check(policy, {"XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"});
  EXPECT_TRUE(group.allowed());
  EXPECT_TRUE(group.isWrite);
}

TEST(CommandPolicy, MayReplicateCommandsRouteToThePrimary) {
  const std::vector<CommandSpecForTest> specs{{.name = "replicated", .arity = 1, .flags = {"may_replicate"}}};
  const CommandPolicy policy(makeCommandTableForTest(specs), false);
  const CommandDecision decision = check(policy, {"replicated"});
  EXPECT_TRUE(decision.allowed());
  EXPECT_TRUE(decision.isWrite);
}

TEST(CommandPolicy, RefusesAdminDangerousAndConnectionStateCommands) {
  const CommandPolicy policy = defaultPolicy();
  for (const std::vector<std::string_view>& argv :
       std::vector<std::vector<std::string_view>>{{"CONFIG", "GET", "maxmemory"},
                                                  {"CONFIG", "SET", "save", ""},
                                                  {"FLUSHALL"},
                                                  {"FLUSHDB"},
                                                  {"KEYS", "*"},
                                                  {"INFO"},
                                                  {"ROLE"},
                                                  {"SHUTDOWN"},
                                                  {"DEBUG", "SLEEP", "1"},
                                                  {"MULTI"},
                                                  {"EXEC"},
                                                  {"WATCH", "k"},
                                                  {"SELECT", "1"},
                                                  {"HELLO", "3"},
                                                  {"AUTH", "pw"},
                                                  {"CLIENT", "ID"},
                                                  {"CLIENT", "KILL", "ID", "1"},
                                                  {"SUBSCRIBE", "c"},
                                                  {"PUBLISH", "c", "m"},
                                                  {"BLPOP", "k", "0"},
                                                  {"BRPOP", "k", "0"},
                                                  {"BZPOPMIN", "z", "0"},
                                                  {"WAIT", "1", "0"},
                                                  {"MOVE", "k", "1"},
                                                  {"SORT", "k"},
                                                  {"MIGRATE", "h", "1", "k", "0", "1"},
                                                  {"COMMAND", "COUNT"},
                                                  {"MEMORY", "PURGE"},
                                                  {"FUNCTION", "LIST"},
                                                  {"SCRIPT", "FLUSH"},
                                                  {"EVAL", "return 1", "0"},
                                                  {"FCALL", "f", "0"},
                                                  {"COPY", "a", "b", "DB", "1"},
                                                  {"copy", "a", "b", "replace", "db", "2"}}) {
    const CommandDecision decision = policy.check(argv);
    EXPECT_EQ(decision.verdict, CommandVerdict::NotAllowed)
        << argv[0] << (argv.size() > 1 ? std::string(" ") + std::string(argv[1]) : "") << ": "
        << verdictName(decision.verdict);
  }
}

TEST(CommandPolicy, AllowScriptsEnablesEvalFcallAndTheScriptCacheButNotFlushKillOrFunction) {
  const CommandPolicy policy = defaultPolicy(/*allowScripts=*/true);
  EXPECT_TRUE(check(policy, {"EVAL", "return 1", "0"}).allowed());
  EXPECT_TRUE(check(policy, {"EVALSHA", "abc", "1", "k"}).allowed());
  EXPECT_TRUE(check(policy, {"EVAL_RO", "return 1", "0"}).allowed());
  EXPECT_TRUE(check(policy, {"EVALSHA_RO", "abc", "0"}).allowed());
  EXPECT_TRUE(check(policy, {"FCALL", "f", "0"}).allowed());
  EXPECT_TRUE(check(policy, {"FCALL_RO", "f", "0"}).allowed());
  EXPECT_EQ(check(policy, {"FUNCTION", "LOAD", "code"}).verdict, CommandVerdict::NotAllowed);
  EXPECT_EQ(check(policy, {"FUNCTION", "LIST"}).verdict, CommandVerdict::NotAllowed);
  // Upstash's Script helpers load and look up scripts; the cache lives on the primary.
  EXPECT_TRUE(check(policy, {"SCRIPT", "LOAD", "return 1"}).allowed());
  EXPECT_TRUE(check(policy, {"SCRIPT", "LOAD", "return 1"}).isWrite);
  EXPECT_TRUE(check(policy, {"SCRIPT", "EXISTS", "abc"}).allowed());
  EXPECT_EQ(check(policy, {"SCRIPT", "FLUSH"}).verdict, CommandVerdict::NotAllowed);
  EXPECT_EQ(check(policy, {"SCRIPT", "KILL"}).verdict, CommandVerdict::NotAllowed);

  const CommandPolicy without = defaultPolicy(/*allowScripts=*/false);
  EXPECT_EQ(check(without, {"SCRIPT", "LOAD", "return 1"}).verdict, CommandVerdict::NotAllowed);
  EXPECT_EQ(check(without, {"SCRIPT", "EXISTS", "abc"}).verdict, CommandVerdict::NotAllowed);
  const CommandPolicy denied = defaultPolicy(/*allowScripts=*/true, {}, {"script|load"});
  EXPECT_EQ(check(denied, {"SCRIPT", "LOAD", "return 1"}).verdict, CommandVerdict::NotAllowed);
  const CommandPolicy flush = defaultPolicy(/*allowScripts=*/true, {"script|flush"});
  EXPECT_TRUE(check(flush, {"SCRIPT", "FLUSH"}).allowed());
}

TEST(CommandTable, NoMultiFlagIsRead) {
  std::vector<CommandSpecForTest> specs{
      {.name = "shutdown", .arity = -1, .flags = {"admin", "no_multi"}},
      {.name = "get", .arity = 2, .flags = {"readonly"}, .firstKey = 1, .lastKey = 1, .keyStep = 1}};
  const CommandTable table = makeCommandTableForTest(specs);
  EXPECT_TRUE(table.find("shutdown")->isNoMulti);
  EXPECT_FALSE(table.find("get")->isNoMulti);
}

TEST(CommandPolicy, StreamReadsAreRefusedOnlyWhenTheyBlock) {
  const CommandPolicy policy = defaultPolicy();
  EXPECT_TRUE(check(policy, {"XREAD", "COUNT", "1", "STREAMS", "s", "0"}).allowed());
  EXPECT_EQ(check(policy, {"XREAD", "BLOCK", "0", "STREAMS", "s", "$"}).verdict, CommandVerdict::NotAllowed);
  EXPECT_EQ(check(policy, {"xread", "count", "1", "block", "10", "streams", "s", "$"}).verdict,
            CommandVerdict::NotAllowed);
  // A stream called "block" is a key, not the option.
  EXPECT_TRUE(check(policy, {"XREAD", "STREAMS", "block", "0"}).allowed());
  EXPECT_EQ(check(policy, {"XREADGROUP", "GROUP", "g", "c", "BLOCK", "5", "STREAMS", "s", ">"}).verdict,
            CommandVerdict::NotAllowed);
  // Even an explicit allow cannot make a blocking read pass.
  const CommandPolicy allowing = defaultPolicy(false, {"xread"});
  EXPECT_EQ(check(allowing, {"XREAD", "BLOCK", "0", "STREAMS", "s", "$"}).verdict, CommandVerdict::NotAllowed);
}

TEST(CommandPolicy, BlockingCategoryIsRefusedOnRedis6Tables) {
  RespValue blpop = array({bulk("blpop"), integer(-3), array({status("write"), status("noscript")}), integer(1),
                           integer(-2), integer(1), array({status("@write"), status("@list"), status("@blocking")})});
  RespValue bpop = blpop;
  bpop.elements[0] = bulk("bpopcustom");
  const CommandPolicy policy(CommandTable::fromCommandReply(array({blpop, bpop})), false,
                             std::vector<std::string>{"bpopcustom"}, {});
  EXPECT_EQ(check(policy, {"BLPOP", "k", "0"}).verdict, CommandVerdict::NotAllowed);
  EXPECT_EQ(check(policy, {"BPOPCUSTOM", "k", "0"}).verdict, CommandVerdict::NotAllowed);
}

TEST(CommandPolicy, ExtraAllowEnablesRefusedCommandsAndSubcommands) {
  const CommandPolicy policy = defaultPolicy(false, {"SORT", " config get ", "info"});
  EXPECT_TRUE(check(policy, {"SORT", "k"}).allowed());
  EXPECT_TRUE(check(policy, {"INFO", "replication"}).allowed());
  EXPECT_TRUE(check(policy, {"CONFIG", "GET", "maxmemory"}).allowed());
  EXPECT_EQ(check(policy, {"CONFIG", "SET", "maxmemory", "1"}).verdict, CommandVerdict::NotAllowed);
  EXPECT_EQ(check(policy, {"CONFIG", "NOSUCH"}).verdict, CommandVerdict::NotAllowed);

  const CommandPolicy pipeSpelling = defaultPolicy(false, {"Config|Get"});
  EXPECT_TRUE(check(pipeSpelling, {"config", "get", "x"}).allowed());
  // A container name covers all its subcommands.
  const CommandPolicy wholeContainer = defaultPolicy(false, {"config"});
  EXPECT_TRUE(check(wholeContainer, {"CONFIG", "SET", "maxmemory", "1"}).allowed());
}

TEST(CommandPolicy, ExtraAllowCannotEnableConnectionStateOrBlockingCommands) {
  const CommandPolicy policy =
      defaultPolicy(false, {"multi", "exec", "select", "client", "subscribe", "blpop", "wait", "client|id", "monitor"});
  EXPECT_EQ(check(policy, {"MULTI"}).verdict, CommandVerdict::NotAllowed);
  EXPECT_EQ(check(policy, {"SELECT", "1"}).verdict, CommandVerdict::NotAllowed);
  EXPECT_EQ(check(policy, {"CLIENT", "ID"}).verdict, CommandVerdict::NotAllowed);
  EXPECT_EQ(check(policy, {"SUBSCRIBE", "c"}).verdict, CommandVerdict::NotAllowed);
  EXPECT_EQ(check(policy, {"BLPOP", "k", "0"}).verdict, CommandVerdict::NotAllowed);
  EXPECT_EQ(check(policy, {"WAIT", "1", "0"}).verdict, CommandVerdict::NotAllowed);

  EXPECT_FALSE(CommandPolicy::canBeAllowed("MULTI"));
  EXPECT_FALSE(CommandPolicy::canBeAllowed("client id"));
  EXPECT_FALSE(CommandPolicy::canBeAllowed("client|kill"));
  EXPECT_FALSE(CommandPolicy::canBeAllowed("bzpopmin"));
  EXPECT_TRUE(CommandPolicy::canBeAllowed("sort"));
  EXPECT_TRUE(CommandPolicy::canBeAllowed("config get"));
  EXPECT_TRUE(CommandPolicy::canBeAllowed("flushall"));
}

TEST(CommandPolicy, ExtraDenyRefusesAndBeatsAllow) {
  const CommandPolicy policy = defaultPolicy(true, {"sort", "object"}, {"hgetall", "SORT", "eval", "object encoding"});
  EXPECT_EQ(check(policy, {"HGETALL", "h"}).verdict, CommandVerdict::NotAllowed);
  EXPECT_EQ(check(policy, {"SORT", "k"}).verdict, CommandVerdict::NotAllowed);
  EXPECT_EQ(check(policy, {"EVAL", "return 1", "0"}).verdict, CommandVerdict::NotAllowed);
  EXPECT_TRUE(check(policy, {"EVALSHA", "abc", "0"}).allowed());
  EXPECT_EQ(check(policy, {"OBJECT", "ENCODING", "k"}).verdict, CommandVerdict::NotAllowed);
  EXPECT_TRUE(check(policy, {"OBJECT", "FREQ", "k"}).allowed());
  EXPECT_TRUE(check(policy, {"GET", "k"}).allowed());
}

TEST(CommandPolicy, UnknownCommandsAndSubcommands) {
  const CommandPolicy policy = defaultPolicy();
  const CommandDecision unknown = check(policy, {"NOSUCHCMD", "x"});
  EXPECT_EQ(unknown.verdict, CommandVerdict::UnknownCommand);
  EXPECT_EQ(unknown.command, nullptr);

  const CommandDecision unknownSub = check(policy, {"OBJECT", "NOSUCH", "k"});
  EXPECT_EQ(unknownSub.verdict, CommandVerdict::UnknownSubcommand);
  ASSERT_NE(unknownSub.command, nullptr);
  EXPECT_EQ(unknownSub.command->name, "object");

  EXPECT_EQ(check(policy, {}).verdict, CommandVerdict::Empty);
}

TEST(CommandPolicy, ArityIsCheckedAgainstTheResolvedCommand) {
  const CommandPolicy policy = defaultPolicy();
  EXPECT_EQ(check(policy, {"GET"}).verdict, CommandVerdict::WrongArity);
  EXPECT_EQ(check(policy, {"GET", "a", "b"}).verdict, CommandVerdict::WrongArity);
  EXPECT_EQ(check(policy, {"SET", "k"}).verdict, CommandVerdict::WrongArity);
  EXPECT_TRUE(check(policy, {"SET", "k", "v", "NX", "PX", "100"}).allowed());
  EXPECT_EQ(check(policy, {"OBJECT", "ENCODING"}).verdict, CommandVerdict::WrongArity);
  EXPECT_EQ(check(policy, {"OBJECT"}).verdict, CommandVerdict::WrongArity);
  // A refused command is reported as refused, whatever its arguments.
  EXPECT_EQ(check(policy, {"CONFIG"}).verdict, CommandVerdict::NotAllowed);
  EXPECT_EQ(check(policy, {"FLUSHALL", "ASYNC", "x", "y"}).verdict, CommandVerdict::NotAllowed);
}

TEST(CommandPolicy, DecisionPointsAtTheSubcommandInfo) {
  const CommandPolicy policy = defaultPolicy();
  const CommandDecision decision = check(policy, {"xinfo", "STREAM", "s"});
  ASSERT_TRUE(decision.allowed());
  ASSERT_NE(decision.command, nullptr);
  EXPECT_EQ(decision.command->name, "xinfo|stream");
  EXPECT_TRUE(decision.command->isReadonly);
}

TEST(CommandPolicy, RefusalMessagesNameTheCommand) {
  const CommandPolicy policy = defaultPolicy();
  std::vector<std::string_view> argv{"config", "get", "x"};
  const std::string refused = refusalMessage(policy.check(argv), argv);
  EXPECT_NE(refused.find("'CONFIG GET' is not allowed"), std::string::npos) << refused;

  argv = {"get"};
  const std::string arity = refusalMessage(policy.check(argv), argv);
  EXPECT_NE(arity.find("'GET'"), std::string::npos) << arity;
  EXPECT_NE(arity.find("exactly 2"), std::string::npos) << arity;

  argv = {"nosuch\x01\xff"};
  const std::string unknown = refusalMessage(policy.check(argv), argv);
  EXPECT_NE(unknown.find("'NOSUCH?"
                         "?'"),
            std::string::npos)
      << unknown;

  argv = {"get", "k"};
  EXPECT_EQ(refusalMessage(policy.check(argv), argv), "");
}

TEST(CommandPolicy, VerdictNamesAreStable) {
  EXPECT_EQ(verdictName(CommandVerdict::Allowed), "allowed");
  EXPECT_EQ(verdictName(CommandVerdict::Empty), "empty");
  EXPECT_EQ(verdictName(CommandVerdict::UnknownCommand), "unknown_command");
  EXPECT_EQ(verdictName(CommandVerdict::UnknownSubcommand), "unknown_subcommand");
  EXPECT_EQ(verdictName(CommandVerdict::NotAllowed), "not_allowed");
  EXPECT_EQ(verdictName(CommandVerdict::WrongArity), "wrong_arity");
}

}  // namespace
}  // namespace cx::backends
