// POST /v1/pipeline and /v1/multi against a real primary and two replicas (README
// "Batches and transactions"): where a batch runs, what it answers, what it refuses
// before anything is sent, and that its token covers all of it.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>
#include <vector>

#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;

CxproxyOptions withKeys() {
  CxproxyOptions options;
  options.env["CXPROXY_SESSION_KEYS"] = "k1:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  return options;
}

std::string config(const std::string& extra = "") {
  return "workers: 2\nload:\n  enabled: false\nlimits:\n  max_batch_commands: 5\n"
         "commands:\n  allow_scripts: true\n" +
         extra;
}

std::string batchBody(const std::vector<std::vector<std::string>>& commands) {
  json::array out;
  for (const auto& argv : commands) {
    json::array command;
    for (const auto& arg : argv) command.emplace_back(json::string(arg));
    out.emplace_back(std::move(command));
  }
  return json::serialize(out);
}

json::value parse(const HttpResponse& response) {
  boost::system::error_code ec;
  json::value value = json::parse(response.body, ec);
  EXPECT_FALSE(ec) << response.body;
  return value;
}

std::string describe(const HttpResponse& r) {
  return std::to_string(r.status) + " " + r.header("x-served-role") + " " + r.body.substr(0, 300);
}

TEST(BatchTest, APipelineWithAWriteRunsInOrderOnThePrimaryAndReadsItsOwnWrites) {
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster, config(), withKeys());
  HttpClient http(proxy.dataPort());
  const HttpResponse r = http.post(
      "/v1/pipeline",
      batchBody({{"SET", "p:a", "1"}, {"INCR", "p:a"}, {"GET", "p:a"}, {"HSET", "p:a", "f", "v"}, {"GET", "p:a"}}),
      {{"X-Consistency", "eventual"}});
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.header("x-served-role"), "primary");
  EXPECT_EQ(parse(r), json::parse(R"([{"result":"OK"},{"result":2},{"result":"2"},
    {"error":"WRONGTYPE Operation against a key holding the wrong kind of value"},{"result":"2"}])"));
  EXPECT_FALSE(r.header("x-session-token").empty());

  // The token covers the whole batch: a session read with it sees the last write.
  const std::string token = r.header("x-session-token");
  const HttpResponse read =
      http.post("/v1/pipeline", batchBody({{"GET", "p:a"}, {"EXISTS", "p:a"}}), {{"X-Session-Token", token}});
  ASSERT_EQ(read.status, 200) << describe(read);
  EXPECT_EQ(parse(read), json::parse(R"([{"result":"2"},{"result":1}])"));
}

TEST(BatchTest, AReadOnlyBatchGoesToOneReplicaThatQualifiesForEveryKey) {
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster,
                       // A generous quorum timeout: the strong write below is set-up, not the subject.
                       config("consistency:\n  write_quorum: {replicas: 1, timeout: 10s}\n"
                              "  rules:\n    - name: accounts\n      keys: [\"account:*\"]\n"
                              "      level: strong\n      override: none\n"),
                       withKeys());
  HttpClient http(proxy.dataPort());
  const HttpResponse setUp = http.post("/v1/pipeline", batchBody({{"SET", "feed:1", "a"}, {"SET", "account:1", "b"}}));
  ASSERT_EQ(setUp.status, 200) << describe(setUp);
  cluster.waitSynced(std::chrono::seconds(20));
  const HttpResponse eventual =
      http.post("/v1/pipeline", batchBody({{"GET", "feed:1"}, {"GET", "feed:2"}}), {{"X-Consistency", "eventual"}});
  ASSERT_EQ(eventual.status, 200) << describe(eventual);
  EXPECT_EQ(eventual.header("x-served-role"), "replica");
  EXPECT_EQ(parse(eventual), json::parse(R"([{"result":"a"},{"result":null}])"));
  // One key under a strong rule makes the whole batch strong: the primary serves it.
  const HttpResponse mixed = http.post("/v1/pipeline", batchBody({{"GET", "feed:1"}, {"MGET", "x", "account:1"}}),
                                       {{"X-Consistency", "eventual"}});
  ASSERT_EQ(mixed.status, 200) << describe(mixed);
  EXPECT_EQ(mixed.header("x-consistency"), "strong");
  EXPECT_EQ(mixed.header("x-served-role"), "primary");
  EXPECT_EQ(mixed.header("x-consistency-rule"), "accounts");
  EXPECT_EQ(parse(mixed), json::parse(R"([{"result":"a"},{"result":[null,"b"]}])"));
  // A cursor is valid only where it was issued: SCAN goes to the primary at any level.
  const HttpResponse scan = http.post("/v1/cmd", R"(["SCAN","0","COUNT","100"])", {{"X-Consistency", "eventual"}});
  ASSERT_EQ(scan.status, 200) << describe(scan);
  EXPECT_EQ(scan.header("x-served-role"), "primary");
  const HttpResponse scanBatch =
      http.post("/v1/pipeline", batchBody({{"GET", "feed:1"}, {"SCAN", "0"}}), {{"X-Consistency", "eventual"}});
  EXPECT_EQ(scanBatch.header("x-served-role"), "primary") << describe(scanBatch);
}

