// Structured logging: one line per event on stderr, `ts=… level=… event=… k=v …`.
// Thread-safe; never logs secrets (callers pass only what may be shown).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace cx::proxy {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };

void setLogLevel(LogLevel level);
bool parseLogLevel(std::string_view text, LogLevel& out);
bool logEnabled(LogLevel level);

using LogField = std::pair<std::string_view, std::string_view>;
void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});

}  // namespace cx::proxy
