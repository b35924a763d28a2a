// Test fixtures: COMMAND entries in Redis 7's reply shape, so tests can make tables from
// a handful of commands and still go through CommandTable::fromCommandReply.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backends/command_table.h"
#include "backends/resp.h"

namespace cx::backends {

struct CommandSpecForTest {
  std::string name;
  int arity = 0;
  std::vector<std::string> flags;  // "write", "readonly", "admin", ...
  int firstKey = 0;
  int lastKey = 0;
  int keyStep = 0;
  std::vector<std::string> aclCategories;  // "@read", "@dangerous", ...
  std::vector<CommandSpecForTest> subcommands;
  // Raw key-spec entries; when empty and firstKey > 0, one index/range spec equivalent to
  // the legacy fields is generated, as Redis 7 does.
  std::vector<RespValue> keySpecs;
};

// One entry of the COMMAND reply (10 elements, Redis 7 shape).
RespValue makeCommandEntryForTest(const CommandSpecForTest& spec);
// A whole COMMAND reply and the table parsed from it.
RespValue makeCommandReplyForTest(std::span<const CommandSpecForTest> specs);
CommandTable makeCommandTableForTest(std::span<const CommandSpecForTest> specs);
// Key-spec builders in the reply's shape, for CommandSpecForTest::keySpecs.
RespValue makeIndexRangeKeySpecForTest(int index, int lastKey, int keyStep, int limit);
RespValue makeIndexKeynumKeySpecForTest(int index, int keyNumIndex, int firstKey, int keyStep);
RespValue makeKeywordRangeKeySpecForTest(std::string_view keyword, int startFrom, int lastKey, int keyStep, int limit);
// A representative slice of Redis 7.0's table: plain reads and writes, containers
// (OBJECT, CONFIG, CLIENT, XINFO), scripts, blocking, pub/sub, transaction, admin and
// dangerous commands. For tests of components that need a realistic policy.
std::vector<CommandSpecForTest> redisCommandsForTest();

}  // namespace cx::backends
