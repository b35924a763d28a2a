// Writing JSON string literals, for every JSON body the proxy builds (error bodies,
// replies of /v1/cmd, /v1/status): escaping and UTF-8 validation in one place.
#pragma once

#include <string>
#include <string_view>

namespace cx::proxy {

// True when s is well-formed UTF-8: no overlong forms, no surrogates (U+D800..DFFF),
// nothing above U+10FFFF, no truncated sequences.
bool isValidUtf8(std::string_view s);

// Appends s as a quoted JSON string, escaping '"', '\\' and control characters (\n, \r,
// \t, \b, \f by name, the rest as \u00XX). Invalid UTF-8 is replaced by U+FFFD, so this
// is safe for messages that may quote client bytes.
void appendJsonString(std::string& out, std::string_view s);

// Appends the escaped body of a JSON string (no quotes). On ill-formed UTF-8: `lossy`
// replaces the offending byte with U+FFFD; otherwise returns false with `out` partly
// written (the caller truncates it).
bool appendJsonStringBody(std::string& out, std::string_view s, bool lossy);

}  // namespace cx::proxy
