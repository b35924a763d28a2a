// Command line of cxproxy-verify (README "Verifying the guarantees on your deployment").
// Pure parsing: argv in, Options or a message out.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "routing/level.h"

namespace cx::verify {

struct Options {
  std::string url = "http://127.0.0.1:8080";
  std::string host = "127.0.0.1";  // from url
  std::string port = "8080";       // from url
  std::chrono::seconds duration{30};
  int sessions = 16;
  std::vector<routing::Level> levels{routing::Level::Session, routing::Level::Bounded, routing::Level::Prefix};
  std::chrono::milliseconds maxStaleness{200};
  std::string bearerToken;  // Authorization: Bearer, when set
  std::string prefix = "cxverify:";
  std::chrono::milliseconds requestTimeout{10000};
  bool help = false;
};

struct OptionsError {
  std::string message;
};

std::variant<Options, OptionsError> parseOptions(const std::vector<std::string>& args);
std::string usage();

// "200ms", "2s", "1.5s" or a bare number of milliseconds.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);

}  // namespace cx::verify
