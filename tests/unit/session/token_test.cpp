// Unit tests for the session token codec and key ring: round trips, tamper detection
// (bit flips, truncation, extension, forgery), key rotation, key spec parsing, lists.
#include "session/token.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace cx::session {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

// 32-byte secrets, hex.
constexpr std::string_view kOldSecretHex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
constexpr std::string_view kNewSecretHex = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
constexpr std::string_view kReplid = "8f2a6d1b3c4e5f60718293a4b5c6d7e8f9012345";

std::string spec(std::string_view id, std::string_view hex) { return std::string(id) + ":" + std::string(hex); }

SessionToken sampleToken() {
  SessionToken token;
  token.replid = std::string(kReplid);
  token.writeOffset = 0x0102030405060708ULL;
  token.readOffset = 123456789;
  token.issuedAt = system_clock::time_point(milliseconds(1'700'000'000'123LL));
  return token;
}

// Independent base64url codec so tests can tamper with the binary form.
constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string toBase64Url(const std::string& bytes) {
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::string fromBase64Url(const std::string& text) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const auto pos = kAlphabet.find(c);
    EXPECT_NE(pos, std::string_view::npos);
    buffer = (buffer << 6) | static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

class TokenTest : public ::testing::Test {
 protected:
  KeyRing oldRing_ = KeyRing::fromSpec(spec("k2024", kOldSecretHex));
};

TEST_F(TokenTest, RoundTripPreservesEveryField) {
  const std::string text = oldRing_.encode(sampleToken());
  const DecodeResult result = oldRing_.decode(text);
  ASSERT_TRUE(result.token.has_value()) << toString(result.error);
  EXPECT_EQ(result.token->keyId, "k2024");
  EXPECT_EQ(result.token->replid, kReplid);
  EXPECT_EQ(result.token->writeOffset, 0x0102030405060708ULL);
  EXPECT_EQ(result.token->readOffset, 123456789U);
  EXPECT_EQ(result.token->issuedAt, sampleToken().issuedAt);
}

TEST_F(TokenTest, RoundTripExtremeValues) {
  SessionToken token = sampleToken();
  token.writeOffset = UINT64_MAX;
  token.readOffset = 0;
  token.issuedAt = system_clock::time_point{};
  const DecodeResult result = oldRing_.decode(oldRing_.encode(token));
  ASSERT_TRUE(result.token.has_value());
  EXPECT_EQ(result.token->writeOffset, UINT64_MAX);
  EXPECT_EQ(result.token->readOffset, 0U);
  EXPECT_EQ(result.token->issuedAt, system_clock::time_point{});
}

TEST_F(TokenTest, IssuedAtIsTruncatedToMilliseconds) {
  SessionToken token = sampleToken();
  token.issuedAt += std::chrono::microseconds(999);
  const DecodeResult result = oldRing_.decode(oldRing_.encode(token));
  ASSERT_TRUE(result.token.has_value());
  EXPECT_EQ(result.token->issuedAt, sampleToken().issuedAt);
}

TEST_F(TokenTest, UppercaseReplidComesBackLowercase) {
  SessionToken token = sampleToken();
  token.replid = "8F2A6D1B3C4E5F60718293A4B5C6D7E8F9012345";
  const DecodeResult result = oldRing_.decode(oldRing_.encode(token));
  ASSERT_TRUE(result.token.has_value());
  EXPECT_EQ(result.token->replid, kReplid);
}

TEST_F(TokenTest, InvalidReplidEncodesAsZeroHistoryWithoutThrowing) {
  SessionToken token = sampleToken();
  token.replid = "not-a-replid";
  std::string text;
  ASSERT_NO_THROW(text = oldRing_.encode(token));
  const DecodeResult result = oldRing_.decode(text);
  ASSERT_TRUE(result.token.has_value());
  EXPECT_EQ(result.token->replid, std::string(40, '0'));
}

TEST_F(TokenTest, TextIsBase64UrlWithoutPadding) {
  const std::string text = oldRing_.encode(sampleToken());
  EXPECT_EQ(text.find_first_not_of(kAlphabet), std::string::npos) << text;
  // 1 + 1 + 5 + 20 + 24 + 32 = 83 bytes -> 111 chars unpadded.
  EXPECT_EQ(text.size(), 111U);
}

TEST_F(TokenTest, EveryBitFlipOfTheTextFails) {
  const std::string text = oldRing_.encode(sampleToken());
  for (std::size_t i = 0; i < text.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string tampered = text;
      tampered[i] = static_cast<char>(tampered[i] ^ (1 << bit));
      EXPECT_FALSE(oldRing_.decode(tampered).token.has_value()) << "char " << i << " bit " << bit;
    }
  }
}

