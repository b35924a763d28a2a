// Bearer tokens on the data listener (README "Security"): the token set (`name:secret:rw|ro`
// entries from auth.tokens_env or auth.tokens_file) and the check of a request's
// Authorization header against it. Secrets are kept only as SHA-256 digests and
// compared in constant time; nothing here ever returns or logs a secret, only a
// token's name.
//
// The check runs once a request's head is parsed (framing errors come first) and before
// anything else: authorize() says who is asking; a read-only token's writes are refused
// later, once the request is known to write (refuseReadOnlyWrite()). Endpoints other
// than /v1/* (the Upstash-compatible ones) call the same two functions.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/errors.h"
#include "proxy/http/request.h"
#include "proxy/http/response.h"

namespace cx::proxy {

class ApiTokens {
 public:
  struct Token {
    std::string name;
    std::array<unsigned char, 32> digest{};  // SHA-256 of the secret
    bool readOnly = false;
  };

  // Parses "name:secret:rw,name2:secret2:ro" (whitespace and newlines around entries are
  // ignored; a secret may not contain ':' or ','). Throws std::invalid_argument naming
  // the entry by position and name, never its secret. Names and secrets are unique.
  static ApiTokens parse(std::string_view spec);

  // The token whose secret is `secret`, or null. Every token's digest is compared, each
  // in constant time, so the time taken says nothing about which or how much matched.
  const Token* find(std::string_view secret) const;
  std::size_t size() const { return tokens_.size(); }
  const std::vector<Token>& tokens() const { return tokens_; }

 private:
  std::vector<Token> tokens_;
};

enum class AuthStatus : std::uint8_t {
  Ok,       // a valid token, or auth is off
  Missing,  // no Authorization: Bearer credentials
  Invalid,  // a bearer token that is not one of ours (or a malformed header)
};

struct AuthResult {
  AuthStatus status = AuthStatus::Ok;
  std::string_view name;  // the token's name (empty when auth is off or it failed); valid while the ApiTokens lives
  bool readOnly = false;
  bool ok() const { return status == AuthStatus::Ok; }
};

// Checks `authorization` (every Authorization field value of the request) against
// `tokens`; null tokens means auth is off (Ok, not read-only). The scheme "Bearer" is
// case-insensitive.
AuthResult authorizeHeader(const std::vector<std::string_view>& authorization, const ApiTokens* tokens);
AuthResult authorize(const Request& req, const ApiTokens* tokens);

// Whether a request a read-only token sends counts as a write: any command the COMMAND
// table marks as writing (`isWrite`: write and may_replicate), every script
// (EVAL/EVALSHA/FCALL and their _RO forms: a script's effects are not checked), and
// PUBLISH/SPUBLISH. A batch or transaction is a write when any command in it is.
bool writesForReadOnlyToken(bool isWrite, std::string_view commandName);

// The 401 for a failed AuthResult: `unauthorized`, with WWW-Authenticate: Bearer (and
// error="invalid_token" when a token was sent).
void setUnauthorized(Response& res, const AuthResult& result);
// The 403 `read_only_token` for a read-only token's write (nothing was executed).
ApiError readOnlyTokenError();

}  // namespace cx::proxy
