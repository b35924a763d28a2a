// Unit tests for the verified-token memo: exact bytes hit, anything else misses.
#include "session/token_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cx::session {
namespace {

std::vector<SessionToken> tokensWithRead(std::uint64_t readOffset) {
  SessionToken t;
  t.keyId = "k1";
  t.replid = std::string(40, 'a');
  t.readOffset = readOffset;
  return {t};
}

TEST(VerifiedTokenCache, RemembersExactHeaderValues) {
  VerifiedTokenCache cache;
  EXPECT_EQ(cache.find("AQVrMQ-token"), nullptr);
  cache.remember("AQVrMQ-token", tokensWithRead(7));
  const auto* hit = cache.find("AQVrMQ-token");
  ASSERT_NE(hit, nullptr);
  ASSERT_EQ(hit->size(), 1u);
  EXPECT_EQ((*hit)[0].readOffset, 7u);
}

TEST(VerifiedTokenCache, AnyOtherValueMisses) {
  VerifiedTokenCache cache;
  cache.remember("AQVrMQ-token", tokensWithRead(7));
  EXPECT_EQ(cache.find("AQVrMQ-tokeN"), nullptr);  // one character changed
  EXPECT_EQ(cache.find("AQVrMQ-toke"), nullptr);   // truncated
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
    if (const auto* hit = cache.find("token-" + std::to_string(i))) {
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

}  // namespace
}  // namespace cx::session
