// The token MAC is exactly HMAC-SHA256 (RFC 2104), checked against OpenSSL's own HMAC()
// for keys shorter than, equal to and longer than the SHA-256 block.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

#include "session/token.h"

namespace cx::session {
namespace {

std::string base64UrlDecode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    buffer = (buffer << 6) | static_cast<unsigned>(value(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

class TokenMacTest : public ::testing::TestWithParam<std::size_t> {};

TEST_P(TokenMacTest, MacEqualsOpenSslHmacSha256) {
  std::string secret;
  for (std::size_t i = 0; i < GetParam(); ++i) secret.push_back(static_cast<char>(i * 7 + 3));
  KeyRing ring({KeyRing::Key{"k1", secret}});
  SessionToken token;
  token.replid = std::string(40, 'a');
  token.writeOffset = 12345;
  token.readOffset = 678;
  const std::string bytes = base64UrlDecode(ring.encode(token));
  ASSERT_GT(bytes.size(), 32u);
  const std::string_view message(bytes.data(), bytes.size() - 32);
  unsigned char expected[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), expected, &len);
  ASSERT_EQ(len, 32u);
  EXPECT_EQ(std::string(bytes.data() + message.size(), 32), std::string(reinterpret_cast<char*>(expected), 32));
  EXPECT_TRUE(ring.decode(ring.encode(token)).token.has_value());
}

INSTANTIATE_TEST_SUITE_P(KeyLengths, TokenMacTest, ::testing::Values(16, 32, 63, 64, 65, 100, 200));

}  // namespace
}  // namespace cx::session
