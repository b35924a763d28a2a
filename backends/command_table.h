// What the backend's `COMMAND` reply says about each command (arity, flags, where the keys
// are), and the allow-list that decides which commands POST /v1/cmd may run (README "HTTP API").
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "backends/resp.h"

namespace cx::backends {

// One Redis 7 key specification: where to start looking (begin_search) and how to walk
// from there (find_keys). Mirrors the COMMAND reply; see Redis's "key specifications" doc.
struct KeySpec {
  enum class Begin : std::uint8_t { Index, Keyword, Unknown };
  enum class Find : std::uint8_t { Range, Keynum, Unknown };

  Begin begin = Begin::Unknown;
  int index = 0;        // Begin::Index: argv position of the first key
  std::string keyword;  // Begin::Keyword: the key follows this token (e.g. "STREAMS")
  int startFrom = 0;    // Begin::Keyword: search from here; negative counts from the end

  Find find = Find::Unknown;
  int lastKey = 0;      // Find::Range: last key relative to the first; negative from the end
  int keyStep = 1;      // Range and Keynum
  int limit = 0;        // Find::Range with negative lastKey: use 1/limit of the rest
  int keyNumIndex = 0;  // Find::Keynum: where the key count is, relative to the begin
  int firstKey = 1;     // Find::Keynum: first key, relative to the begin
};

// One command or subcommand as the server describes it. Subcommand names are
// "container|sub" (e.g. "object|encoding") and their positions count the container.
struct CommandInfo {
  std::string name;  // lower case
  int arity = 0;     // N: exactly N arguments including the name; -N: at least N

  // Legacy key positions (Redis < 7 and the 7.x summary): 0 when the command takes none
  // or they move (movableKeys); lastKey < 0 counts from the end.
  int firstKey = 0;
  int lastKey = 0;
  int keyStep = 0;
  std::vector<KeySpec> keySpecs;  // Redis >= 7; preferred over the legacy fields

  // Command flags.
  bool isWrite = false;       // "write"
  bool isReadonly = false;    // "readonly"
  bool isAdmin = false;       // "admin"
  bool isNoscript = false;    // "noscript"
  bool isBlocking = false;    // "blocking"
  bool isPubsub = false;      // "pubsub"
  bool isFast = false;        // "fast"
  bool mayReplicate = false;  // "may_replicate"
  bool movableKeys = false;   // "movablekeys"
  bool isNoMulti = false;     // "no_multi": refused inside MULTI

  // ACL categories (Redis >= 6).
  bool inDangerousCategory = false;    // @dangerous
  bool inConnectionCategory = false;   // @connection
  bool inTransactionCategory = false;  // @transaction
  bool inScriptingCategory = false;    // @scripting
  bool inBlockingCategory = false;     // @blocking
  bool inPubsubCategory = false;       // @pubsub

  std::vector<CommandInfo> subcommands;  // empty unless a container such as OBJECT

  bool hasSubcommands() const { return !subcommands.empty(); }
  // Whether argc arguments (including the name) satisfy the arity.
  bool arityAccepts(std::size_t argc) const;
};

// The first key argument of argv for the command info describes (argv[0] is the command
// name; for a subcommand argv[1] is the subcommand), or nullopt if it has none. Uses the
// key specs when present (so EVAL, XREAD, ZUNIONSTORE find theirs), the legacy fields
// otherwise. The view points into argv.
std::optional<std::string_view> firstKey(const CommandInfo& info, std::span<const std::string_view> argv);

// Every key argument of argv, in argument order, without duplicates. Same rules as firstKey.
std::vector<std::string_view> keyArguments(const CommandInfo& info, std::span<const std::string_view> argv);

// The server's command table. Immutable once built; share it (or the policy that owns it)
// across workers as a const snapshot.
class CommandTable {
 public:
  // Builds from the reply to `COMMAND` (an array of entries, Redis 5 to 7 shapes).
  // Malformed entries are skipped; an error or non-array reply gives an empty table, so
  // check empty() before relying on it.
  static CommandTable fromCommandReply(const RespValue& reply);

