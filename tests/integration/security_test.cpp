// README "Security" end to end, with the real cxproxy binary: TLS and an ACL user to a
// TLS-only Redis primary and replica (certificates made by the test), nodes whose
// certificate does not verify shown down with the reason while cxproxy keeps serving
// status, a wrong password named (WRONGPASS) and no secret anywhere it could leak, the
// HTTPS data listener (curl as the client) and its certificate rotation on SIGHUP, and
// bearer tokens: 401, 403 for a read-only token's writes (nothing written), 200.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kRedisPassword = "redis-pw-6d1e9b";
constexpr const char* kSessionKeys = "k1:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
constexpr const char* kWriterSecret = "writer-secret-5a7c";
constexpr const char* kReaderSecret = "reader-secret-c3f0";

std::string tokensSpec() { return std::string("writer:") + kWriterSecret + ":rw,reader:" + kReaderSecret + ":ro"; }

struct CurlResult {
  int exit = -1;   // curl's exit status (0: a response came)
  int status = 0;  // HTTP status
  std::string body;
  std::string output;  // curl's messages
};

// One curl run against 127.0.0.1 (`args` carry the URL, --cacert ...).
CurlResult curl(const std::vector<std::string>& args) {
  TempDir dir("cxproxy-curl");
  const auto bodyPath = dir.path() / "body";
  const auto outPath = dir.path() / "out";
  std::vector<std::string> argv{findExecutable("curl"),   "-sS", "--max-time", "10", "-o", bodyPath.string(), "-w",
                                "\nstatus=%{http_code}\n"};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess process;
  process.start(argv, outPath);
  CurlResult r;
  auto exit = process.waitExit(30s);
  if (!exit) process.kill();
  r.exit = exit.value_or(-1);
  r.output = readFile(outPath);
  if (auto at = r.output.rfind("status="); at != std::string::npos) r.status = std::atoi(r.output.c_str() + at + 7);
  if (std::filesystem::exists(bodyPath)) r.body = readFile(bodyPath);
  return r;
}

json::object status(CxproxyProcess& proxy) {
  HttpClient admin(proxy.adminPort());
  return json::parse(admin.get("/v1/status").body).as_object();
}

std::string lastError(CxproxyProcess& proxy, std::size_t backend) {
  auto s = status(proxy);
  return std::string(s.at("backends").as_array().at(backend).as_object().at("last_error").as_string());
}

class SecurityTest : public ::testing::Test {
 protected:
  RedisClusterOptions clusterOptions(const CertFiles& server, int replicas) {
    RedisClusterOptions options;
    options.replicas = replicas;
    options.tls = RedisTlsOptions{server.cert, server.key, pki_.caFile(), "no"};
    options.extraArgs = {"--user", "app", "on", std::string(">") + kRedisPassword, "~*", "&*", "+@all"};
    return options;
  }
  std::string redisTls(const RedisCluster& cluster, const std::string& tlsExtra = "") {
    return redisSection(cluster,
                        "  username: app\n  password_env: REDIS_PASSWORD\n  tls:\n    enabled: true\n"
                        "    ca_file: " +
                            pki_.caFile().string() + "\n" + tlsExtra);
  }
  CxproxyOptions options(const std::string& password = kRedisPassword, bool waitReady = true) {
    CxproxyOptions o;
    o.env = {
        {"REDIS_PASSWORD", password}, {"CXPROXY_SESSION_KEYS", kSessionKeys}, {"CXPROXY_API_TOKENS", tokensSpec()}};
    o.waitReady = waitReady;
    return o;
  }

  TestPki pki_;
  CertFiles server_ = pki_.issue("redis", "IP:127.0.0.1,DNS:redis.test");
};

