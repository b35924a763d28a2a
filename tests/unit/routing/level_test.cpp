// Tests for the X-Consistency values clients send: the level names, in any case, and the
// alias linearizable. parseLevel tries the exact lower-case names before the
// case-insensitive pass, so both passes are covered here.
#include "routing/level.h"

#include <gtest/gtest.h>

namespace cx::routing {
namespace {

TEST(ParseLevel, EveryNameAsWrittenInTheDesign) {
  EXPECT_EQ(parseLevel("strong"), Level::Strong);
  EXPECT_EQ(parseLevel("bounded"), Level::Bounded);
  EXPECT_EQ(parseLevel("session"), Level::Session);
  EXPECT_EQ(parseLevel("prefix"), Level::Prefix);
  EXPECT_EQ(parseLevel("eventual"), Level::Eventual);
  EXPECT_EQ(parseLevel("linearizable"), Level::Strong);
}

TEST(ParseLevel, AnyCaseIsTheSameLevel) {
  EXPECT_EQ(parseLevel("EVENTUAL"), Level::Eventual);
  EXPECT_EQ(parseLevel("Session"), Level::Session);
  EXPECT_EQ(parseLevel("bOuNdEd"), Level::Bounded);
  EXPECT_EQ(parseLevel("Linearizable"), Level::Strong);
}

TEST(ParseLevel, AnythingElseIsRefused) {
  EXPECT_EQ(parseLevel(""), std::nullopt);
  EXPECT_EQ(parseLevel("eventua"), std::nullopt);
  EXPECT_EQ(parseLevel("eventuall"), std::nullopt);
  EXPECT_EQ(parseLevel(" strong"), std::nullopt);
  EXPECT_EQ(parseLevel("weak"), std::nullopt);
}

TEST(ParseLevel, NamesRoundTripThroughToString) {
  for (Level level : {Level::Strong, Level::Bounded, Level::Session, Level::Prefix, Level::Eventual}) {
    EXPECT_EQ(parseLevel(toString(level)), level) << toString(level);
  }
}

}  // namespace
}  // namespace cx::routing
