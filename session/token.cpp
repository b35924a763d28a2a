// Session token codec (ARCHITECTURE.md "Session tokens"): binary layout, base64url text form, HMAC-SHA256
// signing with the first key of a KeyRing and verification with any of them.
#include "session/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <limits>
#include <stdexcept>
#include <unordered_set>

namespace cx::session {

// Wire format, version 1, before base64url (no padding):
//
//   version (1) | keyIdLen (1) | keyId (keyIdLen) | replid (20, raw) |
//   writeOffset (8, BE) | readOffset (8, BE) | issuedAtMs (8, BE) | HMAC-SHA256 (32)
//
// Why it is built this way:
// - There is no algorithm field: the version fixes the algorithm, so a client cannot
//   talk us into a weaker one ("alg: none"). A new algorithm means a new version.
// - The MAC covers every byte before it, including the version and key id, so neither
//   can be swapped without detection. The length is fully determined by keyIdLen, so a
//   truncated or extended token is rejected before the MAC is even computed.
// - The text form must be canonical: padding and non-zero unused bits in the last
//   base64 character are rejected. Otherwise several texts would decode to the same
//   bytes and flipping a bit of the text would not always invalidate the token.
// - The MAC comparison is constant time (CRYPTO_memcmp). Key lookup is not: key ids
//   are not secret.
// What is not guaranteed here: that the positions are still meaningful. A valid token
// may name a history that has since been lost; the router checks that against ROLE.
namespace {

constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kMaxKeyIdBytes = 16;
constexpr std::size_t kMinSecretBytes = 16;
constexpr std::size_t kRandomSecretBytes = 32;
constexpr std::size_t kReplidBytes = 20;
constexpr std::size_t kReplidHexChars = kReplidBytes * 2;
constexpr std::size_t kMacBytes = 32;
// Everything except the key id bytes: version, keyIdLen, replid, three u64s, MAC.
constexpr std::size_t kFixedBytes = 1 + 1 + kReplidBytes + 3 * 8 + kMacBytes;

constexpr std::string_view kBase64UrlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kHexDigits = "0123456789abcdef";

// Value of each byte as a hex digit / base64url character, or -1: one lookup per char.
constexpr std::array<std::int8_t, 256> makeTable(std::string_view digits, bool caseless) {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    table[static_cast<std::uint8_t>(digits[i])] = static_cast<std::int8_t>(i);
    if (caseless && digits[i] >= 'a' && digits[i] <= 'f') {
      table[static_cast<std::uint8_t>(digits[i] - 'a' + 'A')] = static_cast<std::int8_t>(i);
    }
  }
  return table;
}
constexpr auto kHexValue = makeTable(kHexDigits, true);
constexpr auto kBase64UrlValue = makeTable(kBase64UrlAlphabet, false);

// Decodes hex (either case) into raw bytes; nullopt on an odd length or a non-hex char.
std::optional<std::string> decodeHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = kHexValue[static_cast<std::uint8_t>(hex[2 * i])];
    const int lo = kHexValue[static_cast<std::uint8_t>(hex[2 * i + 1])];
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

std::string encodeBase64Url(std::string_view bytes) {
  std::string out((bytes.size() * 4 + 2) / 3, '\0');
  const auto* in = reinterpret_cast<const std::uint8_t*>(bytes.data());
  char* o = out.data();
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {  // 3 bytes -> 4 characters
    const std::uint32_t v = std::uint32_t{in[i]} << 16 | std::uint32_t{in[i + 1]} << 8 | in[i + 2];
    *o++ = kBase64UrlAlphabet[v >> 18];
    *o++ = kBase64UrlAlphabet[(v >> 12) & 0x3F];
    *o++ = kBase64UrlAlphabet[(v >> 6) & 0x3F];
    *o++ = kBase64UrlAlphabet[v & 0x3F];
  }
  const std::size_t rest = bytes.size() - i;  // 1 byte -> 2 characters, 2 -> 3; no padding
  if (rest > 0) {
    const std::uint32_t v = std::uint32_t{in[i]} << 16 | (rest == 2 ? std::uint32_t{in[i + 1]} << 8 : 0);
    *o++ = kBase64UrlAlphabet[v >> 18];
    *o++ = kBase64UrlAlphabet[(v >> 12) & 0x3F];
    if (rest == 2) *o = kBase64UrlAlphabet[(v >> 6) & 0x3F];
  }
  return out;
}

// Strict decoder: alphabet only, no padding, no impossible length, unused bits zero.
std::optional<std::string> decodeBase64Url(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;  // 6 bits cannot end a byte
  std::string out(text.size() * 3 / 4, '\0');
  char* o = out.data();
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const int value = kBase64UrlValue[static_cast<std::uint8_t>(c)];
    if (value < 0) return std::nullopt;
    buffer = ((buffer << 6) | static_cast<std::uint32_t>(value)) & 0xFFFF;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *o++ = static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  if ((buffer & ((1U << bits) - 1)) != 0) return std::nullopt;  // non-canonical tail
  return out;
}

void appendU64(std::string& out, std::uint64_t value) {
  char be[8];
  for (int i = 0; i < 8; ++i) be[i] = static_cast<char>((value >> (56 - 8 * i)) & 0xFF);
  out.append(be, 8);
}

std::uint64_t readU64(std::string_view bytes, std::size_t at) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    value = (value << 8) | static_cast<std::uint8_t>(bytes[at + i]);
  }
  return value;
}

}  // namespace

