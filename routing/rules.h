// Rule selection (README "Rules"): the first rule whose key glob and method match wins.
#pragma once

#include <span>
#include <string_view>

#include "routing/level.h"

namespace cx::routing {

// `method` is the HTTP method (GET, PUT, DELETE, POST). For POST /v1/cmd, `command` is the
// Redis command name in upper case and `key` its first key; a rule's method list then
// matches the command name, or GET for a read and PUT for a write. nullptr: no rule
// matches (use consistency.default).
const Rule* matchRule(std::span<const Rule> rules, std::string_view key, std::string_view method,
                      std::string_view command = {}, bool isWrite = false);

}  // namespace cx::routing