TEST_F(TokenTest, EveryBitFlipOfTheBinaryFormFails) {
  const std::string bytes = fromBase64Url(oldRing_.encode(sampleToken()));
  ASSERT_EQ(toBase64Url(bytes), oldRing_.encode(sampleToken()));
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string tampered = bytes;
      tampered[i] = static_cast<char>(tampered[i] ^ (1 << bit));
      const DecodeResult result = oldRing_.decode(toBase64Url(tampered));
      EXPECT_FALSE(result.token.has_value()) << "byte " << i << " bit " << bit;
      if (i >= 7) {  // past version, length and key id: only the MAC can catch it
        EXPECT_EQ(result.error, TokenError::BadSignature) << "byte " << i;
      }
    }
  }
}

TEST_F(TokenTest, TruncationAtEveryLengthFails) {
  const std::string text = oldRing_.encode(sampleToken());
  for (std::size_t len = 0; len < text.size(); ++len) {
    const DecodeResult result = oldRing_.decode(text.substr(0, len));
    EXPECT_FALSE(result.token.has_value()) << "length " << len;
    EXPECT_EQ(result.error, TokenError::Malformed) << "length " << len;
  }
}

TEST_F(TokenTest, BinaryTruncationAtEveryLengthFails) {
  const std::string bytes = fromBase64Url(oldRing_.encode(sampleToken()));
  for (std::size_t len = 0; len < bytes.size(); ++len) {
    EXPECT_FALSE(oldRing_.decode(toBase64Url(bytes.substr(0, len))).token.has_value()) << "length " << len;
  }
}

TEST_F(TokenTest, AppendedBytesFail) {
  const std::string text = oldRing_.encode(sampleToken());
  for (const std::string suffix : {"A", "AA", "AAA", "AAAA", "-", "_x", "="}) {
    EXPECT_FALSE(oldRing_.decode(text + suffix).token.has_value()) << suffix;
  }
  const std::string bytes = fromBase64Url(text);
  for (int n = 1; n <= 4; ++n) {
    const DecodeResult result = oldRing_.decode(toBase64Url(bytes + std::string(static_cast<std::size_t>(n), '\0')));
    EXPECT_FALSE(result.token.has_value());
    EXPECT_EQ(result.error, TokenError::Malformed);
  }
}

TEST_F(TokenTest, PaddingAndForeignCharactersAreMalformed) {
  const std::string text = oldRing_.encode(sampleToken());  // 111 chars: one '=' would pad
  EXPECT_EQ(oldRing_.decode(text + "=").error, TokenError::Malformed);
  std::string standardAlphabet = text;
  standardAlphabet[10] = '+';
  EXPECT_EQ(oldRing_.decode(standardAlphabet).error, TokenError::Malformed);
  EXPECT_EQ(oldRing_.decode(" " + text).error, TokenError::Malformed);
  EXPECT_EQ(oldRing_.decode("").error, TokenError::Malformed);
}

