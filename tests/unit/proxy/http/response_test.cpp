// Unit tests for the flat Response: fields in order, case-insensitive replacement,
// serialization with and without replaced fields, and clear() for reuse.
#include "proxy/http/response.h"

#include <gtest/gtest.h>

#include <string>

namespace cx::proxy {
namespace {

TEST(Response, SerializesFieldsInTheOrderSet) {
  Response res;
  res.set("X-Consistency", "eventual");
  res.set(boost::beast::http::field::content_type, "application/json");
  std::string out = "HEAD\r\n";
  res.appendFields(out);
  EXPECT_EQ(out, "HEAD\r\nX-Consistency: eventual\r\nContent-Type: application/json\r\n");
  EXPECT_EQ(res["content-type"], "application/json");
  EXPECT_TRUE(res.has("x-consistency"));
  EXPECT_FALSE(res.has("X-Consistenc"));
  EXPECT_EQ(res["X-Missing"], "");
}

TEST(Response, SettingAFieldAgainReplacesItWhateverItsCase) {
  Response res;
  res.set("X-Served-By", "replica-1");
  res.set("X-Served-Role", "replica");
  res.set("x-served-by", "primary");
  std::string out;
  res.appendFields(out);
  EXPECT_EQ(out, "X-Served-Role: replica\r\nx-served-by: primary\r\n");
  EXPECT_EQ(res["X-Served-By"], "primary");
}

TEST(Response, ClearKeepsNothingButTheBuffers) {
  Response res;
  res.result(404U);
  res.set("A", "1");
  res.set("A", "2");
  res.body() = "body";
  res.clear();
  EXPECT_EQ(res.result_int(), 200U);
  EXPECT_TRUE(res.body().empty());
  EXPECT_FALSE(res.has("A"));
  res.set("B", "3");
  std::string out;
  res.appendFields(out);
  EXPECT_EQ(out, "B: 3\r\n");
}

TEST(Response, EmptyValuesAndLongValuesSurvive) {
  Response res;
  const std::string longValue(5000, 'v');
  res.set("X-Empty", "");
  res.set("X-Long", longValue);
  EXPECT_EQ(res["X-Empty"], "");
  EXPECT_TRUE(res.has("X-Empty"));
  EXPECT_EQ(res["X-Long"], longValue);
  std::string out;
  res.appendFields(out);
  EXPECT_EQ(out, "X-Empty: \r\nX-Long: " + longValue + "\r\n");
}

}  // namespace
}  // namespace cx::proxy
