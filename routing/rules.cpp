// First-match rule selection on key globs and methods: the linear definition and the index.
#include "routing/rules.h"

#include <cstring>
#include <limits>
#include <utility>

#include "routing/glob.h"

namespace cx::routing {

namespace {

bool methodMatches(const Rule& rule, std::string_view method, std::string_view command, bool isWrite) {
  if (rule.methods.empty()) return true;
  for (const auto& m : rule.methods) {
    if (m == method) return true;
    if (!command.empty() && (m == command || m == (isWrite ? "PUT" : "GET"))) return true;
  }
  return false;
}

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

// The child of `node` along `byte`, or kNone. A node has at most 256 edges and most
// have a handful: memchr over the labels beats a map.
template <typename Node>
std::uint32_t childOf(const Node& node, unsigned char byte) {
  const void* hit = node.labels.empty() ? nullptr : std::memchr(node.labels.data(), byte, node.labels.size());
  if (!hit) return kNone;
  return node.children[static_cast<const unsigned char*>(hit) - node.labels.data()];
}

}  // namespace

const Rule* matchRule(std::span<const Rule> rules, std::string_view key, std::string_view method,
                      std::string_view command, bool isWrite) {
  for (const auto& rule : rules) {
    if (!methodMatches(rule, method, command, isWrite)) continue;
    for (const auto& glob : rule.keyGlobs) {
      if (globMatch(glob, key)) return &rule;
    }
  }
  return nullptr;
}

void RuleIndex::Trie::insert(std::string_view literal, bool reversed, Entry entry) {
  std::uint32_t at = 0;
  for (std::size_t i = 0; i < literal.size(); ++i) {
    const auto byte = static_cast<unsigned char>(reversed ? literal[literal.size() - 1 - i] : literal[i]);
    std::uint32_t next = childOf(nodes[at], byte);
    if (next == kNone) {
      next = static_cast<std::uint32_t>(nodes.size());
      nodes[at].labels.push_back(byte);
      nodes[at].children.push_back(next);
      nodes.emplace_back();  // may move nodes: `at` is an index, not a reference
    }
    at = next;
  }
  nodes[at].entries.push_back(entry);
}

RuleIndex::RuleIndex(std::span<const Rule> rules) {
  for (std::size_t i = 0; i < rules.size(); ++i) add(rules[i], static_cast<std::uint32_t>(i));
}

void RuleIndex::add(const Rule& rule, std::uint32_t ruleIndex) {
  for (std::size_t g = 0; g < rule.keyGlobs.size(); ++g) {
    const Entry entry{ruleIndex, static_cast<std::uint32_t>(g)};
    const GlobLiterals literals = globLiterals(rule.keyGlobs[g]);
    // The longer literal narrows the candidates more; an exact glob's prefix is all of it.
    if (!literals.prefix.empty() && (literals.exact || literals.prefix.size() >= literals.suffix.size())) {
      prefixes_.insert(literals.prefix, false, entry);
    } else if (!literals.suffix.empty()) {
      suffixes_.insert(literals.suffix, true, entry);
    } else {
      unanchored_.push_back(entry);
    }
  }
}

const Rule* RuleIndex::match(std::span<const Rule> rules, std::string_view key, std::string_view method,
                             std::string_view command, bool isWrite) const {
  std::uint32_t best = kNone;
  // Entries are in rule order: the first that passes is the lowest of its list, and
  // nothing at or past the best so far can improve on it.
  auto consider = [&](const std::vector<Entry>& entries) {
    for (const Entry& e : entries) {
      if (e.rule >= best) return;
      const Rule& rule = rules[e.rule];
      if (methodMatches(rule, method, command, isWrite) && globMatch(rule.keyGlobs[e.glob], key)) {
        best = e.rule;
        return;
      }
    }
  };
  std::uint32_t at = 0;
  for (std::size_t i = 0; i < key.size(); ++i) {
    at = childOf(prefixes_.nodes[at], static_cast<unsigned char>(key[i]));
    if (at == kNone) break;
    consider(prefixes_.nodes[at].entries);
  }
  at = 0;
  for (std::size_t i = key.size(); i-- > 0;) {
    at = childOf(suffixes_.nodes[at], static_cast<unsigned char>(key[i]));
    if (at == kNone) break;
    consider(suffixes_.nodes[at].entries);
  }
  consider(unanchored_);
  return best == kNone ? nullptr : &rules[best];
}

RuleList::RuleList(std::vector<Rule> rules) : rules_(std::move(rules)), index_(rules_) {}

void RuleList::push_back(Rule rule) {
  rules_.push_back(std::move(rule));
  index_.add(rules_.back(), static_cast<std::uint32_t>(rules_.size() - 1));
}

}  // namespace cx::routing