TEST_F(TokenTest, NonCanonicalLastCharacterIsMalformed) {
  // 83 bytes: the last character carries 4 data bits and 2 unused ones, which must be 0.
  // Setting them would decode to the same bytes, so it must be rejected by the codec.
  const std::string text = oldRing_.encode(sampleToken());
  const auto last = kAlphabet.find(text.back());
  ASSERT_EQ(last % 4, 0U);
  for (std::size_t unused = 1; unused < 4; ++unused) {
    std::string tampered = text;
    tampered.back() = kAlphabet[last | unused];
    const DecodeResult result = oldRing_.decode(tampered);
    EXPECT_FALSE(result.token.has_value());
    EXPECT_EQ(result.error, TokenError::Malformed);
  }
}

TEST_F(TokenTest, UnknownVersionIsMalformed) {
  std::string bytes = fromBase64Url(oldRing_.encode(sampleToken()));
  bytes[0] = 2;
  const DecodeResult result = oldRing_.decode(toBase64Url(bytes));
  EXPECT_FALSE(result.token.has_value());
  EXPECT_EQ(result.error, TokenError::Malformed);
}

TEST_F(TokenTest, WrongLengthForDeclaredKeyIdIsMalformed) {
  std::string bytes = fromBase64Url(oldRing_.encode(sampleToken()));
  bytes[1] = 4;  // declares "k202", one byte short of what follows
  EXPECT_EQ(oldRing_.decode(toBase64Url(bytes)).error, TokenError::Malformed);
  bytes[1] = 0;
  EXPECT_EQ(oldRing_.decode(toBase64Url(bytes)).error, TokenError::Malformed);
}

TEST_F(TokenTest, UnknownKeyIdIsReported) {
  const KeyRing other = KeyRing::fromSpec(spec("other", kOldSecretHex));
  const DecodeResult result = oldRing_.decode(other.encode(sampleToken()));
  EXPECT_FALSE(result.token.has_value());
  EXPECT_EQ(result.error, TokenError::UnknownKey);
}

TEST_F(TokenTest, ForgedWithAnotherSecretUnderTheSameIdFails) {
  const KeyRing forger = KeyRing::fromSpec(spec("k2024", kNewSecretHex));
  const DecodeResult result = oldRing_.decode(forger.encode(sampleToken()));
  EXPECT_FALSE(result.token.has_value());
  EXPECT_EQ(result.error, TokenError::BadSignature);
}

TEST_F(TokenTest, RotationVerifiesOldTokensAndSignsWithNewKey) {
  const std::string oldToken = oldRing_.encode(sampleToken());
  const KeyRing rotated = KeyRing::fromSpec(spec("k2025", kNewSecretHex) + "," + spec("k2024", kOldSecretHex));
  EXPECT_EQ(rotated.signingKeyId(), "k2025");

  const DecodeResult fromOld = rotated.decode(oldToken);
  ASSERT_TRUE(fromOld.token.has_value());
  EXPECT_EQ(fromOld.token->keyId, "k2024");

  const std::string newToken = rotated.encode(sampleToken());
  const DecodeResult fromNew = rotated.decode(newToken);
  ASSERT_TRUE(fromNew.token.has_value());
  EXPECT_EQ(fromNew.token->keyId, "k2025");
  // An instance not yet rotated does not know the new key.
  EXPECT_EQ(oldRing_.decode(newToken).error, TokenError::UnknownKey);
}

TEST_F(TokenTest, KeyIdInTokenIgnoredForSigningKeyChoice) {
  SessionToken token = sampleToken();
  token.keyId = "someone-else";
  const DecodeResult result = oldRing_.decode(oldRing_.encode(token));
  ASSERT_TRUE(result.token.has_value());
  EXPECT_EQ(result.token->keyId, "k2024");
}

