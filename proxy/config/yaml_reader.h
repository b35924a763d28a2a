// Walking cxproxy's YAML file: entries that know their key path and line, mappings that
// refuse unknown and duplicate keys, and typed readers that fail with
// "<source>:<line>: <key path>: <problem>" (ConfigError). Used by parse.cpp only.
#pragma once

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "backends/text.h"
#include "proxy/config/config.h"
#include "proxy/config/values.h"
#include "routing/level.h"

namespace cx::proxy::yaml {

using routing::Level;
using routing::OnStale;
using routing::Override;

// One value in the tree together with where it is, for messages.
struct Entry {
  YAML::Node node;
  std::string path;  // "consistency.rules[0].level"
  int line = 1;      // 1-based; the key's line when the value is empty
};

inline std::string childPath(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

inline int lineOf(const YAML::Node& node, int fallback) {
  if (!node.IsDefined() || node.IsNull()) return fallback;
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? fallback : mark.line + 1;
}

inline std::string describeNode(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  return inQuotes(node.Scalar());
}

class ConfigReader;

// A mapping in the file: checks on construction that it has only known keys, each once.
class Section {
 public:
  Section(const ConfigReader& reader, const Entry& entry, std::initializer_list<std::string_view> known);

  std::optional<Entry> get(std::string_view key) const {
    for (const auto& [name, entry] : fields_) {
      if (name == key) return entry;
    }
    return std::nullopt;
  }
  bool has(std::string_view key) const { return get(key).has_value(); }
  const Entry& self() const { return self_; }
  std::string path(std::string_view key) const { return childPath(self_.path, key); }

 private:
  Entry self_;
  std::vector<std::pair<std::string, Entry>> fields_;
};

// The typed readers; each fails with the entry's path and line.
class ConfigReader {
 public:
  explicit ConfigReader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(int line, std::string_view path, std::string_view problem) const {
    std::string message = source_ + ":" + std::to_string(line) + ": ";
    message += path.empty() ? std::string("(top level)") : std::string(path);
    message += ": ";
    message += problem;
    throw ConfigError(message);
  }
  [[noreturn]] void fail(const Entry& entry, std::string_view problem) const { fail(entry.line, entry.path, problem); }

  // --- typed readers; each fails with the entry's path and line ---

  const std::string& scalar(const Entry& entry, std::string_view expected) const {
    if (!entry.node.IsScalar()) {
      fail(entry, "expected " + std::string(expected) + ", got " + describeNode(entry.node));
    }
    return entry.node.Scalar();
  }

  std::string readString(const Entry& entry) const { return scalar(entry, "a string"); }

  bool readBool(const Entry& entry) const {
    const std::string text = text::lowerCopy(scalar(entry, "true or false"));
    if (text == "true" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "no" || text == "off") return false;
    fail(entry, "expected true or false, got " + inQuotes(entry.node.Scalar()));
  }

  long long readInt(const Entry& entry, long long min, long long max) const {
    const std::string& text = scalar(entry, "an integer");
    long long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || end != text.data() + text.size() ||
        (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
      fail(entry, "expected an integer, got " + inQuotes(text));
    }
    if (ec == std::errc::result_out_of_range || value < min || value > max) {
      if (value < min && min == 0) fail(entry, text + " is negative; it must be 0 or more");
      fail(entry, text + " is out of range " + std::to_string(min) + "-" + std::to_string(max));
    }
    return value;
  }

  milliseconds readDuration(const Entry& entry, bool allowZero) const {
    const std::string& text = scalar(entry, "a duration");
    const auto value = parseDuration(text);
    if (!value) {
      fail(entry, "invalid duration " + inQuotes(text) + " (expected e.g. 250ms, 2s, 1m or a number of milliseconds)");
    }
    if (!allowZero && value->count() == 0) fail(entry, "must be longer than 0ms");
    return *value;
  }

  std::size_t readByteSize(const Entry& entry, std::size_t max) const {
    const std::string& text = scalar(entry, "a size in bytes");
    const auto value = parseByteSize(text);
    if (!value) {
      fail(entry, "invalid size " + inQuotes(text) + " (expected bytes, e.g. 16384, 16KiB or 1MiB)");
    }
    if (*value == 0) fail(entry, "must be more than 0 bytes");
    if (*value > max) fail(entry, text + " is larger than the maximum " + formatBytes(max));
    return *value;
  }

  Endpoint readEndpoint(const Entry& entry) const {
    const std::string& text = scalar(entry, "an address host:port");
    auto result = parseEndpoint(text);
    if (auto* problem = std::get_if<std::string>(&result)) {
      fail(entry, "invalid address " + inQuotes(text) + ": " + *problem);
    }
    return std::get<Endpoint>(result);
  }

  Level readLevel(const Entry& entry) const {
    const std::string& text = scalar(entry, "a consistency level");
    if (auto level = routing::parseLevel(text)) return *level;
    fail(entry,
         "unknown level " + inQuotes(text) + " (expected strong, linearizable, bounded, session, prefix or eventual)");
  }

  Override readOverride(const Entry& entry) const {
    const std::string& text = scalar(entry, "any, stronger or none");
    if (auto value = routing::parseOverride(text)) return *value;
    fail(entry, "unknown override " + inQuotes(text) + " (expected any, stronger or none)");
  }

  OnStale readOnStale(const Entry& entry) const {
    const std::string& text = scalar(entry, "primary, wait or error");
    if (auto value = routing::parseOnStale(text)) return *value;
    fail(entry, "unknown on_stale " + inQuotes(text) + " (expected primary, wait or error)");
  }

  std::string readName(const Entry& entry, std::string_view what) const {
    std::string name = readString(entry);
    if (!isSafeName(name)) {
      fail(entry,
           "invalid " + std::string(what) + " name " + inQuotes(name) + " (use 1-64 letters, digits, '-', '_' or '.')");
    }
    return name;
  }

  std::string readEnvVarName(const Entry& entry, bool allowEmpty) const {
    std::string name = readString(entry);
    if (name.empty() && allowEmpty) return name;
    if (!isEnvVarName(name)) {
      fail(entry, inQuotes(name) + " is not an environment variable name (letters, digits, '_')");
    }
    return name;
  }

  // A list; with allowScalar a single value stands for a one-element list. Empty: no items.
  std::vector<Entry> readList(const Entry& entry, bool allowScalar) const {
    std::vector<Entry> items;
    if (entry.node.IsNull()) return items;
    if (entry.node.IsScalar() && allowScalar) {
      items.push_back(entry);
      return items;
    }
    if (!entry.node.IsSequence()) fail(entry, "expected a list, got " + describeNode(entry.node));
    std::size_t index = 0;
    for (const auto& item : entry.node) {
      items.push_back(Entry{item, entry.path + "[" + std::to_string(index) + "]", lineOf(item, entry.line)});
      ++index;
    }
    return items;
  }

 private:
  std::string source_;
};

}  // namespace cx::proxy::yaml
