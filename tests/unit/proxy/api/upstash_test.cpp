// Unit tests for Upstash's REST protocol pieces: endpoints and path-style commands, and
// replies rendered plain or with Upstash-Encoding: base64.
#include "proxy/api/upstash.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tests/unit/support/resp_values.h"

namespace cx::proxy {
namespace {

using backends::RespValue;
using testing::array;
using testing::bulk;
using testing::integer;
using testing::status;

UpstashTarget target(std::string_view method, std::string_view path, std::string_view body = {}) {
  auto parsed = parseUpstashTarget(method, path, body);
  if (auto* error = std::get_if<BodyError>(&parsed)) {
    ADD_FAILURE() << error->message;
    return {};
  }
  return std::get<UpstashTarget>(parsed);
}

bool refused(std::string_view method, std::string_view path) {
  return std::holds_alternative<BodyError>(parseUpstashTarget(method, path, {}));
}

TEST(UpstashTarget, BodyEndpoints) {
  EXPECT_EQ(target("POST", "/").endpoint, UpstashEndpoint::Command);
  EXPECT_TRUE(target("POST", "/").pathCommand.empty());
  EXPECT_EQ(target("POST", "/pipeline").endpoint, UpstashEndpoint::Pipeline);
  EXPECT_EQ(target("POST", "/multi-exec").endpoint, UpstashEndpoint::MultiExec);
  EXPECT_TRUE(refused("GET", "/pipeline"));
  EXPECT_TRUE(refused("GET", "/"));
  EXPECT_EQ(std::get<BodyError>(parseUpstashTarget("GET", "/multi-exec", {})).allow, "POST");
  EXPECT_EQ(std::get<BodyError>(parseUpstashTarget("DELETE", "/get/k", {})).allow, "GET, POST");
}

TEST(UpstashTarget, PathStyleCommands) {
  EXPECT_EQ(target("GET", "/get/foo").pathCommand, (Argv{"get", "foo"}));
  EXPECT_EQ(target("GET", "/set/foo/bar").pathCommand, (Argv{"set", "foo", "bar"}));
  EXPECT_EQ(target("GET", "/get/a%2Fb%00c").pathCommand, (Argv{"get", std::string("a/b\0c", 5)}));
  EXPECT_EQ(target("GET", "/get/caf%C3%A9").pathCommand, (Argv{"get", "caf\xC3\xA9"}));
  EXPECT_EQ(target("POST", "/set/foo", std::string("v\0\n", 3)).pathCommand,
            (Argv{"set", "foo", std::string("v\0\n", 3)}));
  EXPECT_EQ(target("POST", "/get/foo").pathCommand, (Argv{"get", "foo"}));  // empty body: no argument
  EXPECT_EQ(target("GET", "/set/foo/bar?EX=100&_token=secret").pathCommand, (Argv{"set", "foo", "bar", "EX", "100"}));
  EXPECT_EQ(target("GET", "/set/foo/bar?NX").pathCommand, (Argv{"set", "foo", "bar", "NX"}));
  EXPECT_TRUE(refused("GET", "/get/%zz"));
  EXPECT_TRUE(refused("DELETE", "/get/foo"));
  EXPECT_TRUE(refused("GET", "//foo"));
}

std::string value(const RespValue& reply, bool base64) {
  std::string out;
  appendUpstashValue(out, reply, base64);
  boost::system::error_code ec;
  (void)boost::json::parse(out, ec);
  EXPECT_FALSE(ec) << out;
  return out;
}

TEST(UpstashReply, Base64EncodesEveryStringAndKeepsTheRest) {
  EXPECT_EQ(value(bulk("hello"), true), R"("aGVsbG8=")");
  EXPECT_EQ(value(status("OK"), true), R"("T0s=")");
  EXPECT_EQ(value(bulk(std::string("\0\xff", 2)), true), R"("AP8=")");
  EXPECT_EQ(value(bulk(""), true), R"("")");
  EXPECT_EQ(value(integer(-5), true), "-5");
  EXPECT_EQ(value(RespValue{}, true), "null");
  EXPECT_EQ(value(array({bulk("a"), integer(1), RespValue{}, array({bulk("b")})}), true),
            R"(["YQ==",1,null,["Yg=="]])");
}

TEST(UpstashReply, PlainRendersText) {
  EXPECT_EQ(value(bulk("caf\xC3\xA9"), false), "\"caf\xC3\xA9\"");
  EXPECT_EQ(value(array({bulk("a\"b"), integer(2)}), false), R"(["a\"b",2])");
  EXPECT_EQ(value(bulk("\xff"), false), "\"\xEF\xBF\xBD\"");  // invalid UTF-8: U+FFFD
}

TEST(UpstashReply, ItemsCarryAResultOrTheRedisError) {
  std::string out;
  appendUpstashItem(out, bulk("v"), true);
  EXPECT_EQ(out, R"({"result":"dg=="})");
  out.clear();
  appendUpstashItem(out, RespValue::makeError("WRONGTYPE Operation against a key"), true);
  EXPECT_EQ(out, R"({"error":"WRONGTYPE Operation against a key"})");
  out.clear();
  appendUpstashItem(out, array({RespValue::makeError("ERR x"), integer(1)}), false);
  EXPECT_EQ(out, R"({"result":[{"error":"ERR x"},1]})");
}

}  // namespace
}  // namespace cx::proxy
