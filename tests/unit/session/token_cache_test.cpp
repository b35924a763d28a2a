// Unit tests for the token memos: verified header values (exact bytes hit, anything else
// misses) and recently signed tokens (same positions within the window, same text).
#include "session/token_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace cx::session {
namespace {

VerifiedTokenCache::TokenList tokensWithRead(std::uint64_t readOffset) {
  SessionToken t;
  t.keyId = "k1";
  t.replid = std::string(40, 'a');
  t.readOffset = readOffset;
  return std::make_shared<const std::vector<SessionToken>>(std::vector<SessionToken>{t});
}

TEST(VerifiedTokenCache, RemembersExactHeaderValues) {
  VerifiedTokenCache cache;
  EXPECT_EQ(cache.find("AQVrMQ-token"), nullptr);
  cache.remember("AQVrMQ-token", tokensWithRead(7));
  const auto hit = cache.find("AQVrMQ-token");
  ASSERT_NE(hit, nullptr);
  ASSERT_EQ(hit->size(), 1u);
  EXPECT_EQ((*hit)[0].readOffset, 7u);
}

TEST(VerifiedTokenCache, AListFoundOutlivesItsSlot) {
  // A request keeps the tokens it was given while another value takes the slot.
  VerifiedTokenCache cache;
  cache.remember("token-0", tokensWithRead(1));
  const auto held = cache.find("token-0");
  ASSERT_NE(held, nullptr);
  for (std::uint64_t i = 1; i < 4 * VerifiedTokenCache::kSlots; ++i) {
    cache.remember("token-" + std::to_string(i), tokensWithRead(100 + i));
  }
  EXPECT_EQ(cache.find("token-0"), nullptr);  // its slot was taken
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ((*held)[0].readOffset, 1u);
  EXPECT_EQ((*held)[0].replid, std::string(40, 'a'));
}

TEST(VerifiedTokenCache, AnyOtherValueMisses) {
  VerifiedTokenCache cache;
  cache.remember("AQVrMQ-token", tokensWithRead(7));
  EXPECT_EQ(cache.find("AQVrMQ-tokeN"), nullptr);   // one character changed
  EXPECT_EQ(cache.find("AQVrMQ-toke"), nullptr);    // truncated
  EXPECT_EQ(cache.find("AQVrMQ-token "), nullptr);  // extended
  EXPECT_EQ(cache.find(""), nullptr);
}

TEST(VerifiedTokenCache, ASlotHoldsTheNewestValue) {
  VerifiedTokenCache cache;
  // More values than slots: every remembered value is either found with its own tokens
  // or missing, never answered with another value's tokens.
  for (std::uint64_t i = 0; i < 3 * VerifiedTokenCache::kSlots; ++i) {
    cache.remember("token-" + std::to_string(i), tokensWithRead(i));
  }
  std::size_t found = 0;
  for (std::uint64_t i = 0; i < 3 * VerifiedTokenCache::kSlots; ++i) {
    if (const auto hit = cache.find("token-" + std::to_string(i))) {
      ++found;
      EXPECT_EQ((*hit)[0].readOffset, i);
    }
  }
  EXPECT_GT(found, 0u);
  EXPECT_LE(found, VerifiedTokenCache::kSlots);
  // The newest value is always there.
  EXPECT_NE(cache.find("token-" + std::to_string(3 * VerifiedTokenCache::kSlots - 1)), nullptr);
}

TEST(VerifiedTokenCache, OversizedValuesAreNotKept) {
  VerifiedTokenCache cache;
  const std::string huge(kMaxTokenBytes + 1, 'x');
  cache.remember(huge, tokensWithRead(1));
  EXPECT_EQ(cache.find(huge), nullptr);
}

SessionToken positions(std::uint64_t write, std::uint64_t read) {
  SessionToken t;
  t.replid = std::string(40, 'a');
  t.writeOffset = write;
  t.readOffset = read;
  return t;
}

// The positions of `t`, through RecentTokens (which takes them one by one).
const std::string& encodeToken(RecentTokens& recent, const KeyRing& keys, const SessionToken& t,
                               RecentTokens::Clock::time_point now, std::chrono::milliseconds maxAge) {
  return recent.encode(keys, t.replid, t.writeOffset, t.readOffset, now, maxAge);
}

KeyRing testRing() { return KeyRing::fromSpec("k1:" + std::string(64, '1')); }

TEST(RecentTokens, SamePositionsWithinTheWindowGetTheSameText) {
  const KeyRing keys = testRing();
  RecentTokens recent;
  const auto t0 = RecentTokens::Clock::time_point{} + std::chrono::hours(1);
  const std::string first = encodeToken(recent, keys, positions(10, 20), t0, std::chrono::milliseconds(1000));
  EXPECT_EQ(encodeToken(recent, keys, positions(10, 20), t0 + std::chrono::milliseconds(999),
                        std::chrono::milliseconds(1000)),
            first);
  // What it hands out is a valid token for exactly those positions.
  const auto decoded = keys.decode(first);
  ASSERT_TRUE(decoded.token);
  EXPECT_EQ(decoded.token->writeOffset, 10u);
  EXPECT_EQ(decoded.token->readOffset, 20u);
  EXPECT_EQ(decoded.token->replid, std::string(40, 'a'));
}

TEST(RecentTokens, OtherPositionsOrAnOlderSignatureGetANewToken) {
  const KeyRing keys = testRing();
  RecentTokens recent;
  const auto t0 = RecentTokens::Clock::time_point{} + std::chrono::hours(1);
  const std::string first = encodeToken(recent, keys, positions(10, 20), t0, std::chrono::milliseconds(1000));
  const std::string otherRead = encodeToken(recent, keys, positions(10, 21), t0, std::chrono::milliseconds(1000));
  EXPECT_NE(otherRead, first);
  EXPECT_EQ(keys.decode(otherRead).token->readOffset, 21u);
  const std::string otherWrite = encodeToken(recent, keys, positions(11, 20), t0, std::chrono::milliseconds(1000));
  EXPECT_EQ(keys.decode(otherWrite).token->writeOffset, 11u);
  SessionToken otherHistory = positions(10, 20);
  otherHistory.replid = std::string(40, 'b');
  EXPECT_EQ(keys.decode(encodeToken(recent, keys, otherHistory, t0, std::chrono::milliseconds(1000))).token->replid,
            std::string(40, 'b'));
  // Past the window the same positions are signed again, with a newer issue time.
  const std::string later = encodeToken(recent, keys, positions(10, 20), t0 + std::chrono::milliseconds(1001),
                                        std::chrono::milliseconds(1000));
  const auto again = keys.decode(later);
  ASSERT_TRUE(again.token);
  EXPECT_EQ(again.token->readOffset, 20u);
  EXPECT_GE(again.token->issuedAt, keys.decode(first).token->issuedAt);
}

}  // namespace
}  // namespace cx::session
