// Bearer tokens (proxy/api/auth.h): the token list's format and its errors (which never
// show a secret), the Authorization header's forms, the 401's WWW-Authenticate, and what
// counts as a write for a read-only token.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/api/auth.h"

namespace cx::proxy {
namespace {

std::string parseError(const std::string& spec) {
  try {
    ApiTokens::parse(spec);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ApiTokens, ParsesNameSecretAndMode) {
  auto tokens = ApiTokens::parse(" app:s3cret:rw ,\nreport:r-ead.only~1:ro,");
  ASSERT_EQ(tokens.size(), 2u);
  const auto* app = tokens.find("s3cret");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->name, "app");
  EXPECT_FALSE(app->readOnly);
  const auto* report = tokens.find("r-ead.only~1");
  ASSERT_NE(report, nullptr);
  EXPECT_EQ(report->name, "report");
  EXPECT_TRUE(report->readOnly);
  EXPECT_EQ(tokens.find("s3cre"), nullptr);
  EXPECT_EQ(tokens.find("s3cret "), nullptr);
  EXPECT_EQ(tokens.find(""), nullptr);
}

TEST(ApiTokens, ErrorsNameTheEntryNeverTheSecret) {
  EXPECT_NE(parseError("").find("no token entries"), std::string::npos);
  EXPECT_NE(parseError("app:hidden-1").find("token entry 1"), std::string::npos);
  const std::string badMode = parseError("a:ok-1:rw,b:hidden-2:rx");
  EXPECT_NE(badMode.find("token entry 2 (b)"), std::string::npos) << badMode;
  EXPECT_EQ(badMode.find("hidden-2"), std::string::npos) << badMode;
  const std::string reused = parseError("a:same-3:rw,b:same-3:ro");
  EXPECT_NE(reused.find("also a's"), std::string::npos) << reused;
  EXPECT_EQ(reused.find("same-3"), std::string::npos) << reused;
  EXPECT_NE(parseError("a:x:rw,a:y:ro").find("used twice"), std::string::npos);
  EXPECT_NE(parseError("a b:x:rw").find("name"), std::string::npos);
  EXPECT_NE(parseError("a:x y:rw").find("secret"), std::string::npos);
}

TEST(Authorize, OffWithoutTokens) {
  auto r = authorizeHeader({}, nullptr);
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.readOnly);
  EXPECT_TRUE(r.name.empty());
}

TEST(Authorize, BearerSchemeIsCaseInsensitive) {
  auto tokens = ApiTokens::parse("app:tok-1:rw,view:tok-2:ro");
  for (std::string_view header : {"Bearer tok-1", "bearer tok-1", "BEARER   tok-1", "  Bearer tok-1  "}) {
    auto r = authorizeHeader({header}, &tokens);
    EXPECT_TRUE(r.ok()) << header;
    EXPECT_EQ(r.name, "app") << header;
  }
  auto ro = authorizeHeader({"Bearer tok-2"}, &tokens);
  EXPECT_TRUE(ro.ok());
  EXPECT_TRUE(ro.readOnly);
}

TEST(Authorize, MissingAndInvalidAreTold) {
  auto tokens = ApiTokens::parse("app:tok-1:rw");
  EXPECT_EQ(authorizeHeader({}, &tokens).status, AuthStatus::Missing);
  EXPECT_EQ(authorizeHeader({"Basic YXBwOnRvay0x"}, &tokens).status, AuthStatus::Missing);
  EXPECT_EQ(authorizeHeader({"Bearer"}, &tokens).status, AuthStatus::Invalid);
  EXPECT_EQ(authorizeHeader({"Bearer tok-2"}, &tokens).status, AuthStatus::Invalid);
  EXPECT_EQ(authorizeHeader({"Bearer tok-1 extra"}, &tokens).status, AuthStatus::Invalid);
  EXPECT_EQ(authorizeHeader({"Bearer tok-1", "Bearer tok-1"}, &tokens).status, AuthStatus::Invalid);
}

TEST(Authorize, UnauthorizedCarriesWwwAuthenticate) {
  Response missing;
  setUnauthorized(missing, AuthResult{AuthStatus::Missing, {}, false});
  EXPECT_EQ(missing.result_int(), 401u);
  EXPECT_NE(missing.body().find("\"error\":\"unauthorized\""), std::string::npos);
  std::string fields;
  missing.appendFields(fields);
  EXPECT_NE(fields.find("WWW-Authenticate: Bearer\r\n"), std::string::npos) << fields;
  Response invalid;
  setUnauthorized(invalid, AuthResult{AuthStatus::Invalid, {}, false});
  fields.clear();
  invalid.appendFields(fields);
  EXPECT_NE(fields.find("WWW-Authenticate: Bearer error=\"invalid_token\"\r\n"), std::string::npos) << fields;
}

TEST(Authorize, ScriptsAndPublishAreWritesForReadOnlyTokens) {
  EXPECT_TRUE(writesForReadOnlyToken(true, "SET"));
  EXPECT_FALSE(writesForReadOnlyToken(false, "GET"));
  for (const char* name : {"EVAL_RO", "evalsha_ro", "FCALL_RO", "PUBLISH", "spublish"}) {
    EXPECT_TRUE(writesForReadOnlyToken(false, name)) << name;
  }
}

}  // namespace
}  // namespace cx::proxy
