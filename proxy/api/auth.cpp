// Bearer tokens (see auth.h).
#include "proxy/api/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

namespace cx::proxy {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> out{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out.data());
  return out;
}

bool validName(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

// RFC 6750 §2.1 b64token: what a bearer credential may be made of.
bool validSecret(std::string_view secret) {
  return !secret.empty() && std::all_of(secret.begin(), secret.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
  });
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

}  // namespace

ApiTokens ApiTokens::parse(std::string_view spec) {
  ApiTokens out;
  std::vector<std::array<unsigned char, 32>> seen;
  std::size_t position = 0;
  while (!spec.empty()) {
    const auto comma = spec.find(',');
    const std::string_view entry = trim(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    ++position;
    if (entry.empty()) continue;
    const std::string where = "token entry " + std::to_string(position);
    const auto first = entry.find(':');
    const auto last = entry.rfind(':');
    if (first == std::string_view::npos || first == last) {
      throw std::invalid_argument(where + ": expected name:secret:rw or name:secret:ro");
    }
    const std::string_view name = entry.substr(0, first);
    const std::string_view secret = entry.substr(first + 1, last - first - 1);
    const std::string_view mode = entry.substr(last + 1);
    if (!validName(name)) {
      throw std::invalid_argument(where + ": the name must be 1-64 letters, digits, '-', '_' or '.'");
    }
    const std::string named = where + " (" + std::string(name) + ")";
    if (!validSecret(secret)) {
      throw std::invalid_argument(named + ": the secret must be letters, digits or -._~+/= (RFC 6750)");
    }
    if (mode != "rw" && mode != "ro") throw std::invalid_argument(named + ": the mode must be rw or ro");
    Token token{std::string(name), sha256(secret), mode == "ro"};
    for (const auto& other : out.tokens_) {
      if (other.name == token.name) throw std::invalid_argument(named + ": the name is used twice");
      if (other.digest == token.digest)
        throw std::invalid_argument(named + ": the secret is also " + other.name + "'s");
    }
    out.tokens_.push_back(std::move(token));
  }
  if (out.tokens_.empty()) throw std::invalid_argument("no token entries");
  return out;
}

const ApiTokens::Token* ApiTokens::find(std::string_view secret) const {
  const auto digest = sha256(secret);
  const Token* match = nullptr;
  for (const auto& token : tokens_) {
    // No early exit: every digest is compared whatever matched before.
    const bool equal = CRYPTO_memcmp(token.digest.data(), digest.data(), digest.size()) == 0;
    if (equal) match = &token;
  }
  return match;
}

AuthResult authorizeHeader(const std::vector<std::string_view>& authorization, const ApiTokens* tokens) {
  if (tokens == nullptr) return {};
  AuthResult result;
  result.status = AuthStatus::Missing;
  if (authorization.empty()) return result;
  // Credentials in two fields are not a request we can attribute to one token.
  result.status = AuthStatus::Invalid;
  if (authorization.size() != 1) return result;
  const std::string_view value = trim(authorization.front());
  const auto space = value.find(' ');
  const std::string_view scheme = value.substr(0, space);
  if (!iequals(scheme, "Bearer")) {
    result.status = AuthStatus::Missing;  // another scheme (Basic ...): no bearer token was sent
    return result;
  }
  const std::string_view secret = space == std::string_view::npos ? std::string_view() : trim(value.substr(space));
  if (secret.empty()) return result;
  const auto* token = tokens->find(secret);
  if (token == nullptr) return result;
  result.status = AuthStatus::Ok;
  result.name = token->name;
  result.readOnly = token->readOnly;
  return result;
}

AuthResult authorize(const Request& req, const ApiTokens* tokens) {
  if (tokens == nullptr) return {};
  std::vector<std::string_view> values;
  for (const auto& field : req) {
    if (iequals(field.name_string(), "Authorization")) values.push_back(field.value());
  }
  return authorizeHeader(values, tokens);
}

bool writesForReadOnlyToken(bool isWrite, std::string_view commandName) {
  if (isWrite) return true;
  static constexpr std::string_view kAlsoWrites[] = {"EVAL",  "EVALSHA",  "EVAL_RO", "EVALSHA_RO",
                                                     "FCALL", "FCALL_RO", "PUBLISH", "SPUBLISH"};
  for (auto name : kAlsoWrites) {
    if (iequals(commandName, name)) return true;
  }
  return false;
}

void setUnauthorized(Response& res, const AuthResult& result) {
  const bool sent = result.status == AuthStatus::Invalid;
  setError(res, ErrorCode::Unauthorized,
           sent ? "the bearer token is not valid" : "this listener needs an Authorization: Bearer <token> header");
  res.set("WWW-Authenticate", sent ? "Bearer error=\"invalid_token\"" : "Bearer");
}

ApiError readOnlyTokenError() {
  return ApiError{
      ErrorCode::ReadOnlyToken, "this token is read-only and the request writes; nothing was executed", {}, {}};
}

}  // namespace cx::proxy
