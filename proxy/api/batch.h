// Batches of Redis commands (README "Batches and transactions"): the JSON bodies of
// POST /v1/pipeline, /v1/multi and Upstash's /pipeline and /multi-exec parsed into
// argument lists, and the plan a batch runs by: whether it must go to the primary, the
// keys its rules are matched on, or why it is refused before anything is sent.
// Pure functions of their arguments: no worker, socket or Redis.
#pragma once

#include <boost/json/fwd.hpp>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "backends/command_table.h"
#include "routing/level.h"
#include "routing/rules.h"

namespace cx::proxy {

using Argv = std::vector<std::string>;

// Why a request was refused: a 400 bad_request, a 413 when the batch has more commands
// than the limit allows, or a 405 when `allow` (the methods the path takes) is set.
struct BodyError {
  bool tooManyCommands = false;
  std::string message;
  std::string_view allow;
};

// One command's JSON array ["SET", "a", 1] into argv. Strings are used as their UTF-8
// bytes, numbers and booleans as their JSON text (1, 1.5, true: what a JavaScript client
// means by them), {"base64": "..."} as the bytes it encodes. nullopt on success, else
// what is wrong with it; `position` names the array in the message (0: "the command",
// n: "command n of the batch").
std::optional<std::string> argvFromJson(const boost::json::value& command, std::size_t position, Argv& argv);

// A body that is one command: ["GET", "key"].
std::variant<Argv, BodyError> parseCommandJson(std::string_view body);

// A body that is a batch: [["SET", "a", "1"], ["GET", "a"]], 1..maxCommands commands.
std::variant<std::vector<Argv>, BodyError> parseBatchJson(std::string_view body, std::size_t maxCommands);

// SCAN, HSCAN, SSCAN, ZSCAN (`name` as the command table spells it: lower case).
bool isCursorCommand(std::string_view name);

// How a batch runs: Pipeline (one pipelined write, every reply in its place) or Multi
// (MULTI ... EXEC: atomic, all or nothing).
enum class BatchKind : std::uint8_t { Pipeline, Multi };

struct PlannedCommand {
  std::string name;  // upper case, for rule matching and metrics
  bool isWrite = false;
  // The key arguments, views into the batch's argv (which must outlive the plan). A
  // command without keys is matched against the rules with an empty key.
  std::vector<std::string_view> keys;
};

struct BatchPlan {
  bool isWrite = false;  // a command writes: the whole batch runs on the primary
  // A cursor (SCAN, HSCAN, SSCAN, ZSCAN) means something only on the node that issued
  // it: a read-only batch with one is served by the primary.
  bool needsPrimary = false;
  bool hasScript = false;  // EVAL*, FCALL*: a replica may answer NOSCRIPT
  std::vector<PlannedCommand> commands;
};

struct BatchRefusal {
  std::size_t index = 0;    // the refused command, from 0
  bool notAllowed = false;  // refused by policy (403 command_not_allowed); else malformed (400)
  std::string message;
};

// Checks every command against the policy (a batch is refused whole when one command
// is) and, for Multi, refuses what cannot run inside a transaction.
std::variant<BatchPlan, BatchRefusal> planBatch(std::span<const Argv> commands, BatchKind kind,
                                                const backends::CommandPolicy& policy);

// The one consistency decision of a batch: every key of every command is matched
// against the rules (method "POST", the command's name), each match gives a level (the
// rule's, or the header's where the rule lets it), and the batch gets the strongest of
// them, so the node it is served by qualifies for every key. The policy that gave that
// level governs on_stale; max_staleness is the smallest any rule names; the batch may be
// relaxed under load only if every rule allows it, never below the strongest floor.
struct BatchPolicy {
  routing::Policy policy;
  const routing::Rule* rule = nullptr;  // the governing rule; nullptr: consistency.default
  routing::Level level = routing::Level::Session;
  bool headerOverridden = false;  // a rule refused the header's level (override)
};
BatchPolicy batchPolicy(const BatchPlan& plan, const routing::RuleList& rules, const routing::Policy& defaultPolicy,
                        std::optional<routing::Level> requested);

}  // namespace cx::proxy
