// Session tokens (ARCHITECTURE.md "Session tokens"): opaque to clients, base64url, versioned, HMAC-SHA256
// signed with a key ring (the first key signs, every key verifies, for rotation).
// A token carries the replication history (replid) and the highest write and read
// positions its session has seen in that history.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cx::session {

struct SessionToken {
  std::string keyId;   // filled by decode(); encode() uses the ring's signing key
  std::string replid;  // 40 hex chars, the Redis replication id of the positions
  std::uint64_t writeOffset = 0;
  std::uint64_t readOffset = 0;
  std::chrono::system_clock::time_point issuedAt{};  // millisecond precision
};

enum class TokenError : std::uint8_t {
  Malformed,     // not base64url, wrong length, unknown version, bad replid
  TooLarge,      // longer than kMaxTokenBytes
  UnknownKey,    // key id not in the ring
  BadSignature,  // HMAC does not verify (any bit flipped, forged)
};
std::string_view toString(TokenError error);

inline constexpr std::size_t kMaxTokenBytes = 1024;  // for the whole header value too

struct DecodeResult {
  std::optional<SessionToken> token;
  TokenError error = TokenError::Malformed;  // meaningful when !token
};

class KeyRing {
 public:
  struct Key {
    std::string id;      // 1..16 chars of [A-Za-z0-9_-]
    std::string secret;  // raw bytes, at least 16
  };

  // Parses "id:hexsecret,id2:hexsecret2". Throws std::invalid_argument with a message
  // that names the problem but never the secret.
  static KeyRing fromSpec(std::string_view spec);
  // One random 32-byte key with id "ephemeral" (OpenSSL RAND_bytes).
  static KeyRing random();

  explicit KeyRing(std::vector<Key> keys);  // keys non-empty; first signs

  std::string encode(const SessionToken& token) const;
  DecodeResult decode(std::string_view text) const;  // constant-time MAC compare
  // Decodes a header value holding one or more tokens separated by commas (optional
  // spaces). Fails on the first bad one. Empty input → empty vector.
  struct DecodeListResult {
    std::vector<SessionToken> tokens;
    std::optional<TokenError> error;
  };
  DecodeListResult decodeList(std::string_view headerValue) const;

  const std::string& signingKeyId() const { return keys_.front().id; }

  // Precomputed HMAC-SHA256 state of one key (defined in token.cpp).
  struct MacState;

 private:
  std::vector<Key> keys_;
  std::vector<std::shared_ptr<const MacState>> macs_;  // parallel to keys_
};

}  // namespace cx::session
