// Upstash script flags and EVALSHA aliases (see scripts.h).
#include "proxy/api/scripts.h"

#include <openssl/sha.h>

#include <vector>

namespace cx::proxy {

namespace {

constexpr std::string_view kUpstashFlag = "allow-key-locking";
constexpr std::string_view kFlagsOption = "flags=";

std::string lowerHex(std::string_view sha) {
  std::string out(sha);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::optional<std::string> stripUpstashScriptFlags(std::string_view script) {
  // Redis reads a shebang only on the first line, "#!<engine>" then space-separated
  // options, of which "flags=" (a comma-separated list) is the only one.
  if (script.substr(0, 2) != "#!") return std::nullopt;
  const std::size_t lineEnd = std::min(script.find('\n'), script.size());
  const std::string_view line = script.substr(0, lineEnd);
  std::size_t option = line.find(' ');
  while (option != std::string_view::npos) {
    const std::size_t start = option + 1;
    const std::size_t end = std::min(line.find(' ', start), line.size());
    const std::string_view token = line.substr(start, end - start);
    if (token.substr(0, kFlagsOption.size()) == kFlagsOption) {
      std::string_view list = token.substr(kFlagsOption.size());
      std::vector<std::string_view> kept;
      bool found = false;
      while (true) {
        const std::size_t comma = list.find(',');
        const std::string_view flag = list.substr(0, comma);
        if (flag == kUpstashFlag) {
          found = true;
        } else if (!flag.empty()) {
          kept.push_back(flag);
        }
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
      if (!found) return std::nullopt;
      std::string out(script.substr(0, kept.empty() ? option : start));
      for (std::size_t i = 0; i < kept.size(); ++i) {
        if (i == 0) out.append(kFlagsOption);
        if (i != 0) out.push_back(',');
        out.append(kept[i]);
      }
      out.append(script.substr(end));
      return out;
    }
    option = end < line.size() ? end : std::string_view::npos;
  }
  return std::nullopt;
}

std::string sha1Hex(std::string_view text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA_DIGEST_LENGTH);
  for (unsigned char byte : digest) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xf]);
  }
  return out;
}

void ScriptAliases::remember(std::string_view originalScript, std::string_view strippedScript) {
  std::string original = sha1Hex(originalScript);
  if (aliases_.contains(original)) return;
  if (aliases_.size() >= capacity_) aliases_.clear();
  aliases_.emplace(std::move(original), sha1Hex(strippedScript));
}

std::optional<std::string> ScriptAliases::aliasOf(std::string_view sha) const {
  if (aliases_.empty()) return std::nullopt;
  auto it = aliases_.find(lowerHex(sha));
  if (it == aliases_.end()) return std::nullopt;
  return it->second;
}

}  // namespace cx::proxy
