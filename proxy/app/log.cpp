// logfmt-style lines on stderr, written with one write() so lines never interleave.
#include "proxy/app/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>

namespace cx::proxy {
namespace {

std::atomic<int> gLevel{static_cast<int>(LogLevel::Info)};

void appendValue(std::string& out, std::string_view v) {
  bool quote = v.empty() || v.find_first_of(" \"=\t\n\r") != std::string_view::npos;
  if (!quote) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else if (c == '\r') {
      out.append("\\r");
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

constexpr std::string_view kLevelNames[] = {"debug", "info", "warn", "error"};

}  // namespace

void setLogLevel(LogLevel level) { gLevel.store(static_cast<int>(level)); }

bool parseLogLevel(std::string_view text, LogLevel& out) {
  for (int i = 0; i < 4; ++i) {
    if (text == kLevelNames[i]) {
      out = static_cast<LogLevel>(i);
      return true;
    }
  }
  if (text == "warning") {
    out = LogLevel::Warn;
    return true;
  }
  return false;
}

bool logEnabled(LogLevel level) { return static_cast<int>(level) >= gLevel.load(std::memory_order_relaxed); }

void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  if (!logEnabled(level)) return;
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[40];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line = "ts=";
  line.append(ts);
  char msbuf[8];
  std::snprintf(msbuf, sizeof msbuf, ".%03dZ", static_cast<int>(ms));
  line.append(msbuf);
  line.append(" level=");
  line.append(kLevelNames[static_cast<int>(level)]);
  line.append(" event=");
  appendValue(line, event);
  for (const auto& [k, v] : fields) {
    line.push_back(' ');
    line.append(k);
    line.push_back('=');
    appendValue(line, v);
  }
  line.push_back('\n');
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace cx::proxy
