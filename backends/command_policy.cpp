// The POST /v1/cmd allow-list (README "HTTP API") over the COMMAND table: which commands
// are never allowed, which are refused by name, flag or category, which must go to the
// primary, and how a refusal is named.
#include <algorithm>
#include <array>
#include <span>
#include <string>
#include <string_view>

#include "backends/command_table.h"
#include "backends/text.h"

namespace cx::backends {
namespace {

using text::iequals;
using text::lowerCopy;

// ---- Policy lists -------------------------------------------------------------------

// Never allowed, whatever the configuration says: they change the state of the shared,
// pipelined backend connection or block it.
constexpr std::string_view kNeverAllowed[] = {
    "multi",      "exec",        "discard",      "watch",        "unwatch",  "subscribe", "psubscribe",
    "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", "monitor",  "hello",     "select",
    "client",     "auth",        "reset",        "quit",         "readonly", "readwrite", "asking",
    "sync",       "psync",       "replconf",     "wait",         "waitaof",  "blpop",     "brpop",
    "brpoplpush", "blmove",      "blmpop",       "bzpopmin",     "bzpopmax", "bzmpop",
};

// Refused by default; an extra allow list may enable them. Most also carry the "admin" flag
// or the @dangerous category; the names cover servers that report neither (Redis < 6).
// clang-format off
constexpr std::string_view kRefusedByName[] = {
    // server administration and persistence
    "config", "debug", "shutdown", "save", "bgsave", "bgrewriteaof", "lastsave", "info", "role",
    "acl", "module", "latency", "slowlog", "command", "pfdebug", "pfselftest",
    "memory|purge", "memory|doctor", "memory|malloc-stats", "memory|stats",
    // replication and cluster topology
    "replicaof", "slaveof", "failover", "cluster",
    // whole keyspace, other databases, other servers
    "flushall", "flushdb", "keys", "swapdb", "move", "migrate", "restore", "restore-asking",
    // SORT ... BY/GET reads keys named by data
    "sort", "sort_ro",
    // server-side code management
    "script", "function",
    // pub/sub publishing
    "publish", "spublish", "pubsub",
};
// clang-format on

constexpr std::string_view kScripts[] = {"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"};
constexpr std::string_view kWritingScripts[] = {"eval", "evalsha", "fcall"};
// The script cache commands Upstash's clients use (Script helpers), allowed with scripts.
constexpr std::string_view kScriptCacheCommands[] = {"script|load", "script|exists"};

bool contains(std::span<const std::string_view> list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// Lower case, surrounding blanks trimmed, "config get" spelled "config|get".
std::string normaliseName(std::string_view name) {
  std::string out = lowerCopy(text::trim(name));
  for (char& c : out) {
    if (c == ' ' || c == '\t') c = '|';
  }
  return out;
}

// XREAD and XREADGROUP block only with a BLOCK option, which comes before STREAMS.
bool streamReadBlocks(std::span<const std::string_view> argv) {
  for (std::size_t i = 1; i < argv.size(); ++i) {
    if (iequals(argv[i], "streams")) return false;
    if (iequals(argv[i], "block")) return true;
  }
  return false;
}

bool blocksConnection(const CommandInfo& info, std::span<const std::string_view> argv) {
  if (!info.isBlocking && !info.inBlockingCategory) return false;
  if (info.name == "xread" || info.name == "xreadgroup") return streamReadBlocks(argv);
  return true;
}

bool neverAllowed(const CommandInfo& container, const CommandInfo& resolved, std::span<const std::string_view> argv) {
  return contains(kNeverAllowed, container.name) || contains(kNeverAllowed, resolved.name) ||
         blocksConnection(container, argv) || blocksConnection(resolved, argv);
}

bool refusedByFlagsOrCategory(const CommandInfo& info) {
  if (info.isAdmin || info.isPubsub) return true;
  if (info.inDangerousCategory || info.inTransactionCategory || info.inPubsubCategory) {
    return true;
  }
  if (info.inConnectionCategory && info.name != "ping" && info.name != "echo") return true;
  return false;
}

// COPY source destination DB n writes into another logical database.
bool copiesAcrossDatabases(const CommandInfo& info, std::span<const std::string_view> argv) {
  if (info.name != "copy") return false;
  for (std::size_t i = 3; i < argv.size(); ++i) {
    if (iequals(argv[i], "db")) return true;
  }
  return false;
}

bool routesToPrimary(const CommandInfo& info) {
  if (info.isWrite || info.mayReplicate) return true;
  const bool script = info.inScriptingCategory || contains(kWritingScripts, info.name);
  return script && !info.isReadonly;
}

// Upper-cased, printable rendering of a user-supplied command name for messages.
std::string displayName(std::string_view name) {
  constexpr std::size_t kMaxShown = 64;
  std::string out;
  for (std::size_t i = 0; i < name.size() && i < kMaxShown; ++i) {
    const char c = name[i];
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(text::upper(c));
    } else {
      out.push_back('?');
    }
  }
  if (name.size() > kMaxShown) out += "...";
  return out;
}

}  // namespace

// ---- CommandPolicy --------------------------------------------------------------------

std::string_view verdictName(CommandVerdict verdict) {
  switch (verdict) {
    case CommandVerdict::Allowed: return "allowed";
    case CommandVerdict::Empty: return "empty";
    case CommandVerdict::UnknownCommand: return "unknown_command";
    case CommandVerdict::UnknownSubcommand: return "unknown_subcommand";
    case CommandVerdict::NotAllowed: return "not_allowed";
    case CommandVerdict::WrongArity: return "wrong_arity";
  }
  return "unknown";
}

CommandPolicy::CommandPolicy(CommandTable table, bool allowScripts, std::span<const std::string> extraAllow,
                             std::span<const std::string> extraDeny)
    : table_(std::move(table)), allowScripts_(allowScripts) {
  for (const std::string& name : extraAllow) extraAllow_.insert(normaliseName(name));
  for (const std::string& name : extraDeny) extraDeny_.insert(normaliseName(name));
}

bool CommandPolicy::canBeAllowed(std::string_view name) {
  const std::string normal = normaliseName(name);
  const std::string_view container = std::string_view(normal).substr(0, normal.find('|'));
  return !contains(kNeverAllowed, normal) && !contains(kNeverAllowed, container);
}

bool CommandPolicy::allowedByDefault(const CommandInfo& container, const CommandInfo& resolved,
                                     std::span<const std::string_view> argv) const {
  if (contains(kScriptCacheCommands, resolved.name)) return allowScripts_;
  if (contains(kRefusedByName, container.name) || contains(kRefusedByName, resolved.name)) {
    return false;
  }
  if (contains(kScripts, container.name)) return allowScripts_;
  if (refusedByFlagsOrCategory(container) || refusedByFlagsOrCategory(resolved)) return false;
  if (copiesAcrossDatabases(resolved, argv)) return false;
  return true;
}

CommandDecision CommandPolicy::check(std::span<const std::string_view> argv) const {
  CommandDecision decision;
  if (argv.empty()) return decision;  // Empty

  const CommandInfo* container = table_.find(argv[0]);
  if (container == nullptr) {
    decision.verdict = CommandVerdict::UnknownCommand;
    return decision;
  }

  auto permitted = [&](const CommandInfo& resolved) {
    if (neverAllowed(*container, resolved, argv)) return false;
    if (extraDeny_.contains(container->name) || extraDeny_.contains(resolved.name)) return false;
    if (extraAllow_.contains(container->name) || extraAllow_.contains(resolved.name)) return true;
    return allowedByDefault(*container, resolved, argv);
  };

  const CommandInfo* resolved = container;
  if (container->hasSubcommands()) {
    const CommandInfo* sub = argv.size() >= 2 ? CommandTable::findSubcommand(*container, argv[1]) : nullptr;
    if (sub == nullptr) {
      // Without a subcommand only the container can be judged; refuse before explaining.
      decision.command = container;
      decision.isWrite = routesToPrimary(*container);
      if (!permitted(*container)) {
        decision.verdict = CommandVerdict::NotAllowed;
      } else {
        decision.verdict = argv.size() < 2 ? CommandVerdict::WrongArity : CommandVerdict::UnknownSubcommand;
      }
      return decision;
    }
    resolved = sub;
  }

  decision.command = resolved;
  decision.isWrite = routesToPrimary(*resolved) || routesToPrimary(*container);
  if (!permitted(*resolved)) {
    decision.verdict = CommandVerdict::NotAllowed;
  } else if (!resolved->arityAccepts(argv.size())) {
    decision.verdict = CommandVerdict::WrongArity;
  } else {
    decision.verdict = CommandVerdict::Allowed;
  }
  return decision;
}

std::string refusalMessage(const CommandDecision& decision, std::span<const std::string_view> argv) {
  std::string shown = argv.empty() ? std::string() : displayName(argv[0]);
  if (decision.command != nullptr && decision.command->name.find('|') != std::string::npos && argv.size() >= 2) {
    shown += ' ';
    shown += displayName(argv[1]);
  }
  switch (decision.verdict) {
    case CommandVerdict::Allowed: return {};
    case CommandVerdict::Empty: return "the command array is empty; send [\"NAME\", \"arg\", ...]";
    case CommandVerdict::UnknownCommand:
      return "unknown command '" + shown + "': the backend's COMMAND table does not list it";
    case CommandVerdict::UnknownSubcommand:
      return "unknown subcommand '" + (argv.size() >= 2 ? displayName(argv[1]) : std::string()) + "' for '" + shown +
             "'";
    case CommandVerdict::NotAllowed:
      return "'" + shown +
             "' is not allowed through cxproxy: admin, dangerous, blocking, pub/sub, "
             "transaction, connection-state and (unless enabled) script commands are refused; "
             "run it against Redis directly";
    case CommandVerdict::WrongArity: {
      std::string message = "wrong number of arguments for '" + shown + "'";
      if (decision.command != nullptr) {
        const int arity = decision.command->arity;
        message +=
            arity >= 0 ? " (expects exactly " + std::to_string(arity) : " (expects at least " + std::to_string(-arity);
        message += " including the command name)";
      }
      return message;
    }
  }
  return {};
}

}  // namespace cx::backends
