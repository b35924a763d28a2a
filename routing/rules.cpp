// First-match rule selection on key globs and methods.
#include "routing/rules.h"

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

}  // namespace cx::routing
