// cxproxy-verify's command line (README "Verifying the guarantees on your deployment").
#include <gtest/gtest.h>

#include "proxy/verify/options.h"

namespace cx::verify {
namespace {

using routing::Level;
using std::chrono::milliseconds;

Options parseOk(const std::vector<std::string>& args) {
  auto parsed = parseOptions(args);
  if (auto* e = std::get_if<OptionsError>(&parsed)) ADD_FAILURE() << e->message;
  return std::holds_alternative<Options>(parsed) ? std::get<Options>(parsed) : Options{};
}

std::string parseError(const std::vector<std::string>& args) {
  auto parsed = parseOptions(args);
  return std::holds_alternative<OptionsError>(parsed) ? std::get<OptionsError>(parsed).message : "";
}

TEST(VerifyOptions, DefaultsAreTheDocumentedOnes) {
  Options o = parseOk({});
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, "8080");
  EXPECT_EQ(o.duration, std::chrono::seconds{30});
  EXPECT_EQ(o.sessions, 16);
  EXPECT_EQ(o.levels, (std::vector<Level>{Level::Session, Level::Bounded, Level::Prefix}));
  EXPECT_EQ(o.maxStaleness, milliseconds{200});
  EXPECT_EQ(o.prefix, "cxverify:");
}

TEST(VerifyOptions, ParsesEveryFlag) {
  Options o =
      parseOk({"--url", "http://localhost:9000/", "--seconds", "5", "--sessions=4", "--levels",
               "Strong,linearizable,eventual", "--max-staleness", "1.5s", "--token", "s3cret", "--prefix", "t:"});
  EXPECT_EQ(o.host, "localhost");
  EXPECT_EQ(o.port, "9000");
  EXPECT_EQ(o.duration, std::chrono::seconds{5});
  EXPECT_EQ(o.sessions, 4);
  EXPECT_EQ(o.levels, (std::vector<Level>{Level::Strong, Level::Eventual}));
  EXPECT_EQ(o.maxStaleness, milliseconds{1500});
  EXPECT_EQ(o.bearerToken, "s3cret");
  EXPECT_EQ(o.prefix, "t:");
  EXPECT_EQ(parseOk({"--url", "http://[::1]:81"}).host, "::1");
}

TEST(VerifyOptions, RejectsWhatItCannotUse) {
  EXPECT_NE(parseError({"--url", "https://x:1"}), "");
  EXPECT_NE(parseError({"--url", "http://x:1/v1"}), "");
  EXPECT_NE(parseError({"--url", "http://x:99999"}), "");
  EXPECT_NE(parseError({"--seconds", "0"}), "");
  EXPECT_NE(parseError({"--sessions", "many"}), "");
  EXPECT_NE(parseError({"--levels", "session,causal"}), "");
  EXPECT_NE(parseError({"--max-staleness", "soon"}), "");
  EXPECT_NE(parseError({"--bogus", "1"}), "");
  EXPECT_NE(parseError({"--seconds"}), "");
}

TEST(VerifyOptions, DurationsTakeUnitsOrBareMilliseconds) {
  EXPECT_EQ(parseDuration("250"), milliseconds{250});
  EXPECT_EQ(parseDuration("250ms"), milliseconds{250});
  EXPECT_EQ(parseDuration("2s"), milliseconds{2000});
  EXPECT_FALSE(parseDuration("ms"));
  EXPECT_FALSE(parseDuration("-1s"));
}

}  // namespace
}  // namespace cx::verify
