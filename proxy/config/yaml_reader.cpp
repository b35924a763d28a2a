// The YAML walker's mapping check: unknown keys (with a suggestion) and duplicates.
#include "proxy/config/yaml_reader.h"

#include <algorithm>
#include <limits>

namespace cx::proxy::yaml {

namespace {

// Optimal-string-alignment distance: a transposition ("levle") costs one edit.
std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// Keys that people reach for but that cxproxy deliberately does not have.
std::optional<std::string> hintForUnknownKey(const std::string& path) {
  if (path == "redis.password" || path == "redis.auth") {
    return "secrets never go in the config: put the password in an environment variable and "
           "name it with redis.password_env";
  }
  if (path == "auth.tokens" || path == "auth.token" || path == "redis.tls.password") {
    return "secrets never go in the config: use auth.tokens_env or auth.tokens_file";
  }
  if (path == "session.keys" || path == "session.key" || path == "session.secret") {
    return "token keys never go in the config: use session.keys_env or session.keys_file";
  }
  return std::nullopt;
}

}  // namespace

Section::Section(const ConfigReader& parser, const Entry& entry, std::initializer_list<std::string_view> known)
    : self_(entry) {
  if (!entry.node.IsDefined() || entry.node.IsNull()) return;  // an empty section: defaults
  if (!entry.node.IsMap()) {
    parser.fail(entry, "expected a mapping, got " + describeNode(entry.node));
  }
  for (const auto& field : entry.node) {
    const YAML::Node& keyNode = field.first;
    const int keyLine = lineOf(keyNode, entry.line);
    if (!keyNode.IsScalar()) parser.fail(keyLine, entry.path, "keys must be plain names");
    const std::string& key = keyNode.Scalar();
    const std::string path = childPath(entry.path, key);
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string problem = "unknown key";
      if (auto hint = hintForUnknownKey(path)) {
        problem += "; " + *hint;
      } else {
        std::string_view best;
        std::size_t bestDistance = std::numeric_limits<std::size_t>::max();
        for (std::string_view candidate : known) {
          const std::size_t distance = editDistance(key, candidate);
          if (distance < bestDistance) {
            bestDistance = distance;
            best = candidate;
          }
        }
        const std::size_t tolerance = key.size() >= 5 ? 2 : 1;
        if (!best.empty() && bestDistance <= tolerance) {
          problem += " (did you mean \"" + std::string(best) + "\"?)";
        }
      }
      parser.fail(keyLine, childPath(entry.path, printable(key)), problem);
    }
    for (const auto& [seen, seenEntry] : fields_) {
      if (seen == key) {
        parser.fail(
            keyLine, path,
            "duplicate key (first given at line " + std::to_string(lineOf(seenEntry.node, seenEntry.line)) + ")");
      }
    }
    fields_.emplace_back(key, Entry{field.second, path, lineOf(field.second, keyLine)});
    // Empty values point at the next line in yaml-cpp; the key's own line reads better.
    if (field.second.IsNull()) fields_.back().second.line = keyLine;
  }
}

}  // namespace cx::proxy::yaml
