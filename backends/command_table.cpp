// Parses Redis's COMMAND reply into a lookup table and finds key arguments from key
// specs. The allow-list built on it is command_policy.cpp.
#include "backends/command_table.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <utility>

#include "backends/text.h"

namespace cx::backends {
namespace {

using text::iequals;
using text::lowerCopy;

// ---- Reply parsing ------------------------------------------------------------------

bool isArray(const RespValue& v) { return v.type == RespType::Array; }

// Value of key in a RESP2 flat map ([k1, v1, k2, v2, ...]); nullptr if absent.
const RespValue* mapGet(const RespValue& map, std::string_view key) {
  if (!isArray(map)) return nullptr;
  for (std::size_t i = 0; i + 1 < map.elements.size(); i += 2) {
    const RespValue& k = map.elements[i];
    if (k.isString() && iequals(k.str, key)) return &map.elements[i + 1];
  }
  return nullptr;
}

int mapInt(const RespValue& map, std::string_view key, int fallback) {
  const RespValue* v = mapGet(map, key);
  if (v == nullptr || v->type != RespType::Integer) return fallback;
  if (v->integer < std::numeric_limits<int>::min() || v->integer > std::numeric_limits<int>::max()) {
    return fallback;
  }
  return static_cast<int>(v->integer);
}

std::string_view mapString(const RespValue& map, std::string_view key) {
  const RespValue* v = mapGet(map, key);
  return (v != nullptr && v->isString()) ? std::string_view(v->str) : std::string_view();
}

bool toInt(const RespValue& v, int& out) {
  if (v.type != RespType::Integer) return false;
  if (v.integer < std::numeric_limits<int>::min() || v.integer > std::numeric_limits<int>::max()) {
    return false;
  }
  out = static_cast<int>(v.integer);
  return true;
}

// Parses one key spec; returns false for specs to ignore (not_key, unreadable).
bool parseKeySpec(const RespValue& raw, KeySpec& spec) {
  if (!isArray(raw)) return false;
  if (const RespValue* flags = mapGet(raw, "flags"); flags != nullptr && isArray(*flags)) {
    for (const RespValue& f : flags->elements) {
      if (f.isString() && iequals(f.str, "not_key")) return false;
    }
  }
  const RespValue* begin = mapGet(raw, "begin_search");
  const RespValue* find = mapGet(raw, "find_keys");
  if (begin == nullptr || find == nullptr) return false;

  std::string_view beginType = mapString(*begin, "type");
  const RespValue* beginSpec = mapGet(*begin, "spec");
  if (iequals(beginType, "index") && beginSpec != nullptr) {
    spec.begin = KeySpec::Begin::Index;
    spec.index = mapInt(*beginSpec, "index", 0);
  } else if (iequals(beginType, "keyword") && beginSpec != nullptr) {
    spec.begin = KeySpec::Begin::Keyword;
    spec.keyword = std::string(mapString(*beginSpec, "keyword"));
    spec.startFrom = mapInt(*beginSpec, "startfrom", 0);
  } else {
    spec.begin = KeySpec::Begin::Unknown;
  }

  std::string_view findType = mapString(*find, "type");
  const RespValue* findSpec = mapGet(*find, "spec");
  if (iequals(findType, "range") && findSpec != nullptr) {
    spec.find = KeySpec::Find::Range;
    spec.lastKey = mapInt(*findSpec, "lastkey", 0);
    spec.keyStep = mapInt(*findSpec, "keystep", 1);
    spec.limit = mapInt(*findSpec, "limit", 0);
  } else if (iequals(findType, "keynum") && findSpec != nullptr) {
    spec.find = KeySpec::Find::Keynum;
    spec.keyNumIndex = mapInt(*findSpec, "keynumidx", 0);
    spec.firstKey = mapInt(*findSpec, "firstkey", 1);
    spec.keyStep = mapInt(*findSpec, "keystep", 1);
  } else {
    spec.find = KeySpec::Find::Unknown;
  }
  return true;
}

void applyFlag(CommandInfo& info, std::string_view flag) {
  struct FlagField {
    std::string_view name;
    bool CommandInfo::*field;
  };
  static constexpr std::array<FlagField, 10> kFlags{{
      {"write", &CommandInfo::isWrite},
      {"readonly", &CommandInfo::isReadonly},
      {"admin", &CommandInfo::isAdmin},
      {"noscript", &CommandInfo::isNoscript},
      {"blocking", &CommandInfo::isBlocking},
      {"pubsub", &CommandInfo::isPubsub},
      {"fast", &CommandInfo::isFast},
      {"may_replicate", &CommandInfo::mayReplicate},
      {"movablekeys", &CommandInfo::movableKeys},
      {"no_multi", &CommandInfo::isNoMulti},
  }};
  for (const FlagField& f : kFlags) {
    if (iequals(flag, f.name)) info.*(f.field) = true;
  }
}

void applyCategory(CommandInfo& info, std::string_view category) {
  if (!category.empty() && category.front() == '@') category.remove_prefix(1);
  struct CategoryField {
    std::string_view name;
    bool CommandInfo::*field;
  };
  static constexpr std::array<CategoryField, 6> kCategories{{
      {"dangerous", &CommandInfo::inDangerousCategory},
      {"connection", &CommandInfo::inConnectionCategory},
      {"transaction", &CommandInfo::inTransactionCategory},
      {"scripting", &CommandInfo::inScriptingCategory},
      {"blocking", &CommandInfo::inBlockingCategory},
      {"pubsub", &CommandInfo::inPubsubCategory},
  }};
  for (const CategoryField& c : kCategories) {
    if (iequals(category, c.name)) info.*(c.field) = true;
  }
}

// One COMMAND entry: [name, arity, flags, first, last, step] (Redis >= 2.8),
// + [acl categories] (6.0), + [tips, key specs, subcommands] (7.0).
bool parseEntry(const RespValue& entry, CommandInfo& info) {
  if (!isArray(entry) || entry.elements.size() < 6) return false;
  const std::vector<RespValue>& e = entry.elements;
  if (!e[0].isString() || e[0].str.empty()) return false;
  if (!toInt(e[1], info.arity) || !isArray(e[2])) return false;
  if (!toInt(e[3], info.firstKey) || !toInt(e[4], info.lastKey) || !toInt(e[5], info.keyStep)) {
    return false;
  }
  info.name = lowerCopy(e[0].str);
  for (const RespValue& flag : e[2].elements) {
    if (flag.isString()) applyFlag(info, flag.str);
  }
  if (e.size() > 6 && isArray(e[6])) {
    for (const RespValue& category : e[6].elements) {
      if (category.isString()) applyCategory(info, category.str);
    }
  }
  if (e.size() > 8 && isArray(e[8])) {
    for (const RespValue& raw : e[8].elements) {
      KeySpec spec;
      if (parseKeySpec(raw, spec)) info.keySpecs.push_back(std::move(spec));
    }
  }
  if (e.size() > 9 && isArray(e[9])) {
    for (const RespValue& raw : e[9].elements) {
      CommandInfo sub;
      if (parseEntry(raw, sub)) info.subcommands.push_back(std::move(sub));
    }
  }
  return true;
}

// ---- Key positions ------------------------------------------------------------------

struct KeyRange {
  std::size_t first;
  std::size_t last;  // inclusive, >= first, < argc
  std::size_t step;  // >= 1
};

bool parseCount(std::string_view text, long long& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

// The range one key spec selects in argv, following Redis's getKeysUsingKeySpecs; nullopt
// when the spec selects nothing (keyword absent, zero keys, out of bounds).
std::optional<KeyRange> rangeOf(const KeySpec& spec, std::span<const std::string_view> argv) {
  const long long argc = static_cast<long long>(argv.size());
  long long first = 0;
  switch (spec.begin) {
    case KeySpec::Begin::Index: first = spec.index; break;
    case KeySpec::Begin::Keyword: {
      const long long start = spec.startFrom > 0 ? spec.startFrom : argc + spec.startFrom;
      const long long end = spec.startFrom > 0 ? argc - 1 : 0;
      for (long long i = start; i != end; i = start <= end ? i + 1 : i - 1) {
        if (i >= argc || i < 0) break;
        if (iequals(argv[static_cast<std::size_t>(i)], spec.keyword)) {
          first = i + 1;
          break;
        }
      }
      if (first == 0) return std::nullopt;
      break;
    }
    case KeySpec::Begin::Unknown: return std::nullopt;
  }

  long long last = 0;
  long long step = spec.keyStep;
  switch (spec.find) {
    case KeySpec::Find::Range:
      if (spec.lastKey >= 0) {
        last = first + spec.lastKey;
      } else if (spec.limit <= 0) {
        last = argc + spec.lastKey;
      } else {
        last = first + ((argc - first) / spec.limit + spec.lastKey);
      }
      break;
    case KeySpec::Find::Keynum: {
      const long long countAt = first + spec.keyNumIndex;
      if (countAt < 0 || countAt >= argc) return std::nullopt;
      long long numKeys = 0;
      if (!parseCount(argv[static_cast<std::size_t>(countAt)], numKeys) || numKeys <= 0 || numKeys > argc) {
        return std::nullopt;
      }
      first += spec.firstKey;
      last = first + (numKeys - 1) * std::max<long long>(step, 1);
      break;
    }
    case KeySpec::Find::Unknown: return std::nullopt;
  }
  if (first < 1 || first >= argc || last >= argc || last < first) return std::nullopt;
  return KeyRange{static_cast<std::size_t>(first), static_cast<std::size_t>(last),
                  static_cast<std::size_t>(std::max<long long>(step, 1))};
}

// Redis < 7: firstKey/lastKey/keyStep, lastKey negative from the end.
std::optional<KeyRange> legacyRange(const CommandInfo& info, std::span<const std::string_view> argv) {
  const long long argc = static_cast<long long>(argv.size());
  if (info.firstKey <= 0) return std::nullopt;
  const long long first = info.firstKey;
  const long long last = info.lastKey < 0 ? argc + info.lastKey : info.lastKey;
  if (first >= argc || last >= argc || last < first) return std::nullopt;
  return KeyRange{static_cast<std::size_t>(first), static_cast<std::size_t>(last),
                  static_cast<std::size_t>(std::max(info.keyStep, 1))};
}

template <typename Visit>
void forEachKeyRange(const CommandInfo& info, std::span<const std::string_view> argv, Visit&& visit) {
  if (info.keySpecs.empty()) {
    if (auto range = legacyRange(info, argv)) visit(*range);
    return;
  }
  for (const KeySpec& spec : info.keySpecs) {
    if (auto range = rangeOf(spec, argv)) visit(*range);
  }
}

}  // namespace

// ---- CommandInfo / key positions ------------------------------------------------------

bool CommandInfo::arityAccepts(std::size_t argc) const {
  if (arity >= 0) return argc == static_cast<std::size_t>(arity);
  return argc >= static_cast<std::size_t>(-static_cast<long long>(arity));
}

std::optional<std::string_view> firstKey(const CommandInfo& info, std::span<const std::string_view> argv) {
  std::optional<std::size_t> best;
  forEachKeyRange(info, argv, [&](const KeyRange& range) {
    if (!best || range.first < *best) best = range.first;
  });
  if (!best) return std::nullopt;
  return argv[*best];
}

std::vector<std::string_view> keyArguments(const CommandInfo& info, std::span<const std::string_view> argv) {
  std::vector<std::size_t> positions;
  forEachKeyRange(info, argv, [&](const KeyRange& range) {
    for (std::size_t i = range.first; i <= range.last; i += range.step) positions.push_back(i);
  });
  std::sort(positions.begin(), positions.end());
  positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
  std::vector<std::string_view> keys;
  keys.reserve(positions.size());
  for (std::size_t i : positions) keys.push_back(argv[i]);
  return keys;
}

// ---- CommandTable ---------------------------------------------------------------------

std::size_t CommandTable::NameHash::operator()(std::string_view name) const {
  std::uint64_t h = 14695981039346656037ULL;  // FNV-1a over lower-cased bytes
  for (char c : name) {
    h ^= static_cast<unsigned char>(text::lower(c));
    h *= 1099511628211ULL;
  }
  return static_cast<std::size_t>(h);
}

bool CommandTable::NameEqual::operator()(std::string_view a, std::string_view b) const { return iequals(a, b); }

CommandTable CommandTable::fromCommandReply(const RespValue& reply) {
  CommandTable table;
  if (!isArray(reply)) return table;
  table.commands_.reserve(reply.elements.size());
  for (const RespValue& entry : reply.elements) {
    CommandInfo info;
    if (parseEntry(entry, info)) table.add(std::move(info));
  }
  return table;
}

void CommandTable::add(CommandInfo info) {
  std::string key = info.name;
  commands_.insert_or_assign(std::move(key), std::move(info));
}

const CommandInfo* CommandTable::find(std::string_view name) const {
  auto it = commands_.find(name);
  return it == commands_.end() ? nullptr : &it->second;
}

const CommandInfo* CommandTable::findSubcommand(const CommandInfo& container, std::string_view sub) {
  for (const CommandInfo& candidate : container.subcommands) {
    std::string_view name = candidate.name;
    const std::size_t bar = name.find('|');
    if (bar != std::string_view::npos) name.remove_prefix(bar + 1);
    if (iequals(name, sub)) return &candidate;
  }
  return nullptr;
}

const CommandInfo* CommandTable::resolve(std::span<const std::string_view> argv) const {
  if (argv.empty()) return nullptr;
  const CommandInfo* command = find(argv[0]);
  if (command == nullptr || !command->hasSubcommands() || argv.size() < 2) return command;
  const CommandInfo* sub = findSubcommand(*command, argv[1]);
  return sub != nullptr ? sub : command;
}

}  // namespace cx::backends