// HMAC (RFC 2104) with the key's padded states hashed once, up front: a token is signed
// or checked on most requests, and OpenSSL's one-shot HMAC() fetches the algorithm and
// builds a context every time, which cost more than the rest of a read. Each MAC now is
// two context copies and two short digests.
struct KeyRing::MacState {
  EVP_MD_CTX* inner = nullptr;  // SHA-256 after (key ^ ipad)
  EVP_MD_CTX* outer = nullptr;  // SHA-256 after (key ^ opad)

  explicit MacState(std::string_view secret) {
    constexpr std::size_t kBlock = 64;  // SHA-256 block size
    std::array<unsigned char, kBlock> key{};
    if (secret.size() > kBlock) {
      unsigned int len = 0;
      EVP_Digest(secret.data(), secret.size(), key.data(), &len, EVP_sha256(), nullptr);
    } else {
      std::copy(secret.begin(), secret.end(), key.begin());
    }
    std::array<unsigned char, kBlock> ipad{};
    std::array<unsigned char, kBlock> opad{};
    for (std::size_t i = 0; i < kBlock; ++i) {
      ipad[i] = key[i] ^ 0x36;
      opad[i] = key[i] ^ 0x5c;
    }
    inner = EVP_MD_CTX_new();
    outer = EVP_MD_CTX_new();
    if (!inner || !outer || EVP_DigestInit_ex(inner, EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(inner, ipad.data(), ipad.size()) != 1 ||
        EVP_DigestInit_ex(outer, EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(outer, opad.data(), opad.size()) != 1) {
      EVP_MD_CTX_free(inner);
      EVP_MD_CTX_free(outer);
      throw std::runtime_error("session keys: OpenSSL could not set up HMAC-SHA256");
    }
    OPENSSL_cleanse(key.data(), key.size());
    OPENSSL_cleanse(ipad.data(), ipad.size());
    OPENSSL_cleanse(opad.data(), opad.size());
  }
  ~MacState() {
    EVP_MD_CTX_free(inner);
    EVP_MD_CTX_free(outer);
  }
  MacState(const MacState&) = delete;
  MacState& operator=(const MacState&) = delete;
};

namespace {

// HMAC-SHA256 of `message`; nullopt only if OpenSSL itself fails. Safe from any thread:
// the shared states are only read (copied from).
std::optional<std::array<unsigned char, kMacBytes>> computeMac(const KeyRing::MacState& state,
                                                               std::string_view message) {
  struct Scratch {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Scratch() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Scratch scratch;
  std::array<unsigned char, kMacBytes> innerHash{};
  std::array<unsigned char, kMacBytes> mac{};
  unsigned int len = 0;
  EVP_MD_CTX* ctx = scratch.ctx;
  if (ctx == nullptr || EVP_MD_CTX_copy_ex(ctx, state.inner) != 1 ||
      EVP_DigestUpdate(ctx, message.data(), message.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, innerHash.data(), &len) != 1 || len != kMacBytes ||
      EVP_MD_CTX_copy_ex(ctx, state.outer) != 1 || EVP_DigestUpdate(ctx, innerHash.data(), innerHash.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, mac.data(), &len) != 1 || len != kMacBytes) {
    return std::nullopt;
  }
  return mac;
}

bool isValidKeyId(std::string_view id) {
  if (id.empty() || id.size() > kMaxKeyIdBytes) return false;
  for (const char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string_view trim(std::string_view s, std::string_view blanks) {
  const auto first = s.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(blanks);
  return s.substr(first, last - first + 1);
}

// Validates a whole ring. Messages name the key id (never the secret); an invalid id
// is not echoed either, since a misplaced secret could be sitting in the id position.
void validateKeys(const std::vector<KeyRing::Key>& keys) {
  if (keys.empty()) throw std::invalid_argument("session keys: no keys configured");
  std::unordered_set<std::string_view> seen;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const KeyRing::Key& key = keys[i];
    if (!isValidKeyId(key.id)) {
      throw std::invalid_argument("session keys: key #" + std::to_string(i + 1) + ": key id must be 1.." +
                                  std::to_string(kMaxKeyIdBytes) + " characters of [A-Za-z0-9_-] (got " +
                                  std::to_string(key.id.size()) + " characters)");
    }
    if (key.secret.size() < kMinSecretBytes) {
      throw std::invalid_argument("session keys: key '" + key.id + "': secret is " + std::to_string(key.secret.size()) +
                                  " bytes, need at least " + std::to_string(kMinSecretBytes));
    }
    if (!seen.insert(key.id).second) {
      throw std::invalid_argument("session keys: key '" + key.id + "' appears more than once");
    }
  }
}

DecodeResult failure(TokenError error) { return DecodeResult{std::nullopt, error}; }

}  // namespace

std::string_view toString(TokenError error) {
  switch (error) {
    case TokenError::Malformed: return "malformed";
    case TokenError::TooLarge: return "too_large";
    case TokenError::UnknownKey: return "unknown_key";
    case TokenError::BadSignature: return "bad_signature";
  }
  return "unknown";
}

KeyRing::KeyRing(std::vector<Key> keys) : keys_(std::move(keys)) {
  validateKeys(keys_);
  for (const Key& key : keys_) macs_.push_back(std::make_shared<const MacState>(key.secret));
}

KeyRing KeyRing::fromSpec(std::string_view spec) {
  constexpr std::string_view kBlanks = " \t\r\n";  // env vars and files often carry these
  spec = trim(spec, kBlanks);
  if (spec.empty()) throw std::invalid_argument("session keys: spec is empty");

  std::vector<Key> keys;
  std::size_t index = 0;
  while (true) {
    ++index;
    const auto comma = spec.find(',');
    const std::string_view entry = trim(spec.substr(0, comma), kBlanks);
    const std::string where = "session keys: entry #" + std::to_string(index);
    if (entry.empty()) throw std::invalid_argument(where + " is empty");
    const auto colon = entry.find(':');
    if (colon == std::string_view::npos) {
      // Do not echo the entry: it may well be a bare secret.
      throw std::invalid_argument(where + ": expected 'id:hexsecret', found no ':'");
    }
    Key key;
    key.id = std::string(trim(entry.substr(0, colon), kBlanks));
    if (!isValidKeyId(key.id)) {
      throw std::invalid_argument(where + ": key id must be 1.." + std::to_string(kMaxKeyIdBytes) +
                                  " characters of [A-Za-z0-9_-] (got " + std::to_string(key.id.size()) +
                                  " characters)");
    }
    const std::string_view hex = trim(entry.substr(colon + 1), kBlanks);
    auto secret = decodeHex(hex);
    if (!secret) {
      throw std::invalid_argument("session keys: key '" + key.id + "': secret must be an even number of hex digits");
    }
    key.secret = std::move(*secret);
    keys.push_back(std::move(key));
    if (comma == std::string_view::npos) break;
    spec.remove_prefix(comma + 1);
  }
  return KeyRing(std::move(keys));  // checks lengths and duplicates
}

KeyRing KeyRing::random() {
  std::string secret(kRandomSecretBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), static_cast<int>(secret.size())) != 1) {
    throw std::runtime_error("session keys: OpenSSL RAND_bytes failed");
  }
  return KeyRing({Key{"ephemeral", std::move(secret)}});
}

std::string KeyRing::encode(const SessionToken& token) const {
  const Key& key = keys_.front();
  std::string bytes;
  bytes.reserve(kFixedBytes + key.id.size());
  bytes.push_back(static_cast<char>(kVersion));
  bytes.push_back(static_cast<char>(key.id.size()));
  bytes.append(key.id);

  // The caller passes a replid as Redis reports it. If it is not 40 hex chars we still
  // must not throw on the data path: sign an all-zero replid, which names no real
  // history, so the token is rejected later as from a lost history.
  const auto replid = token.replid.size() == kReplidHexChars ? decodeHex(token.replid) : std::nullopt;
  bytes.append(replid ? *replid : std::string(kReplidBytes, '\0'));

  appendU64(bytes, token.writeOffset);
  appendU64(bytes, token.readOffset);
  const auto issuedMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(token.issuedAt.time_since_epoch()).count();
  appendU64(bytes, issuedMs < 0 ? 0 : static_cast<std::uint64_t>(issuedMs));

  // On an OpenSSL failure the MAC stays zero and the token will simply not verify.
  const auto mac = computeMac(*macs_.front(), bytes);
  if (mac) {
    bytes.append(reinterpret_cast<const char*>(mac->data()), mac->size());
  } else {
    bytes.append(kMacBytes, '\0');
  }
  return encodeBase64Url(bytes);
}

DecodeResult KeyRing::decode(std::string_view text) const {
  if (text.size() > kMaxTokenBytes) return failure(TokenError::TooLarge);
  const auto decoded = decodeBase64Url(text);
  if (!decoded) return failure(TokenError::Malformed);
  const std::string_view bytes = *decoded;

  if (bytes.size() < 2) return failure(TokenError::Malformed);
  if (static_cast<std::uint8_t>(bytes[0]) != kVersion) return failure(TokenError::Malformed);
  const std::size_t keyIdLen = static_cast<std::uint8_t>(bytes[1]);
  if (keyIdLen == 0 || keyIdLen > kMaxKeyIdBytes) return failure(TokenError::Malformed);
  if (bytes.size() != kFixedBytes + keyIdLen) return failure(TokenError::Malformed);

  const std::string_view keyId = bytes.substr(2, keyIdLen);
  const Key* key = nullptr;
  for (const Key& candidate : keys_) {
    if (candidate.id == keyId) {
      key = &candidate;
      break;
    }
  }
  if (key == nullptr) return failure(TokenError::UnknownKey);

  const std::size_t macAt = bytes.size() - kMacBytes;
  const auto expected = computeMac(*macs_[static_cast<std::size_t>(key - keys_.data())], bytes.substr(0, macAt));
  if (!expected || CRYPTO_memcmp(expected->data(), bytes.data() + macAt, kMacBytes) != 0) {
    return failure(TokenError::BadSignature);
  }

  std::size_t at = 2 + keyIdLen;
  SessionToken token;
  token.keyId = std::string(keyId);
  token.replid.reserve(kReplidHexChars);
  for (std::size_t i = 0; i < kReplidBytes; ++i) {
    const auto byte = static_cast<std::uint8_t>(bytes[at + i]);
    token.replid.push_back(kHexDigits[byte >> 4]);
    token.replid.push_back(kHexDigits[byte & 0x0F]);
  }
  at += kReplidBytes;
  token.writeOffset = readU64(bytes, at);
  token.readOffset = readU64(bytes, at + 8);
  const std::uint64_t issuedMs = readU64(bytes, at + 16);

  // Guard the conversion back to system_clock (nanoseconds on libstdc++) from overflow.
  // encode() never produces such a value; a signed one can only come from our own key.
  using SystemDuration = std::chrono::system_clock::duration;
  constexpr auto kMaxMs = std::chrono::duration_cast<std::chrono::milliseconds>(SystemDuration::max()).count();
  if (issuedMs > static_cast<std::uint64_t>(kMaxMs)) return failure(TokenError::Malformed);
  token.issuedAt = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<SystemDuration>(std::chrono::milliseconds(static_cast<std::int64_t>(issuedMs))));
  return DecodeResult{std::move(token), TokenError::Malformed};
}

KeyRing::DecodeListResult KeyRing::decodeList(std::string_view headerValue) const {
  DecodeListResult result;
  if (headerValue.size() > kMaxTokenBytes * 8) {
    result.error = TokenError::TooLarge;
    return result;
  }
  while (!headerValue.empty()) {
    const auto comma = headerValue.find(',');
    const std::string_view piece = trim(headerValue.substr(0, comma), " \t");
    if (!piece.empty()) {
      DecodeResult decoded = decode(piece);
      if (!decoded.token) {
        result.tokens.clear();
        result.error = decoded.error;
        return result;
      }
      result.tokens.push_back(std::move(*decoded.token));
    }
    if (comma == std::string_view::npos) break;
    headerValue.remove_prefix(comma + 1);
  }
  return result;
}

}  // namespace cx::session