TEST_F(TokenTest, OversizeTokenIsTooLarge) {
  const std::string huge(kMaxTokenBytes + 1, 'A');
  const DecodeResult result = oldRing_.decode(huge);
  EXPECT_FALSE(result.token.has_value());
  EXPECT_EQ(result.error, TokenError::TooLarge);
  // At the limit it is merely malformed.
  EXPECT_EQ(oldRing_.decode(std::string(kMaxTokenBytes, 'A')).error, TokenError::Malformed);
}

TEST_F(TokenTest, RandomRingSignsAndVerifiesWithUniqueKey) {
  const KeyRing a = KeyRing::random();
  const KeyRing b = KeyRing::random();
  EXPECT_EQ(a.signingKeyId(), "ephemeral");
  const std::string text = a.encode(sampleToken());
  EXPECT_TRUE(a.decode(text).token.has_value());
  EXPECT_EQ(b.decode(text).error, TokenError::BadSignature);
}

TEST(TokenErrorTest, ToStringNamesEveryReason) {
  EXPECT_EQ(toString(TokenError::Malformed), "malformed");
  EXPECT_EQ(toString(TokenError::TooLarge), "too_large");
  EXPECT_EQ(toString(TokenError::UnknownKey), "unknown_key");
  EXPECT_EQ(toString(TokenError::BadSignature), "bad_signature");
}

// --- decodeList ---------------------------------------------------------------------

TEST_F(TokenTest, DecodeListAcceptsSeveralTokensWithSpacesAndEmptyPieces) {
  SessionToken second = sampleToken();
  second.writeOffset = 42;
  const std::string a = oldRing_.encode(sampleToken());
  const std::string b = oldRing_.encode(second);
  const auto result = oldRing_.decodeList(" " + a + " ,\t" + b + ", ,");
  ASSERT_FALSE(result.error.has_value()) << toString(*result.error);
  ASSERT_EQ(result.tokens.size(), 2U);
  EXPECT_EQ(result.tokens[0].writeOffset, 0x0102030405060708ULL);
  EXPECT_EQ(result.tokens[1].writeOffset, 42U);
}

TEST_F(TokenTest, DecodeListOfEmptyOrBlankValueIsEmpty) {
  for (const std::string value : {"", " ", ",", " , \t,"}) {
    const auto result = oldRing_.decodeList(value);
    EXPECT_FALSE(result.error.has_value()) << "'" << value << "'";
    EXPECT_TRUE(result.tokens.empty());
  }
}

TEST_F(TokenTest, DecodeListFailsOnOneBadToken) {
  const std::string good = oldRing_.encode(sampleToken());
  std::string bad = good;
  bad[50] = bad[50] == 'A' ? 'B' : 'A';
  const auto result = oldRing_.decodeList(good + "," + bad + "," + good);
  ASSERT_TRUE(result.error.has_value());
  EXPECT_EQ(*result.error, TokenError::BadSignature);
  EXPECT_TRUE(result.tokens.empty());

  const auto unknown = oldRing_.decodeList(good + "," + KeyRing::random().encode(sampleToken()));
  ASSERT_TRUE(unknown.error.has_value());
  EXPECT_EQ(*unknown.error, TokenError::UnknownKey);
}

TEST_F(TokenTest, DecodeListRejectsOversizeHeaderValue) {
  const std::string good = oldRing_.encode(sampleToken());
  std::string value;
  while (value.size() <= kMaxTokenBytes * 8) value += good + ",";
  const auto result = oldRing_.decodeList(value);
  ASSERT_TRUE(result.error.has_value());
  EXPECT_EQ(*result.error, TokenError::TooLarge);

  const auto oneTooLarge = oldRing_.decodeList(good + "," + std::string(kMaxTokenBytes + 1, 'A'));
  ASSERT_TRUE(oneTooLarge.error.has_value());
  EXPECT_EQ(*oneTooLarge.error, TokenError::TooLarge);
}

// --- KeyRing::fromSpec ----------------------------------------------------------------

