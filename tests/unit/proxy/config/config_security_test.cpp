// The security keys (README "Security"): redis.username, redis.tls.*, listen.data_tls /
// admin_tls and auth.*, their defaults, and errors that name the key and line.
#include <gtest/gtest.h>

#include <string>

#include "proxy/config/config.h"

namespace cx::proxy {
namespace {

std::string errorOf(const std::string& yaml) {
  try {
    parseConfig(yaml, "cx.yaml");
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(ConfigSecurity, OffByDefault) {
  const Config c = parseConfig("");
  EXPECT_FALSE(c.redis.tls.enabled);
  EXPECT_TRUE(c.redis.tls.verify);
  EXPECT_TRUE(c.redis.username.empty());
  EXPECT_FALSE(c.listen.dataTls);
  EXPECT_FALSE(c.listen.adminTls);
  EXPECT_FALSE(c.auth.enabled());
}

TEST(ConfigSecurity, EveryKeyIsRead) {
  const Config c = parseConfig(R"yaml(redis:
  username: app
  password_env: REDIS_PASSWORD
  tls:
    enabled: true
    ca_file: /etc/ca.pem
    cert_file: /etc/client.pem
    key_file: /etc/client.key
    server_name: redis.internal
    verify: false
listen:
  data_tls: {cert_file: /tls/d.crt, key_file: /tls/d.key}
  admin_tls: {cert_file: /tls/a.crt, key_file: /tls/a.key}
auth:
  tokens_env: CXPROXY_API_TOKENS
)yaml");
  EXPECT_EQ(c.redis.username, "app");
  EXPECT_TRUE(c.redis.tls.enabled);
  EXPECT_EQ(c.redis.tls.caFile, "/etc/ca.pem");
  EXPECT_EQ(c.redis.tls.certFile, "/etc/client.pem");
  EXPECT_EQ(c.redis.tls.keyFile, "/etc/client.key");
  EXPECT_EQ(c.redis.tls.serverName, "redis.internal");
  EXPECT_FALSE(c.redis.tls.verify);
  ASSERT_TRUE(c.listen.dataTls);
  EXPECT_EQ(c.listen.dataTls->certFile, "/tls/d.crt");
  EXPECT_EQ(c.listen.dataTls->keyFile, "/tls/d.key");
  ASSERT_TRUE(c.listen.adminTls);
  EXPECT_EQ(c.listen.adminTls->certFile, "/tls/a.crt");
  EXPECT_EQ(c.auth.tokensEnv, "CXPROXY_API_TOKENS");
  EXPECT_TRUE(c.auth.enabled());
  EXPECT_EQ(parseConfig("auth: {tokens_file: /run/tokens}\n").auth.tokensFile, "/run/tokens");
}

TEST(ConfigSecurity, ErrorsNameKeyAndLine) {
  EXPECT_EQ(errorOf("redis:\n  tls:\n    enabled: true\n    ca: /x\n").rfind("cx.yaml:4: redis.tls.ca: unknown key", 0),
            0u)
      << errorOf("redis:\n  tls:\n    enabled: true\n    ca: /x\n");
  EXPECT_EQ(errorOf("redis:\n  tls: {cert_file: /c}\n").rfind("cx.yaml:2: redis.tls.cert_file: ", 0), 0u);
  EXPECT_EQ(errorOf("redis:\n  username: app\n").rfind("cx.yaml:2: redis.username: ", 0), 0u);
  EXPECT_EQ(errorOf("listen:\n  data_tls: {cert_file: /c}\n").rfind("cx.yaml:2: listen.data_tls.key_file: missing", 0),
            0u)
      << errorOf("listen:\n  data_tls: {cert_file: /c}\n");
  EXPECT_EQ(errorOf("auth:\n  tokens: a:b:rw\n").rfind("cx.yaml:2: auth.tokens: ", 0), 0u);
  EXPECT_NE(errorOf("auth:\n  tokens: a:b:rw\n").find("secrets never go in the config"), std::string::npos);
  EXPECT_EQ(errorOf("auth: {}\n").rfind("cx.yaml:1: auth: ", 0), 0u) << errorOf("auth: {}\n");
  EXPECT_EQ(errorOf("redis:\n  tls: {verify: perhaps}\n").rfind("cx.yaml:2: redis.tls.verify: ", 0), 0u);
}

}  // namespace
}  // namespace cx::proxy