TEST_F(SecurityTest, GetAndPutThroughTlsRedisPrimaryAndReplica) {
  RedisCluster cluster(clusterOptions(server_, 1));
  CxproxyProcess proxy(cluster, redisTls(cluster), options());
  HttpClient client(proxy.dataPort());
  auto put = client.put("/v1/kv/tls:k", "secure-value");
  ASSERT_EQ(put.status, 204) << put.body;
  const std::string token = put.header("x-session-token");
  ASSERT_FALSE(token.empty());
  auto session = client.get("/v1/kv/tls:k", {{"X-Session-Token", token}});
  EXPECT_EQ(session.status, 200) << session.body;
  EXPECT_EQ(session.body, "secure-value");
  EXPECT_EQ(session.header("x-consistency"), "session");
  cluster.waitSynced();
  // Eventual reads go to the replica (over TLS too) once the tracker has seen it.
  ASSERT_TRUE(waitUntil(
      [&] {
        return client.get("/v1/kv/tls:k", {{"X-Consistency", "eventual"}}).header("x-served-by") == "replica-1";
      },
      10s));
  auto eventual = client.get("/v1/kv/tls:k", {{"X-Consistency", "eventual"}});
  EXPECT_EQ(eventual.status, 200);
  EXPECT_EQ(eventual.body, "secure-value");
  EXPECT_EQ(cluster.command(0, {"GET", "tls:k"}), "secure-value");
  EXPECT_EQ(cluster.command(1, {"GET", "tls:k"}), "secure-value");
  auto s = status(proxy);
  for (const auto& b : s.at("backends").as_array()) {
    EXPECT_TRUE(b.as_object().at("up").as_bool()) << json::serialize(b);
  }
  // The ACL user is who Redis sees (CLIENT LIST names each connection's user).
  EXPECT_NE(cluster.command(0, {"CLIENT", "LIST"}).find("user=app"), std::string::npos);
}

struct BadCertificateCase {
  const char* name;
  const char* expected;  // in last_error and the log
};

class SecurityBadCertificateTest : public SecurityTest, public ::testing::WithParamInterface<BadCertificateCase> {};

TEST_P(SecurityBadCertificateTest, MarksTheNodeDownWithTheReasonAndKeepsServingStatus) {
  const std::string which = GetParam().name;
  CertFiles cert = server_;
  std::string tlsExtra;
  if (which == "wrong_ca") cert = pki_.issue("foreign", "IP:127.0.0.1", TestPki::Issuer::OtherCa);
  if (which == "expired") cert = pki_.issue("old", "IP:127.0.0.1", TestPki::Issuer::Ca, TestPki::Validity::Expired);
  if (which == "wrong_name") tlsExtra = "    server_name: other.test\n";
  RedisCluster cluster(clusterOptions(cert, 0));
  CxproxyProcess proxy(cluster, redisTls(cluster, tlsExtra), options(kRedisPassword, false));
  std::string error;
  EXPECT_TRUE(waitUntil(
      [&] {
        error = lastError(proxy, 0);
        return error.find(GetParam().expected) != std::string::npos;
      },
      15s))
      << error;
  auto s = status(proxy);
  EXPECT_FALSE(s.at("backends").as_array().at(0).as_object().at("up").as_bool());
  HttpClient admin(proxy.adminPort());
  EXPECT_EQ(admin.get("/readyz").status, 503);
  EXPECT_EQ(admin.get("/healthz").status, 200);
  HttpClient data(proxy.dataPort());
  auto put = data.put("/v1/kv/never", "x", {{"Authorization", std::string("Bearer ") + kWriterSecret}});
  EXPECT_EQ(put.status, 503) << put.body;
  EXPECT_TRUE(waitUntil([&] { return proxy.output().find("event=backend_connect_failed") != std::string::npos; }, 5s));
  EXPECT_NE(proxy.output().find(GetParam().expected), std::string::npos) << proxy.outputTail();
  EXPECT_TRUE(proxy.running());
  EXPECT_EQ(cluster.command(0, {"EXISTS", "never"}), "0");
}

