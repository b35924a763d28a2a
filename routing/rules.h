// Rule selection (README "Rules"): the first rule whose key glob and method match wins.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "routing/level.h"

namespace cx::routing {

// `method` is the HTTP method (GET, PUT, DELETE, POST). For POST /v1/cmd, `command` is the
// Redis command name in upper case and `key` its first key; a rule's method list then
// matches the command name, or GET for a read and PUT for a write. nullptr: no rule
// matches (use consistency.default).
//
// This overload walks every glob of every rule in order: the definition of first match,
// which RuleList::match() must agree with (tests hold them to it). Cost: every glob.
const Rule* matchRule(std::span<const Rule> rules, std::string_view key, std::string_view method,
                      std::string_view command = {}, bool isWrite = false);

// First match without the walk over every rule. Every glob is filed under a literal it
// forces on the key: the bytes before its first wildcard (a trie walked from the key's
// first byte) or, when that is the shorter one, the bytes after its last wildcard (a trie
// walked from the key's last byte); globs with neither (`*`, `*x*`) stay in a list.
// Each trie node holds the globs whose literal ends there, in rule order. A lookup walks
// the key's bytes down both tries and checks only the globs on its path plus the list,
// each with the full glob match and the method test, and keeps the lowest rule index
// that passes: a literal is necessary for a match, never sufficient, so the answer is
// the linear walk's. Cost: the key's length in trie steps plus the globs that share a
// literal with the key, whatever the number of rules.
//
// Indices refer to the rule list the index was built from, in order; build and look up
// with the same list (RuleList keeps the two together).
class RuleIndex {
 public:
  RuleIndex() = default;
  explicit RuleIndex(std::span<const Rule> rules);

  // Files the globs of `rules[ruleIndex]`; rules are added in increasing index order.
  void add(const Rule& rule, std::uint32_t ruleIndex);
  const Rule* match(std::span<const Rule> rules, std::string_view key, std::string_view method,
                    std::string_view command = {}, bool isWrite = false) const;

 private:
  struct Entry {
    std::uint32_t rule;
    std::uint32_t glob;
  };
  struct Node {
    std::vector<unsigned char> labels;  // child edges: labels[i] leads to children[i]
    std::vector<std::uint32_t> children;
    std::vector<Entry> entries;  // globs whose literal ends here, in rule order
  };
  struct Trie {
    std::vector<Node> nodes{1};  // nodes[0]: the root
    void insert(std::string_view literal, bool reversed, Entry entry);
  };

  Trie prefixes_;
  Trie suffixes_;
  std::vector<Entry> unanchored_;  // globs with no literal prefix or suffix
};

// The configured rules with their index: what consistency.rules holds. Read-only apart
// from push_back(), which files the new rule at once, so the index never lags the list.
// Copies and moves carry the index (it holds positions, not pointers).
class RuleList {
 public:
  RuleList() = default;
  explicit RuleList(std::vector<Rule> rules);

  void push_back(Rule rule);

  std::size_t size() const { return rules_.size(); }
  bool empty() const { return rules_.empty(); }
  const Rule& operator[](std::size_t i) const { return rules_[i]; }
  std::vector<Rule>::const_iterator begin() const { return rules_.begin(); }
  std::vector<Rule>::const_iterator end() const { return rules_.end(); }
  std::span<const Rule> rules() const { return rules_; }

  // The rule matchRule(rules(), ...) returns, from the index.
  const Rule* match(std::string_view key, std::string_view method, std::string_view command = {},
                    bool isWrite = false) const {
    return index_.match(rules_, key, method, command, isWrite);
  }

 private:
  std::vector<Rule> rules_;
  RuleIndex index_;
};

inline const Rule* matchRule(const RuleList& rules, std::string_view key, std::string_view method,
                             std::string_view command = {}, bool isWrite = false) {
  return rules.match(key, method, command, isWrite);
}

}  // namespace cx::routing