  // Case-insensitive lookup of a top-level command; nullptr when unknown.
  const CommandInfo* find(std::string_view name) const;
  // The subcommand of container called sub ("encoding" for OBJECT), case-insensitive;
  // nullptr when unknown.
  static const CommandInfo* findSubcommand(const CommandInfo& container, std::string_view sub);
  // The info that governs argv: the subcommand when argv[0] is a container and argv[1] names
  // one of its subcommands, else the command itself; nullptr when argv[0] is unknown.
  const CommandInfo* resolve(std::span<const std::string_view> argv) const;

  std::size_t size() const { return commands_.size(); }
  bool empty() const { return commands_.empty(); }

  void add(CommandInfo info);

 private:
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const;
  };
  struct NameEqual {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const;
  };
  std::unordered_map<std::string, CommandInfo, NameHash, NameEqual> commands_;
};

// Why a command was refused, or Allowed.
enum class CommandVerdict : std::uint8_t {
  Allowed,
  Empty,              // no command name at all
  UnknownCommand,     // the server does not know argv[0]
  UnknownSubcommand,  // argv[0] is a container and argv[1] is not one of its subcommands
  NotAllowed,         // refused by the allow-list
  WrongArity,         // wrong number of arguments for the command
};

// Stable snake_case name for logs and metric labels: "allowed", "unknown_command", ...
std::string_view verdictName(CommandVerdict verdict);

struct CommandDecision {
  CommandVerdict verdict = CommandVerdict::Empty;
  // Route to the primary. True for "write" and "may_replicate" commands and for scripts
  // that are not *_RO; a command that is neither write nor readonly (PING, TIME) is a read.
  bool isWrite = false;
  // The info that governed the decision (the subcommand's for containers); nullptr for
  // Empty and UnknownCommand. Points into the policy's table: valid while the policy lives.
  const CommandInfo* command = nullptr;

  bool allowed() const { return verdict == CommandVerdict::Allowed; }
};

// Which commands clients may run through POST /v1/cmd.
//
// The proxy shares pipelined backend connections between requests, so anything that
// changes connection state (MULTI, SELECT, AUTH, CLIENT, SUBSCRIBE, READONLY, ...) or
// blocks the connection (BLPOP, XREAD BLOCK, WAIT, MONITOR) would corrupt other requests:
// those are refused and the extra allow list cannot enable them (see canBeAllowed).
// Also refused by default, but allowable: "admin" and "pubsub" commands, the @dangerous
// ACL category (KEYS, INFO, SORT, FLUSHALL, CONFIG, ...), cross-database and replication
// commands (MOVE, SWAPDB, MIGRATE, COPY ... DB), SCRIPT/FUNCTION, the cluster, module, acl,
// latency and slowlog families, and EVAL/EVALSHA/FCALL (+ _RO), SCRIPT LOAD and SCRIPT
// EXISTS unless allowScripts (SCRIPT FLUSH|KILL and FUNCTION management stay refused).
//
// Extra lists name commands as "get", or subcommands as "config|get" or "config get",
// case-insensitively; a container name covers all its subcommands. Deny beats allow.
//
// Immutable after construction; share across workers as shared_ptr<const CommandPolicy>.
class CommandPolicy {
 public:
  CommandPolicy(CommandTable table, bool allowScripts, std::span<const std::string> extraAllow,
                std::span<const std::string> extraDeny);
  CommandPolicy(CommandTable table, bool allowScripts) : CommandPolicy(std::move(table), allowScripts, {}, {}) {}

  CommandDecision check(std::span<const std::string_view> argv) const;

  const CommandTable& table() const { return table_; }

  // False for commands no configuration may allow (connection state, blocking); use it
  // to validate an extra allow list at config time. Accepts the same spellings.
  static bool canBeAllowed(std::string_view name);

 private:
  bool allowedByDefault(const CommandInfo& container, const CommandInfo& resolved,
                        std::span<const std::string_view> argv) const;

  CommandTable table_;
  bool allowScripts_;
  std::unordered_set<std::string> extraAllow_;  // normalised: lower case, '|' separator
  std::unordered_set<std::string> extraDeny_;
};

// A user-facing sentence for a refusal, for the HTTP error body's "message"; empty when
// the decision allowed the command.
std::string refusalMessage(const CommandDecision& decision, std::span<const std::string_view> argv);

}  // namespace cx::backends