TEST(BatchTest, MultiIsOneTransactionOrNothing) {
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster, config(), withKeys());
  HttpClient http(proxy.dataPort());
  const HttpResponse ok = http.post("/v1/multi", batchBody({{"SET", "m:a", "x"}, {"INCR", "m:a"}, {"GET", "m:a"}}));
  ASSERT_EQ(ok.status, 200) << describe(ok);
  EXPECT_EQ(ok.header("x-served-role"), "primary");
  EXPECT_EQ(parse(ok), json::parse(R"([{"result":"OK"},{"error":"ERR value is not an integer or out of range"},
    {"result":"x"}])"));

  // Refused while queueing (out of memory): EXEC runs nothing.
  cluster.command(cluster.primaryIndex(), {"CONFIG", "SET", "maxmemory", "1"});
  const HttpResponse aborted = http.post("/v1/multi", batchBody({{"GET", "m:a"}, {"SET", "m:b", "y"}}));
  cluster.command(cluster.primaryIndex(), {"CONFIG", "SET", "maxmemory", "0"});
  ASSERT_EQ(aborted.status, 409) << describe(aborted);
  const json::value error = parse(aborted);
  EXPECT_EQ(error.at("error"), "transaction_aborted");
  EXPECT_NE(std::string(error.at("message").as_string()).find("was refused: OOM"), std::string::npos) << aborted.body;
  EXPECT_EQ(cluster.command(cluster.primaryIndex(), {"EXISTS", "m:b"}), "0");
}

TEST(BatchTest, BadBatchesAreRefusedWholeAndNothingRuns) {
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster, config(), withKeys());
  HttpClient http(proxy.dataPort());
  const HttpResponse refused =
      http.post("/v1/pipeline", batchBody({{"SET", "bad:a", "1"}, {"FLUSHALL"}, {"GET", "bad:a"}}));
  EXPECT_EQ(refused.status, 403) << describe(refused);
  EXPECT_EQ(parse(refused).at("error"), "command_not_allowed");
  const HttpResponse inMulti = http.post("/v1/multi", batchBody({{"SET", "bad:a", "1"}, {"MULTI"}}));
  EXPECT_EQ(inMulti.status, 403) << describe(inMulti);
  const HttpResponse tooMany = http.post(
      "/v1/pipeline",
      batchBody({{"SET", "bad:a", "1"}, {"GET", "a"}, {"GET", "a"}, {"GET", "a"}, {"GET", "a"}, {"GET", "a"}}));
  EXPECT_EQ(tooMany.status, 413) << describe(tooMany);
  EXPECT_EQ(parse(tooMany).at("error"), "body_too_large");
  EXPECT_EQ(http.post("/v1/pipeline", R"(["GET","a"])").status, 400);
  EXPECT_EQ(http.post("/v1/pipeline", R"([["GET",["a"]]])").status, 400);
  EXPECT_EQ(http.post("/v1/multi", "[]").status, 400);
  EXPECT_EQ(http.get("/v1/pipeline").status, 405);
  EXPECT_EQ(cluster.command(cluster.primaryIndex(), {"EXISTS", "bad:a"}), "0");
}

TEST(BatchTest, NoscriptFromAReplicaIsRetriedOnThePrimary) {
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster, config(), withKeys());
  HttpClient http(proxy.dataPort());
  // SCRIPT LOAD runs on the primary only: Redis does not replicate its script cache.
  const HttpResponse load = http.post("/v1/cmd", R"(["SCRIPT","LOAD","return 'from-script'"])");
  ASSERT_EQ(load.status, 200) << describe(load);
  const std::string sha(parse(load).at("result").as_string());
  const double before = metricValue(proxy.adminPort(), "cxproxy_fallbacks_total", "reason=\"noscript\"");
  const HttpResponse run =
      http.post("/v1/pipeline", batchBody({{"EVALSHA_RO", sha, "0"}}), {{"X-Consistency", "eventual"}});
  ASSERT_EQ(run.status, 200) << describe(run);
  EXPECT_EQ(parse(run), json::parse(R"([{"result":"from-script"}])"));
  EXPECT_EQ(run.header("x-served-role"), "primary");
  EXPECT_EQ(metricValue(proxy.adminPort(), "cxproxy_fallbacks_total", "reason=\"noscript\""), before + 1);
}

TEST(BatchTest, UpstashShebangFlagIsRemovedBeforeRedisSeesTheScript) {
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster, config(), withKeys());
  HttpClient http(proxy.dataPort());
  const std::string script = "#!lua flags=allow-key-locking,no-writes\nreturn ARGV[1]";
  // Redis alone refuses the flag.
  EXPECT_NE(cluster.command(cluster.primaryIndex(), {"EVAL", script, "0", "x"}).find("Unexpected flag"),
            std::string::npos);
  json::array body{json::array{"EVAL", script.c_str(), "0", "hello"}};
  const HttpResponse r = http.post("/v1/pipeline", json::serialize(body));
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(parse(r), json::parse(R"([{"result":"hello"}])"));
}

}  // namespace
}  // namespace cx::testing