// Expects fromSpec(spec) to throw invalid_argument whose message contains `mentions`
// and does not contain `secretHex` (if given).
void expectSpecError(const std::string& specText, const std::string& mentions, std::string_view secretHex = {}) {
  try {
    (void)KeyRing::fromSpec(specText);
    ADD_FAILURE() << "no exception for spec with " << mentions;
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(mentions), std::string::npos) << message;
    if (!secretHex.empty()) {
      EXPECT_EQ(message.find(secretHex), std::string::npos) << message;
      EXPECT_EQ(message.find(secretHex.substr(0, 16)), std::string::npos) << message;
    }
  }
}

TEST(KeyRingSpecTest, ParsesSeveralKeysFirstSigns) {
  const KeyRing ring = KeyRing::fromSpec(" a:" + std::string(kOldSecretHex) +
                                         " , B_-9:" + std::string(kNewSecretHex).substr(0, 32) + "\n");
  EXPECT_EQ(ring.signingKeyId(), "a");
}

TEST(KeyRingSpecTest, AcceptsSixteenCharIdAndSixteenByteSecret) {
  const std::string id(16, 'x');
  EXPECT_NO_THROW(KeyRing::fromSpec(id + ":" + std::string(32, 'A')));
}

TEST(KeyRingSpecTest, RejectsEmptySpec) {
  expectSpecError("", "empty");
  expectSpecError("  \n", "empty");
}

TEST(KeyRingSpecTest, RejectsEmptyEntry) {
  expectSpecError(spec("a", kOldSecretHex) + ",", "entry #2 is empty", kOldSecretHex);
  expectSpecError("," + spec("a", kOldSecretHex), "entry #1 is empty", kOldSecretHex);
}

TEST(KeyRingSpecTest, RejectsEntryWithoutColonWithoutEchoingIt) {
  expectSpecError(std::string(kOldSecretHex), "no ':'", kOldSecretHex);
}

TEST(KeyRingSpecTest, RejectsBadKeyIds) {
  expectSpecError(spec("", kOldSecretHex), "key id must be", kOldSecretHex);
  expectSpecError(spec(std::string(17, 'a'), kOldSecretHex), "17 characters", kOldSecretHex);
  expectSpecError(spec("bad.id", kOldSecretHex), "[A-Za-z0-9_-]", kOldSecretHex);
  expectSpecError(spec("sp ace", kOldSecretHex), "entry #1", kOldSecretHex);
}

TEST(KeyRingSpecTest, RejectsNonHexSecretNamingTheKey) {
  const std::string secret = std::string(kOldSecretHex).substr(0, 62) + "zz";
  expectSpecError(spec("k1", secret), "key 'k1'", secret);
  expectSpecError(spec("k1", secret.substr(1)), "hex", secret.substr(1));
}

TEST(KeyRingSpecTest, RejectsShortSecretNamingTheKey) {
  const std::string secret = std::string(kOldSecretHex).substr(0, 30);  // 15 bytes
  expectSpecError(spec("k1", secret), "key 'k1': secret is 15 bytes", secret);
  expectSpecError("k1:", "key 'k1': secret is 0 bytes");
}

TEST(KeyRingSpecTest, RejectsDuplicateIds) {
  expectSpecError(spec("k1", kOldSecretHex) + "," + spec("k1", kNewSecretHex), "key 'k1' appears more than once",
                  kNewSecretHex);
}

TEST(KeyRingTest, ConstructorValidatesKeys) {
  EXPECT_THROW(KeyRing(std::vector<KeyRing::Key>{}), std::invalid_argument);
  EXPECT_THROW(KeyRing({KeyRing::Key{"k", "short"}}), std::invalid_argument);
  EXPECT_THROW(KeyRing({KeyRing::Key{"k/1", std::string(16, 's')}}), std::invalid_argument);
  EXPECT_NO_THROW(KeyRing({KeyRing::Key{"k", std::string(16, 's')}}));
}

}  // namespace
}  // namespace cx::session