INSTANTIATE_TEST_SUITE_P(Certificates, SecurityBadCertificateTest,
                         ::testing::Values(BadCertificateCase{"wrong_ca", "certificate verify failed: "},
                                           BadCertificateCase{"expired",
                                                              "certificate verify failed: certificate has expired"},
                                           BadCertificateCase{"wrong_name", "host name mismatch"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(SecurityTest, WrongPasswordIsNamedAndNoSecretLeaks) {
  RedisCluster cluster(clusterOptions(server_, 0));
  const std::string wrong = "wrong-pw-0b8e42";
  CxproxyProcess proxy(cluster, redisTls(cluster) + "auth:\n  tokens_env: CXPROXY_API_TOKENS\nlog:\n  access: true\n",
                       options(wrong, false));
  std::string error;
  EXPECT_TRUE(waitUntil(
      [&] {
        error = lastError(proxy, 0);
        return error.find("WRONGPASS") != std::string::npos;
      },
      15s))
      << error;
  HttpClient data(proxy.dataPort());
  data.get("/v1/kv/a", {{"Authorization", std::string("Bearer ") + kReaderSecret}});
  data.get("/v1/kv/a", {{"Authorization", "Bearer not-a-token"}});
  HttpClient admin(proxy.adminPort());
  const std::string everything = proxy.output() + admin.get("/v1/status").body +
                                 admin.get("/v1/status", {{"Accept", "text/html"}}).body + admin.get("/metrics").body;
  for (const std::string& secret : {wrong, std::string(kRedisPassword), std::string(kSessionKeys).substr(3),
                                    std::string(kWriterSecret), std::string(kReaderSecret)}) {
    EXPECT_EQ(everything.find(secret), std::string::npos) << "secret " << secret << " leaked";
  }
  EXPECT_NE(proxy.output().find("WRONGPASS"), std::string::npos);
}

TEST_F(SecurityTest, HttpsDataListenerServesOnlyHttpsAndRotatesItsCertificateOnSighup) {
  RedisCluster cluster(0);
  auto first = pki_.issue("proxy-1", "IP:127.0.0.1,DNS:cxproxy.test");
  auto second = pki_.issue("proxy-2", "IP:127.0.0.1,DNS:cxproxy.test", TestPki::Issuer::OtherCa);
  TempDir certs("cxproxy-certs");
  const auto certFile = certs.path() / "tls.crt";
  const auto keyFile = certs.path() / "tls.key";
  std::filesystem::copy_file(first.cert, certFile);
  std::filesystem::copy_file(first.key, keyFile);
  CxproxyProcess proxy(
      [&](int dataPort, int adminPort) {
        return basicConfig(cluster, dataPort, adminPort,
                           "listen:\n  data: 127.0.0.1:" + std::to_string(dataPort) + "\n  admin: 127.0.0.1:" +
                               std::to_string(adminPort) + "\n  data_tls: {cert_file: " + certFile.string() +
                               ", key_file: " + keyFile.string() + "}\n");
      },
      options());
  const std::string base = "https://127.0.0.1:" + std::to_string(proxy.dataPort());
  auto put = curl({"--cacert", pki_.caFile().string(), "-X", "PUT", "--data-binary", "over-https", base + "/v1/kv/h"});
  ASSERT_EQ(put.exit, 0) << put.output;
  EXPECT_EQ(put.status, 204) << put.output;
  auto get = curl({"--cacert", pki_.caFile().string(), base + "/v1/kv/h"});
  EXPECT_EQ(get.status, 200) << get.output;
  EXPECT_EQ(get.body, "over-https");
  // Keep-alive: two requests on one connection.
  auto twice = curl({"--cacert", pki_.caFile().string(), "-v", base + "/v1/kv/h", base + "/v1/kv/h"});
  EXPECT_EQ(twice.exit, 0) << twice.output;
  EXPECT_NE(twice.output.find("Re-using existing connection"), std::string::npos) << twice.output;
  // Plain HTTP on the HTTPS port never gets an answer, let alone a 2xx.
  HttpClient plain(proxy.dataPort(), 5s);
  try {
    auto r = plain.put("/v1/kv/plain", "x");
    EXPECT_GE(r.status, 400);
  } catch (const HttpError&) {
    // closed without an answer
  }
  EXPECT_EQ(cluster.command(0, {"EXISTS", "plain"}), "0");
  auto other = curl({"--cacert", pki_.otherCaFile().string(), base + "/v1/kv/h"});
  EXPECT_NE(other.exit, 0) << "the first certificate is not from the other CA";

  // cert-manager writes the new pair; SIGHUP; new connections get it, without a restart.
  const pid_t pid = proxy.pid();
  std::filesystem::copy_file(second.cert, certFile, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(second.key, keyFile, std::filesystem::copy_options::overwrite_existing);
  proxy.signal(SIGHUP);
  EXPECT_TRUE(waitUntil(
      [&] {
        return curl({"--cacert", pki_.otherCaFile().string(), base + "/v1/kv/h"}).status == 200;
      },
      10s));
  EXPECT_NE(curl({"--cacert", pki_.caFile().string(), base + "/v1/kv/h"}).exit, 0);
  EXPECT_EQ(proxy.pid(), pid);
  EXPECT_TRUE(proxy.running());
  EXPECT_NE(proxy.output().find("event=tls_certificate_reloaded"), std::string::npos);
}

TEST_F(SecurityTest, BearerTokensGate401And403AndLetValidTokensThrough) {
  RedisCluster cluster(0);
  CxproxyProcess proxy(cluster, "auth:\n  tokens_env: CXPROXY_API_TOKENS\nlog:\n  access: true\n", options());
  HttpClient c(proxy.dataPort());
  const std::string writer = std::string("Bearer ") + kWriterSecret;
  const std::string reader = std::string("bearer ") + kReaderSecret;  // the scheme is case-insensitive

  auto none = c.get("/v1/kv/a");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.header("www-authenticate"), "Bearer");
  EXPECT_NE(none.body.find("\"unauthorized\""), std::string::npos) << none.body;
  auto wrong = c.put("/v1/kv/a", "x", {{"Authorization", "Bearer nope"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.header("www-authenticate"), "Bearer error=\"invalid_token\"");
  auto unknownPath = c.get("/nowhere");
  EXPECT_EQ(unknownPath.status, 401) << "auth comes before routing";
  EXPECT_EQ(cluster.command(0, {"EXISTS", "a"}), "0");

  EXPECT_EQ(c.put("/v1/kv/a", "1", {{"Authorization", writer}}).status, 204);
  EXPECT_EQ(c.put("/v1/kv/a", "2", {{"Authorization", "BEARER " + std::string(kWriterSecret)}}).status, 204);
  auto read = c.get("/v1/kv/a", {{"Authorization", reader}});
  EXPECT_EQ(read.status, 200);
  EXPECT_EQ(read.body, "2");

  // A read-only token's writes: 403, nothing written.
  auto roPut = c.put("/v1/kv/b", "x", {{"Authorization", reader}});
  EXPECT_EQ(roPut.status, 403);
  EXPECT_NE(roPut.body.find("\"read_only_token\""), std::string::npos) << roPut.body;
  EXPECT_EQ(c.del("/v1/kv/a", {{"Authorization", reader}}).status, 403);
  EXPECT_EQ(c.post("/v1/cmd", "[\"SET\",\"b\",\"x\"]", {{"Authorization", reader}}).status, 403);
  EXPECT_EQ(c.post("/v1/cmd", "[\"INCR\",\"counter\"]", {{"Authorization", reader}}).status, 403);
  EXPECT_EQ(c.post("/v1/cmd", "[\"PUBLISH\",\"ch\",\"x\"]", {{"Authorization", reader}}).status, 403);
  EXPECT_EQ(c.post("/v1/cmd", "[\"GET\",\"a\"]", {{"Authorization", reader}}).status, 200);
  EXPECT_EQ(c.post("/v1/cmd", "[\"INCR\",\"counter\"]", {{"Authorization", writer}}).status, 200);
  EXPECT_EQ(cluster.command(0, {"EXISTS", "b"}), "0");
  EXPECT_EQ(cluster.command(0, {"GET", "a"}), "2");
  EXPECT_EQ(cluster.command(0, {"GET", "counter"}), "1");

  // Framing errors come first: a malformed request without a token gets 400, not 401.
  HttpClient raw(proxy.dataPort());
  auto bad = raw.exchangeRaw("GET /v1/kv/a HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 1, 5s);
  ASSERT_EQ(bad.responses.size(), 1u);
  EXPECT_EQ(bad.responses[0].status, 400);

  // The admin listener has no auth.
  HttpClient admin(proxy.adminPort());
  EXPECT_EQ(admin.get("/v1/status").status, 200);
  // The access log names the token, never its secret.
  EXPECT_TRUE(waitUntil([&] { return proxy.output().find("token=reader") != std::string::npos; }, 5s));
  EXPECT_NE(proxy.output().find("token=writer"), std::string::npos);
  EXPECT_EQ(proxy.output().find(kWriterSecret), std::string::npos);
  EXPECT_EQ(proxy.output().find(kReaderSecret), std::string::npos);
}

// Batches, transactions and Upstash's protocol are gated like every data request: no
// token → 401 (before anything runs), a read-only token with one write in the batch →
// 403 and nothing of the batch runs, a valid token goes through.
TEST_F(SecurityTest, BearerTokensGateBatchesTransactionsAndTheUpstashProtocol) {
  RedisCluster cluster(0);
  CxproxyProcess proxy(cluster, "auth:\n  tokens_env: CXPROXY_API_TOKENS\n", options());
  HttpClient c(proxy.dataPort());
  const HttpHeaders writer{{"Authorization", std::string("Bearer ") + kWriterSecret}};
  const HttpHeaders reader{{"Authorization", std::string("Bearer ") + kReaderSecret}};
  const std::string mixed = R"([["SET","bt:a","1"],["GET","bt:a"]])";

  for (const char* path : {"/v1/pipeline", "/v1/multi", "/pipeline", "/multi-exec"}) {
    auto none = c.post(path, mixed);
    EXPECT_EQ(none.status, 401) << path << ": " << none.body;
    EXPECT_EQ(none.header("www-authenticate"), "Bearer") << path;
    auto ro = c.post(path, mixed, reader);
    EXPECT_EQ(ro.status, 403) << path << ": " << ro.body;
    EXPECT_NE(ro.body.find("read_only_token"), std::string::npos) << path << ": " << ro.body;
  }
  EXPECT_EQ(c.post("/", R"(["SET","bt:a","1"])").status, 401);
  EXPECT_EQ(c.post("/", R"(["SET","bt:a","1"])", reader).status, 403);
  EXPECT_EQ(c.get("/set/bt:a/1", reader).status, 403);
  EXPECT_EQ(cluster.command(0, {"EXISTS", "bt:a"}), "0") << "a refused batch ran";

  auto rw = c.post("/v1/pipeline", mixed, writer);
  EXPECT_EQ(rw.status, 200) << rw.body;
  EXPECT_EQ(cluster.command(0, {"GET", "bt:a"}), "1");
  auto upstash = c.post("/pipeline", R"([["INCR","bt:n"],["GET","bt:a"]])", writer);
  EXPECT_EQ(upstash.status, 200) << upstash.body;
  EXPECT_EQ(cluster.command(0, {"GET", "bt:n"}), "1");
  // A read-only token reads through every protocol.
  EXPECT_EQ(c.post("/v1/pipeline", R"([["GET","bt:a"],["GET","bt:n"]])", reader).status, 200);
  EXPECT_EQ(c.get("/get/bt:a", reader).status, 200);
  EXPECT_EQ(c.post("/", R"(["GET","bt:a"])", reader).status, 200);
}

TEST_F(SecurityTest, TokensFileIsReloadedOnSighup) {
  RedisCluster cluster(0);
  TempDir dir("cxproxy-tokens");
  const auto file = dir.path() / "tokens";
  writeFile(file, "app:first-secret-1:rw\n");
  CxproxyProcess proxy(cluster, "auth:\n  tokens_file: " + file.string() + "\n", options());
  HttpClient c(proxy.dataPort());
  EXPECT_EQ(c.put("/v1/kv/t", "1", {{"Authorization", "Bearer first-secret-1"}}).status, 204);
  writeFile(file, "app:second-secret-2:rw\nviewer:view-secret-3:ro\n");
  proxy.signal(SIGHUP);
  EXPECT_TRUE(waitUntil(
      [&] {
        return c.put("/v1/kv/t", "2", {{"Authorization", "Bearer second-secret-2"}}).status == 204;
      },
      10s));
  EXPECT_EQ(c.put("/v1/kv/t", "3", {{"Authorization", "Bearer first-secret-1"}}).status, 401);
  EXPECT_EQ(c.get("/v1/kv/t", {{"Authorization", "Bearer view-secret-3"}}).status, 200);
  EXPECT_EQ(cluster.command(0, {"GET", "t"}), "2");
  // A broken file keeps the running tokens.
  writeFile(file, "no colon here\n");
  proxy.signal(SIGHUP);
  EXPECT_TRUE(
      waitUntil([&] { return proxy.output().find("event=api_tokens_reload_failed") != std::string::npos; }, 10s));
  EXPECT_EQ(c.get("/v1/kv/t", {{"Authorization", "Bearer second-secret-2"}}).status, 200);
}

}  // namespace
}  // namespace cx::testing
