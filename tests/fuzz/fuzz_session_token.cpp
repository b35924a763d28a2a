// Fuzzing of the session token decoder (session/token.h). Properties:
//  - decode() and decodeList() never crash on any text, and a token that decodes encodes
//    back to exactly the same text (canonical form: no two texts for one token);
//  - a token built from the input's bytes round-trips through encode() and decode();
//  - a signed token with any byte of its text changed no longer decodes (or, if it still
//    does, is the same text: impossible for a real change, so that aborts too).
// The first input byte picks the mode. Mode 2 signs arbitrary wire bytes with the ring's
// key, so the decoder's checks after the MAC (lengths, replid, time) are reached too.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "session/token.h"

namespace {

using cx::session::KeyRing;
using cx::session::SessionToken;

const std::string kSecret = "0123456789abcdef0123456789abcdef";

const KeyRing& ring() {
  static const KeyRing r({KeyRing::Key{"k1", kSecret}});
  return r;
}

[[noreturn]] void fail(const char* what, std::string_view text) {
  std::fprintf(stderr, "fuzz_session_token: %s: %.*s\n", what, static_cast<int>(text.size()), text.data());
  std::abort();
}

std::string base64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3f]);
  return out;
}

std::uint64_t take64(std::string_view& in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8 && !in.empty(); ++i) {
    v = (v << 8) | static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
  }
  return v;
}

// Whatever decodes must be the canonical text of what it decoded to.
void checkDecode(std::string_view text) {
  const auto result = ring().decode(text);
  if (result.token && ring().encode(*result.token) != text) fail("a token decodes but re-encodes differently", text);
  if (result.token && result.token->keyId != "k1") fail("decoded with a key id the ring does not have", text);
}

void roundTrip(std::string_view in) {
  static constexpr char kHex[] = "0123456789abcdef";
  SessionToken token;
  for (int i = 0; i < 20; ++i) {
    const unsigned char b = in.empty() ? 0 : static_cast<unsigned char>(in.front());
    if (!in.empty()) in.remove_prefix(1);
    token.replid.push_back(kHex[b >> 4]);
    token.replid.push_back(kHex[b & 0xf]);
  }
  token.writeOffset = take64(in);
  token.readOffset = take64(in);
  // Milliseconds that fit system_clock (nanoseconds): up to year 2262.
  const std::int64_t ms = static_cast<std::int64_t>(take64(in) % 9'000'000'000'000ull);
  token.issuedAt = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
  const std::string text = ring().encode(token);
  const auto back = ring().decode(text);
  if (!back.token) fail("an encoded token does not decode", text);
  if (back.token->replid != token.replid || back.token->writeOffset != token.writeOffset ||
      back.token->readOffset != token.readOffset || back.token->issuedAt != token.issuedAt ||
      back.token->keyId != "k1") {
    fail("a token does not survive encode and decode", text);
  }
  // Change one character of the text (position and new value from the input).
  if (in.size() >= 2) {
    std::string changed = text;
    const std::size_t at = static_cast<unsigned char>(in[0]) % changed.size();
    changed[at] = in[1];
    if (changed != text && ring().decode(changed).token) fail("a changed token still decodes", changed);
    checkDecode(changed);
  }
  // Appended or cut text never decodes either.
  if (ring().decode(text + "A").token || ring().decode(text.substr(0, text.size() - 1)).token) {
    fail("a token with a character more or less decodes", text);
  }
}

// Arbitrary wire bytes, signed with the ring's key: only the decoder's own checks stand
// between them and a token.
void signedBytes(std::string_view in) {
  std::string bytes(in);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), mac, &len);
  bytes.append(reinterpret_cast<const char*>(mac), len);
  checkDecode(base64Url(bytes));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0: checkDecode(in); break;
    case 1: roundTrip(in); break;
    case 2: signedBytes(in); break;
    default: {
      const auto list = ring().decodeList(in);
      if (list.error && !list.tokens.empty()) fail("decodeList failed but returned tokens", in);
      for (const auto& t : list.tokens) {
        if (t.keyId != "k1") fail("decodeList returned a token of an unknown key", in);
      }
    }
  }
  return 0;
}
