// The data path end to end (README "HTTP API", README "Configuration"): real redis-server processes and the real
// cxproxy binary, driven over HTTP as an application would, with what Redis itself holds as the reference. Covers round
// trips, binary safety, response headers, pipelining, concurrent clients, a primary crash, input validation and limits,
// admin endpoints, graceful shutdown and the command line.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------- helpers

// Percent-encodes every byte outside RFC 3986's unreserved set (and ':'), so any bytes
// can travel in a request target.
std::string pctEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~' || c == ':') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string kvPath(std::string_view key) { return "/v1/kv/" + pctEncode(key); }

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  auto at = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned g = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    for (int s : {18, 12, 6, 0}) out.push_back(kAlphabet[(g >> s) & 63]);
  }
  if (const std::size_t rest = bytes.size() - i; rest != 0) {
    unsigned g = at(i) << 16;
    if (rest == 2) g |= at(i + 1) << 8;
    out.push_back(kAlphabet[(g >> 18) & 63]);
    out.push_back(kAlphabet[(g >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(g >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

// Every byte value once, then NUL / CR LF / invalid UTF-8 runs.
std::string allBytes() {
  std::string s;
  for (int c = 0; c < 256; ++c) s.push_back(static_cast<char>(c));
  s += std::string("\0\0\r\n\r\n\xff\xfe\xc3\x28", 10);
  return s;
}

std::optional<json::value> parseJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return std::nullopt;
  return v;
}

std::string describe(const HttpResponse& r) {
  std::string out = "HTTP " + std::to_string(r.status);
  for (const auto& [k, v] : r.headers) out += "\n  " + k + ": " + v;
  out += "\n  body: " + r.body.substr(0, 400);
  return out;
}

// The documented error shape: `status`, Content-Type application/json, a JSON object with
// a string "error" (equal to `code` unless empty) and a non-empty string "message".
::testing::AssertionResult isJsonError(const HttpResponse& r, int status, std::string_view code = {}) {
  if (r.status != status) {
    return ::testing::AssertionFailure() << "expected status " << status << ", got " << describe(r);
  }
  if (r.header("content-type").find("application/json") == std::string::npos) {
    return ::testing::AssertionFailure() << "error without a JSON content type: " << describe(r);
  }
  auto v = parseJson(r.body);
  if (!v || !v->is_object()) return ::testing::AssertionFailure() << "body is not a JSON object: " << describe(r);
  const auto& o = v->get_object();
  const auto* error = o.if_contains("error");
  const auto* message = o.if_contains("message");
  if (!error || !error->is_string() || !message || !message->is_string() || message->get_string().empty()) {
    return ::testing::AssertionFailure() << "body lacks \"error\"/\"message\": " << describe(r);
  }
  if (!code.empty() && error->get_string() != code) {
    return ::testing::AssertionFailure() << "expected error \"" << code << "\", got " << describe(r);
  }
  return ::testing::AssertionSuccess();
}

std::string jsonField(const HttpResponse& r, std::string_view field) {
  auto v = parseJson(r.body);
  if (!v || !v->is_object()) return {};
  const auto* f = v->get_object().if_contains(field);
  return f && f->is_string() ? std::string(f->get_string()) : std::string();
}

// {"result": …} of a /v1/cmd response; null when the body is not that shape.
json::value cmdResult(const HttpResponse& r) {
  auto v = parseJson(r.body);
  if (!v || !v->is_object()) return json::value(nullptr);
  const auto* result = v->get_object().if_contains("result");
  return result ? *result : json::value(nullptr);
}

std::string cmdBody(std::initializer_list<json::value> argv) {
  json::array a;
  for (const auto& v : argv) a.push_back(v);
  return json::serialize(a);
}

json::value b64Arg(std::string_view bytes) { return json::object{{"base64", base64(bytes)}}; }

// A client that carries its session token from response to request, as README "HTTP API" asks.
class SessionClient {
 public:
  explicit SessionClient(int port) : http_(port) {}
  HttpResponse request(std::string_view method, std::string_view target, std::string_view body = {},
                       HttpHeaders headers = {}) {
    if (!token_.empty()) headers["X-Session-Token"] = token_;
    HttpResponse r = http_.request(method, target, body, headers);
    if (std::string t = r.header("x-session-token"); !t.empty()) token_ = t;
    return r;
  }
  HttpResponse get(std::string_view target) { return request("GET", target); }
  HttpResponse put(std::string_view target, std::string_view body) { return request("PUT", target, body); }
  HttpResponse del(std::string_view target) { return request("DELETE", target); }
  HttpResponse cmd(const std::string& body) { return request("POST", "/v1/cmd", body); }
  const std::string& token() const { return token_; }
  HttpClient& http() { return http_; }

 private:
  HttpClient http_;
  std::string token_;
};

// Prometheus text exposition → samples.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

std::vector<Sample> parseMetrics(const std::string& text) {
  std::vector<Sample> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string_view line(text.data() + pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = std::string(line.substr(0, i));
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::size_t eq = line.find('=', i);
        if (eq == std::string_view::npos) break;
        std::string name(line.substr(i, eq - i));
        i = eq + 2;  // skip ="
        std::string value;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            value.push_back(line[i] == 'n' ? '\n' : line[i]);
          } else {
            value.push_back(line[i]);
          }
          ++i;
        }
        ++i;  // closing quote
        if (i < line.size() && line[i] == ',') ++i;
        s.labels[name] = value;
      }
      ++i;  // '}'
    }
    while (i < line.size() && line[i] == ' ') ++i;
    s.value = std::strtod(std::string(line.substr(i)).c_str(), nullptr);
    out.push_back(std::move(s));
  }
  return out;
}

// Sum of the samples named `name` whose labels include every pair in `match`; nullopt if
// there is no such sample.
std::optional<double> metricValue(const std::vector<Sample>& samples, std::string_view name,
                                  const std::map<std::string, std::string>& match) {
  std::optional<double> total;
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool ok = true;
    for (const auto& [k, v] : match) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) ok = false;
    }
    if (ok) total = total.value_or(0) + s.value;
  }
  return total;
}

std::vector<Sample> scrape(int adminPort) {
  HttpClient admin(adminPort);
  HttpResponse r = admin.get("/metrics");
  EXPECT_EQ(r.status, 200) << describe(r);
  return parseMetrics(r.body);
}

// Bytes of a Redis string value on a node: nullopt when the key does not exist.
std::optional<std::string> redisValue(RedisCluster& cluster, std::size_t node, const std::string& key) {
  RedisReply r = cluster.reply(node, {"GET", key});
  if (r.isNil()) return std::nullopt;
  if (r.type != RedisReply::Type::Bulk) return "<" + r.toString() + ">";
  return r.str;
}

// ------------------------------------------------------------- shared cluster + proxy

// One cluster and one proxy for the tests that do not break anything: start-up is the
// slow part, and each test uses its own key prefix.
class DataPathTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      cluster_ = std::make_unique<RedisCluster>(2);
      // A generous quorum timeout: 100 concurrent strong writes under sanitizers must not
      // trip it (quorum failures are not what these tests are about).
      proxy_ =
          std::make_unique<CxproxyProcess>(*cluster_, "consistency:\n  write_quorum: {replicas: 1, timeout: 10s}\n");
    } catch (const std::exception& e) {
      setupError_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    proxy_.reset();
    cluster_.reset();
  }
  void SetUp() override {
    ASSERT_TRUE(setupError_.empty()) << "suite set-up failed: " << setupError_;
    ASSERT_TRUE(proxy_ && cluster_);
  }
  void TearDown() override {
    if (HasFailure() && proxy_) std::cerr << "--- cxproxy output tail ---\n" << proxy_->outputTail(40);
  }

  static RedisCluster& cluster() { return *cluster_; }
  static CxproxyProcess& proxy() { return *proxy_; }
  static int port() { return proxy_->dataPort(); }
  static std::optional<std::string> onPrimary(const std::string& key) {
    return redisValue(*cluster_, cluster_->primaryIndex(), key);
  }

  static inline std::unique_ptr<RedisCluster> cluster_;
  static inline std::unique_ptr<CxproxyProcess> proxy_;
  static inline std::string setupError_;
};

TEST_F(DataPathTest, KvPutGetDeleteRoundTrip) {
  SessionClient c(port());
  const std::string key = "rt:greeting";

  HttpResponse put = c.put(kvPath(key), "hello world");
  EXPECT_EQ(put.status, 204) << describe(put);
  EXPECT_TRUE(put.body.empty());
  EXPECT_EQ(onPrimary(key), "hello world");

  HttpResponse get = c.get(kvPath(key));
  EXPECT_EQ(get.status, 200) << describe(get);
  EXPECT_EQ(get.body, "hello world");
  EXPECT_EQ(get.header("content-type"), "application/octet-stream");

  // Overwrite, then read back the new value.
  EXPECT_EQ(c.put(kvPath(key), "second").status, 204);
  EXPECT_EQ(c.get(kvPath(key)).body, "second");
  EXPECT_EQ(onPrimary(key), "second");

  // Empty values are values.
  EXPECT_EQ(c.put(kvPath("rt:empty"), "").status, 204);
  HttpResponse empty = c.get(kvPath("rt:empty"));
  EXPECT_EQ(empty.status, 200) << describe(empty);
  EXPECT_EQ(empty.body, "");
  EXPECT_EQ(onPrimary("rt:empty"), "");

  HttpResponse del = c.del(kvPath(key));
  EXPECT_EQ(del.status, 204) << describe(del);
  EXPECT_EQ(onPrimary(key), std::nullopt);

  HttpResponse gone = c.get(kvPath(key));
  EXPECT_TRUE(isJsonError(gone, 404, "not_found"));

  HttpResponse delAgain = c.del(kvPath(key));
  EXPECT_TRUE(isJsonError(delAgain, 404, "not_found"));

  HttpResponse never = c.get(kvPath("rt:never-written"));
  EXPECT_TRUE(isJsonError(never, 404, "not_found"));
}

TEST_F(DataPathTest, TtlMsExpiresTheValue) {
  SessionClient c(port());
  // A long TTL lands on the primary as a PX expiry.
  ASSERT_EQ(c.put(kvPath("ttl:long") + "?ttl_ms=60000", "stays").status, 204);
  RedisReply pttl = cluster().reply(0, {"PTTL", "ttl:long"});
  ASSERT_EQ(pttl.type, RedisReply::Type::Integer);
  EXPECT_GT(pttl.integer, 0);
  EXPECT_LE(pttl.integer, 60000);
  EXPECT_EQ(c.get(kvPath("ttl:long")).body, "stays");

  // A plain PUT has no expiry.
  ASSERT_EQ(c.put(kvPath("ttl:none"), "forever").status, 204);
  EXPECT_EQ(cluster().reply(0, {"PTTL", "ttl:none"}).integer, -1);

  // A short TTL: the value disappears (poll, no timing assertion).
  ASSERT_EQ(c.put(kvPath("ttl:short") + "?ttl_ms=300", "fleeting").status, 204);
  HttpClient strong(port());
  HttpResponse last;
  bool gone = waitUntil(
      [&] {
        last = strong.get(kvPath("ttl:short"), {{"X-Consistency", "strong"}});
        return last.status == 404;
      },
      15s, 50ms);
  EXPECT_TRUE(gone) << describe(last);
  EXPECT_TRUE(isJsonError(last, 404, "not_found"));
  EXPECT_EQ(onPrimary("ttl:short"), std::nullopt);
}

TEST_F(DataPathTest, CommandEndpointRendersRepliesAsJson) {
  SessionClient c(port());

  HttpResponse hset = c.cmd(cmdBody({"HSET", "cmd:user:1", "name", "ada", "lang", "en"}));
  ASSERT_EQ(hset.status, 200) << describe(hset);
  EXPECT_EQ(hset.header("content-type").find("application/json"), 0u);
  EXPECT_EQ(cmdResult(hset), json::value(2));
  EXPECT_EQ(cluster().command(0, {"HGET", "cmd:user:1", "lang"}), "en");

  HttpResponse hgetall = c.cmd(cmdBody({"HGETALL", "cmd:user:1"}));
  ASSERT_EQ(hgetall.status, 200) << describe(hgetall);
  json::value all = cmdResult(hgetall);
  ASSERT_TRUE(all.is_array()) << hgetall.body;
  std::map<std::string, std::string> fields;
  for (std::size_t i = 0; i + 1 < all.as_array().size(); i += 2) {
    fields[std::string(all.as_array()[i].as_string())] = std::string(all.as_array()[i + 1].as_string());
  }
  EXPECT_EQ(fields, (std::map<std::string, std::string>{{"name", "ada"}, {"lang", "en"}}));

  // Integer, nil and array replies.
  HttpResponse incr = c.cmd(cmdBody({"INCRBY", "cmd:counter", 41}));
  EXPECT_EQ(cmdResult(incr), json::value(41)) << incr.body;
  incr = c.cmd(cmdBody({"INCR", "cmd:counter"}));
  EXPECT_EQ(cmdResult(incr), json::value(42)) << incr.body;
  EXPECT_EQ(cluster().command(0, {"GET", "cmd:counter"}), "42");

  HttpResponse nil = c.cmd(cmdBody({"GET", "cmd:missing"}));
  ASSERT_EQ(nil.status, 200) << describe(nil);
  EXPECT_TRUE(cmdResult(nil).is_null());
  EXPECT_NE(nil.body.find("\"result\":null"), std::string::npos) << nil.body;

  ASSERT_EQ(c.cmd(cmdBody({"RPUSH", "cmd:list", "a", "b", "c"})).status, 200);
  HttpResponse range = c.cmd(cmdBody({"LRANGE", "cmd:list", 0, -1}));
  EXPECT_EQ(cmdResult(range), (json::value(json::array{"a", "b", "c"}))) << range.body;
  HttpResponse mget = c.cmd(cmdBody({"MGET", "cmd:counter", "cmd:missing"}));
  EXPECT_EQ(cmdResult(mget), (json::value(json::array{"42", nullptr}))) << mget.body;

  // Non-UTF-8 bytes travel as {"base64": …} both ways; the primary holds the exact bytes.
  const std::string binary("\xff\xfe\x00\x01 ok\r\n\x80", 10);
  HttpResponse set = c.cmd(cmdBody({"SET", "cmd:bin", b64Arg(binary)}));
  ASSERT_EQ(set.status, 200) << describe(set);
  EXPECT_EQ(cmdResult(set), json::value("OK"));
  EXPECT_EQ(onPrimary("cmd:bin"), binary);
  HttpResponse getBin = c.cmd(cmdBody({"GET", "cmd:bin"}));
  ASSERT_EQ(getBin.status, 200) << describe(getBin);
  EXPECT_EQ(cmdResult(getBin), (json::value(json::object{{"base64", base64(binary)}}))) << getBin.body;
  // Valid UTF-8 (including control characters) stays a JSON string.
  const std::string text = "caf\xc3\xa9 \xe2\x82\xac\n\t\"q\"";
  ASSERT_EQ(c.cmd(cmdBody({"SET", "cmd:text", b64Arg(text)})).status, 200);
  EXPECT_EQ(cmdResult(c.cmd(cmdBody({"GET", "cmd:text"}))), json::value(text));

  // A Redis error reply is a 400 redis_error carrying Redis's own message.
  const std::string wrongType = cluster().reply(0, {"GET", "cmd:user:1"}).str;
  ASSERT_EQ(wrongType.rfind("WRONGTYPE", 0), 0u) << wrongType;
  HttpResponse wt = c.cmd(cmdBody({"GET", "cmd:user:1"}));
  EXPECT_TRUE(isJsonError(wt, 400, "redis_error"));
  EXPECT_EQ(jsonField(wt, "message"), wrongType);
  HttpResponse wtWrite = c.cmd(cmdBody({"LPUSH", "cmd:user:1", "x"}));
  EXPECT_TRUE(isJsonError(wtWrite, 400, "redis_error"));
  EXPECT_EQ(jsonField(wtWrite, "message").rfind("WRONGTYPE", 0), 0u) << wtWrite.body;
  EXPECT_EQ(cluster().command(0, {"TYPE", "cmd:user:1"}), "hash");

  // Refused commands never reach Redis.
  for (const std::string& body :
       {cmdBody({"FLUSHALL"}), cmdBody({"FLUSHDB"}), cmdBody({"CONFIG", "GET", "maxmemory"}),
        cmdBody({"CONFIG", "SET", "maxmemory", "1"}), cmdBody({"KEYS", "*"}), cmdBody({"flushall", "ASYNC"})}) {
    HttpResponse refused = c.cmd(body);
    EXPECT_TRUE(isJsonError(refused, 403, "command_not_allowed")) << body;
  }
  EXPECT_EQ(cluster().command(0, {"EXISTS", "cmd:counter"}), "1") << "FLUSHALL went through";
  EXPECT_EQ(cluster().command(0, {"CONFIG", "GET", "maxmemory"}), "[maxmemory, 0]");

  HttpResponse unknown = c.cmd(cmdBody({"NOSUCHCOMMAND", "cmd:counter"}));
  EXPECT_TRUE(isJsonError(unknown, 400));
  HttpResponse arity = c.cmd(cmdBody({"GET"}));
  EXPECT_TRUE(isJsonError(arity, 400));
}

TEST_F(DataPathTest, BinaryKeysAndValuesAreStoredExactly) {
  SessionClient c(port());
  const std::vector<std::string> keys = {
      std::string("bin:nul\0key", 11),
      "bin:crlf\r\nkey",
      "bin:\xff\xfe\x80 not utf8",
      "bin:dir/sub/key",
      "bin:100%",
      "bin:%41 literal percent",
      "bin:q?x=1&y#frag",
      "bin:space and +plus",
      std::string("bin:\0", 5),
  };
  const std::string value = allBytes();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    SCOPED_TRACE("key #" + std::to_string(i) + " " + pctEncode(keys[i]));
    const std::string v = value + std::to_string(i);
    HttpResponse put = c.put(kvPath(keys[i]), v);
    ASSERT_EQ(put.status, 204) << describe(put);
    EXPECT_EQ(onPrimary(keys[i]), v) << "the primary holds different bytes under the decoded key";
    HttpResponse get = c.get(kvPath(keys[i]));
    EXPECT_EQ(get.status, 200) << describe(get);
    EXPECT_EQ(get.body, v);
  }
  // Every key above is distinct in Redis (no two encodings collapsed).
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(onPrimary(keys[i]), value + std::to_string(i));
  }

  // Unencoded '/' in the path is part of the key, the same key as %2F.
  ASSERT_EQ(c.put("/v1/kv/bin:a/b/c", "slashes").status, 204);
  EXPECT_EQ(onPrimary("bin:a/b/c"), "slashes");
  EXPECT_EQ(c.get("/v1/kv/bin:a%2Fb%2fc").body, "slashes");

  // A value written straight into Redis is read through the proxy under the same bytes.
  const std::string directKey("bin:direct\0\xc3\x28\r\n", 15);
  ASSERT_EQ(cluster().command(0, {"SET", directKey, value}), "OK");
  HttpResponse direct = c.request("GET", kvPath(directKey), {}, {{"X-Consistency", "strong"}});
  EXPECT_EQ(direct.status, 200) << describe(direct);
  EXPECT_EQ(direct.body, value);

  // DELETE removes exactly that key.
  ASSERT_EQ(c.del(kvPath(keys[0])).status, 204);
  EXPECT_EQ(onPrimary(keys[0]), std::nullopt);
  EXPECT_EQ(onPrimary(keys.back()), value + std::to_string(keys.size() - 1));

  // Binary keys through /v1/cmd.
  const std::string cmdKey("bin:cmd\0\xff", 9);
  HttpResponse set = c.cmd(cmdBody({"SET", b64Arg(cmdKey), b64Arg(value)}));
  ASSERT_EQ(set.status, 200) << describe(set);
  EXPECT_EQ(onPrimary(cmdKey), value);
  EXPECT_EQ(c.get(kvPath(cmdKey)).body, value);
}

TEST_F(DataPathTest, DataResponsesCarryConsistencyHeaders) {
  SessionClient c(port());
  HttpResponse put = c.put(kvPath("hdr:k"), "v");
  ASSERT_EQ(put.status, 204) << describe(put);
  EXPECT_EQ(put.header("x-consistency"), "session");  // the default level
  EXPECT_EQ(put.header("x-served-by"), "primary");
  EXPECT_EQ(put.header("x-served-role"), "primary");
  EXPECT_EQ(put.header("x-staleness-bound-ms"), "0");
  EXPECT_FALSE(put.header("x-session-token").empty());

  HttpClient plain(port());
  for (const char* level : {"strong", "linearizable", "STRONG"}) {
    HttpResponse get = plain.get(kvPath("hdr:k"), {{"X-Consistency", level}});
    ASSERT_EQ(get.status, 200) << describe(get);
    EXPECT_EQ(get.body, "v");
    EXPECT_EQ(get.header("x-consistency"), "strong") << level;
    EXPECT_EQ(get.header("x-served-by"), "primary");
    EXPECT_EQ(get.header("x-served-role"), "primary");
    EXPECT_EQ(get.header("x-staleness-bound-ms"), "0");
    EXPECT_FALSE(get.header("x-session-token").empty());
  }

  // A session read with the write's token: served by someone who has the write.
  const std::string firstToken = c.token();
  HttpResponse session = c.get(kvPath("hdr:k"));
  ASSERT_EQ(session.status, 200) << describe(session);
  EXPECT_EQ(session.header("x-consistency"), "session");
  EXPECT_FALSE(session.header("x-session-token").empty());
  const std::string by = session.header("x-served-by");
  const std::string role = session.header("x-served-role");
  EXPECT_TRUE((by == "primary" && role == "primary") || ((by == "replica-1" || by == "replica-2") && role == "replica"))
      << describe(session);
  EXPECT_FALSE(session.header("x-staleness-bound-ms").empty());

  // Replicas serve weaker reads once they have caught up; the headers say which one and
  // how stale it may be.
  cluster().waitSynced();
  bool sawReplica = waitUntil(
      [&] {
        HttpResponse r = plain.get(kvPath("hdr:k"), {{"X-Consistency", "bounded"}, {"X-Max-Staleness", "5s"}});
        return r.status == 200 && r.header("x-served-role") == "replica";
      },
      10s, 20ms);
  EXPECT_TRUE(sawReplica) << "no bounded read was ever served by a replica";
  HttpResponse bounded = plain.get(kvPath("hdr:k"), {{"X-Consistency", "bounded"}, {"X-Max-Staleness", "5000"}});
  ASSERT_EQ(bounded.status, 200) << describe(bounded);
  EXPECT_EQ(bounded.body, "v");
  EXPECT_EQ(bounded.header("x-consistency"), "bounded");
  const std::string boundText = bounded.header("x-staleness-bound-ms");
  ASSERT_FALSE(boundText.empty());
  ASSERT_EQ(boundText.find_first_not_of("0123456789"), std::string::npos) << describe(bounded);
  EXPECT_LE(std::stoll(boundText), 5000) << "served a replica staler than the request allowed";
  if (bounded.header("x-served-role") == "replica") {
    EXPECT_TRUE(bounded.header("x-served-by") == "replica-1" || bounded.header("x-served-by") == "replica-2")
        << describe(bounded);
  }

  HttpResponse eventual = plain.get(kvPath("hdr:k"), {{"X-Consistency", "eventual"}});
  ASSERT_EQ(eventual.status, 200) << describe(eventual);
  EXPECT_EQ(eventual.header("x-consistency"), "eventual");
  EXPECT_FALSE(eventual.header("x-served-by").empty());
  EXPECT_FALSE(eventual.header("x-served-role").empty());
  EXPECT_FALSE(eventual.header("x-staleness-bound-ms").empty());

  // 404s from the data path are data responses too.
  HttpResponse missing = plain.get(kvPath("hdr:missing"), {{"X-Consistency", "strong"}});
  EXPECT_TRUE(isJsonError(missing, 404, "not_found"));
  EXPECT_EQ(missing.header("x-consistency"), "strong");
  EXPECT_EQ(missing.header("x-served-role"), "primary");

  // The token keeps working when sent back.
  EXPECT_NE(firstToken, "");
  HttpResponse again = plain.get(kvPath("hdr:k"), {{"X-Session-Token", c.token()}});
  EXPECT_EQ(again.status, 200) << describe(again);
}

TEST_F(DataPathTest, PipelinedRequestsAreAnsweredInOrder) {
  auto req = [&](const std::string& method, const std::string& key, const std::string& body = "",
                 const std::string& extra = "") {
    std::string r = method + " " + kvPath(key) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra;
    if (method == "PUT") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    return r + "\r\n" + body;
  };
  const std::string strong = "X-Consistency: strong\r\n";
  std::string batch;
  batch += req("PUT", "pipe:1", "one");
  batch += req("PUT", "pipe:2", std::string("two\r\n\r\nGET /v1/kv/pipe:1 HTTP/1.1\r\n\r\n", 33));
  batch += req("PUT", "pipe:3", "three");
  batch += req("GET", "pipe:3", "", strong);
  batch += req("GET", "pipe:1", "", strong);
  batch += req("GET", "pipe:missing", "", strong);
  batch += req("GET", "pipe:2", "", strong);
  batch += req("PUT", "pipe:1", "uno");
  batch += req("GET", "pipe:1", "", strong);
  batch += req("DELETE", "pipe:3", "");
  batch += req("GET", "pipe:3", "", strong);
  batch +=
      "POST /v1/cmd HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Consistency: strong\r\nContent-Length: 20\r\n\r\n"
      "[\"STRLEN\",\"pipe:1\"]\n";

  HttpClient client(port());
  RawResult raw = client.exchangeRaw(batch, 12);
  ASSERT_TRUE(raw.parseError.empty()) << raw.parseError;
  ASSERT_EQ(raw.responses.size(), 12u) << "closed=" << raw.closed << " timedOut=" << raw.timedOut << "\n"
                                       << raw.bytes.substr(0, 2000);
  const auto& r = raw.responses;
  EXPECT_EQ(r[0].status, 204);
  EXPECT_EQ(r[1].status, 204);
  EXPECT_EQ(r[2].status, 204);
  EXPECT_EQ(r[3].status, 200);
  EXPECT_EQ(r[3].body, "three");
  EXPECT_EQ(r[4].status, 200);
  EXPECT_EQ(r[4].body, "one");
  EXPECT_TRUE(isJsonError(r[5], 404, "not_found"));
  EXPECT_EQ(r[6].status, 200);
  EXPECT_EQ(r[6].body, std::string("two\r\n\r\nGET /v1/kv/pipe:1 HTTP/1.1\r\n\r\n", 33));
  EXPECT_EQ(r[7].status, 204);
  EXPECT_EQ(r[8].status, 200);
  EXPECT_EQ(r[8].body, "uno");
  EXPECT_EQ(r[9].status, 204);
  EXPECT_TRUE(isJsonError(r[10], 404, "not_found"));
  EXPECT_EQ(r[11].status, 200) << describe(r[11]);
  EXPECT_EQ(cmdResult(r[11]), json::value(3)) << r[11].body;
  EXPECT_FALSE(raw.closed);

  EXPECT_EQ(onPrimary("pipe:1"), "uno");
  EXPECT_EQ(onPrimary("pipe:3"), std::nullopt);

  // The connection is still usable afterwards.
  HttpResponse after = client.get(kvPath("pipe:1"), {{"X-Consistency", "strong"}});
  EXPECT_EQ(after.body, "uno");
  EXPECT_EQ(client.connectionsOpened(), 1u);
}

// Requests answered at once (refused by the handler without a backend call) mixed with
// requests that wait on Redis, 600 in one write: the server parses the next request only
// after the previous response has left, whether that response was ready at once or not.
TEST_F(DataPathTest, PipelinedRequestsAnsweredAtOnceAndLaterKeepTheirOrder) {
  HttpClient setup(port());
  for (int k = 0; k < 10; ++k) {
    ASSERT_EQ(setup.put(kvPath("mix:" + std::to_string(k)), "v" + std::to_string(k)).status, 204);
  }
  constexpr int kRequests = 600;
  std::string batch;
  for (int i = 0; i < kRequests; ++i) {
    const std::string level = i % 3 == 0 ? "strong" : "bogus";  // "bogus" is refused without Redis
    batch += "GET " + kvPath("mix:" + std::to_string(i % 10)) +
             " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Consistency: " + level + "\r\n\r\n";
  }
  HttpClient client(port());
  RawResult raw = client.exchangeRaw(batch, kRequests);
  ASSERT_TRUE(raw.parseError.empty()) << raw.parseError;
  ASSERT_EQ(raw.responses.size(), static_cast<std::size_t>(kRequests))
      << "closed=" << raw.closed << " timedOut=" << raw.timedOut;
  for (int i = 0; i < kRequests; ++i) {
    const auto& r = raw.responses[static_cast<std::size_t>(i)];
    if (i % 3 == 0) {
      ASSERT_EQ(r.status, 200) << "response " << i << ": " << describe(r);
      ASSERT_EQ(r.body, "v" + std::to_string(i % 10)) << "response " << i;
    } else {
      ASSERT_TRUE(isJsonError(r, 400, "invalid_consistency")) << "response " << i << ": " << describe(r);
    }
  }
  EXPECT_FALSE(raw.closed);
  EXPECT_EQ(client.get(kvPath("mix:3"), {{"X-Consistency", "strong"}}).body, "v3");
  EXPECT_EQ(client.connectionsOpened(), 1u);
}

// A client that sends its request and at once shuts down its side (the FIN may arrive
// with the request's bytes) gets its response, then the server closes: it does not keep
// the connection until the idle deadline (60 s here, longer than the client waits).
TEST_F(DataPathTest, ARequestFollowedByTheClientsFinIsAnsweredAndTheConnectionClosed) {
  HttpClient setup(port());
  ASSERT_EQ(setup.put(kvPath("fin:k"), "bye").status, 204);
  for (int i = 0; i < 20; ++i) {
    HttpClient c(port(), 10s);
    ASSERT_TRUE(c.sendRaw("GET " + kvPath("fin:k") + " HTTP/1.1\r\nHost: x\r\nX-Consistency: strong\r\n\r\n"));
    c.shutdownSend();
    RawResult r = c.readRaw(HttpClient::kUntilClose, 10s);
    ASSERT_EQ(r.responses.size(), 1u) << "round " << i << ": " << r.bytes;
    EXPECT_EQ(r.responses[0].status, 200);
    EXPECT_EQ(r.responses[0].body, "bye");
    ASSERT_TRUE(r.closed) << "round " << i;
    ASSERT_FALSE(r.timedOut) << "round " << i << ": the server kept a half-closed connection open";
  }
}

// Clients that vanish leave nothing behind: a FIN right after a whole request, a reset
// right after one, a FIN after half a header, or a reset between requests. The server
// keeps serving, and its count of open data connections comes back to the one really open.
TEST_F(DataPathTest, ClientsThatVanishMidRequestLeaveNothingBehind) {
  const std::string request = "GET " + kvPath("vanish:k") + " HTTP/1.1\r\nHost: x\r\nX-Consistency: strong\r\n\r\n";
  for (int i = 0; i < 160; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    const std::string bytes = i % 4 == 2 ? request.substr(0, 20) : request;
    ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
    if (i % 4 == 3) {  // wait for the response: the reset then finds the connection idle
      char buf[512];
      ASSERT_GT(::recv(fd, buf, sizeof buf, 0), 0);
    }
    if (i % 4 == 1 || i % 4 == 3) {
      const linger reset{1, 0};  // close() sends a reset instead of a FIN
      ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
    }
    ::close(fd);
  }
  HttpClient c(port());
  EXPECT_TRUE(isJsonError(c.get(kvPath("vanish:k"), {{"X-Consistency", "strong"}}), 404, "not_found"));
  // Each close is seen as soon as it arrives, or for a request already with its handler,
  // when the response cannot be sent. Polled, not timed: up to 10 s.
  std::optional<double> open;
  for (int tries = 0; tries < 200; ++tries) {
    open = metricValue(scrape(proxy().adminPort()), "cxproxy_open_connections", {{"listener", "data"}});
    if (open == 1.0) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(open, 1.0) << "data connections still counted as open";
  EXPECT_TRUE(isJsonError(c.get(kvPath("vanish:k"), {{"X-Consistency", "strong"}}), 404, "not_found"));
}

// The server drives its request parser over its own reads and sends each response without
// waiting when the socket takes it: requests that arrive in pieces must still be parsed
// whole, and responses larger than the socket buffers must still arrive complete.
TEST_F(DataPathTest, RequestsInPiecesAndResponsesBeyondTheSocketBuffersArriveWhole) {
  auto pause = [] { std::this_thread::sleep_for(50ms); };  // separate reads, not a timing check
  auto sendInPieces = [&](HttpClient& c, const auto& parts) {
    for (const auto& part : parts) {
      if (!c.sendRaw(part)) return false;
      pause();
    }
    return true;
  };
  {  // A PUT whose header and body arrive in five writes.
    HttpClient c(port());
    const std::string parts[] = {"PUT " + kvPath("piece:cl") + " HTTP/1.1\r\nHo", "st: x\r\nContent-Le",
                                 "ngth: 11\r\n\r\n", "hello ", "world"};
    ASSERT_TRUE(sendInPieces(c, parts));
    RawResult r = c.readRaw(1);
    ASSERT_EQ(r.responses.size(), 1u) << r.bytes;
    EXPECT_EQ(r.responses[0].status, 204) << describe(r.responses[0]);
    EXPECT_EQ(onPrimary("piece:cl"), "hello world");
  }
  {  // A chunked PUT cut inside a chunk-size line and inside a chunk, then a second
     // request whose header is cut in two, on the same connection.
    HttpClient c(port());
    const std::string parts[] = {
        "PUT " + kvPath("piece:chunked") +
            " HTTP/1.1\r\nHost: x\r\n"
            "Transfer-Encoding: chunked\r\n\r\n",
        "5\r\nab",
        "cde\r\n",
        "3",
        "\r\nfgh\r\n0\r\n\r\nGET " + kvPath("piece:chunked") + " HTTP/1.1\r\nHost: x\r\nX-Consis",
        "tency: strong\r\n\r\n"};
    ASSERT_TRUE(sendInPieces(c, parts));
    RawResult r = c.readRaw(2);
    ASSERT_EQ(r.responses.size(), 2u) << r.bytes;
    EXPECT_EQ(r.responses[0].status, 204) << describe(r.responses[0]);
    EXPECT_EQ(r.responses[1].status, 200) << describe(r.responses[1]);
    EXPECT_EQ(r.responses[1].body, "abcdefgh");
  }
  {  // Header names in any case; Expect: 100-continue is answered before the body is sent.
    HttpClient c(port());
    ASSERT_TRUE(c.sendRaw("PUT " + kvPath("piece:expect") +
                          " HTTP/1.1\r\nhost: x\r\nx-consistency: strong\r\n"
                          "expect: 100-continue\r\ncontent-length: 5\r\n\r\n"));
    RawResult interim = c.readRaw(1);
    ASSERT_EQ(interim.responses.size(), 1u) << interim.bytes;
    EXPECT_EQ(interim.responses[0].status, 100);
    ASSERT_TRUE(c.sendRaw("later"));
    RawResult r = c.readRaw(1);
    ASSERT_EQ(r.responses.size(), 1u) << r.bytes;
    EXPECT_EQ(r.responses[0].status, 204) << describe(r.responses[0]);
    EXPECT_EQ(r.responses[0].header("x-consistency"), "strong");
    EXPECT_EQ(onPrimary("piece:expect"), "later");
  }
  {  // The client stops sending halfway through a body: nothing is written, and the
     // server closes the connection without answering the incomplete request.
    HttpClient c(port());
    ASSERT_TRUE(c.sendRaw("PUT " + kvPath("piece:cut") + " HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"));
    pause();
    c.shutdownSend();
    RawResult r = c.readRaw(HttpClient::kUntilClose);
    EXPECT_TRUE(r.closed);
    EXPECT_FALSE(r.timedOut);
    EXPECT_TRUE(r.responses.empty()) << r.bytes;
    EXPECT_EQ(onPrimary("piece:cut"), std::nullopt);
  }
  {  // 16 pipelined GETs of a 1 MiB value, read only after a pause: 16 MiB of responses
     // are more than the socket buffers hold, so sends stop part-way and resume.
    const std::string mib = [] {
      std::string v(1024 * 1024, '\0');
      for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<char>('a' + i % 26);
      return v;
    }();
    ASSERT_EQ(cluster().command(0, {"SET", "piece:big", mib}), "OK");
    std::string batch;
    for (int i = 0; i < 16; ++i)
      batch += "GET " + kvPath("piece:big") + " HTTP/1.1\r\nHost: x\r\nX-Consistency: strong\r\n\r\n";
    HttpClient c(port());
    ASSERT_TRUE(c.sendRaw(batch));
    std::this_thread::sleep_for(300ms);
    RawResult r = c.readRaw(16);
    ASSERT_EQ(r.responses.size(), 16u) << "closed=" << r.closed << " timedOut=" << r.timedOut;
    for (const auto& res : r.responses) {
      EXPECT_EQ(res.status, 200);
      EXPECT_TRUE(res.body == mib) << "a response body of " << res.body.size() << " bytes differs";
    }
  }
}

// Waits until the proxy's status shows both configured replicas up.
bool bothReplicasUp(const CxproxyProcess& p) {
  HttpClient admin(p.adminPort());
  return waitUntil(
      [&] {
        auto status = parseJson(admin.get("/v1/status").body);
        if (!status) return false;
        int up = 0;
        for (const auto& b : status->at("backends").as_array()) {
          const auto& o = b.as_object();
          if (o.at("configured_role").as_string() == "replica" && o.at("up").as_bool()) ++up;
        }
        return up == 2;
      },
      20s);
}

// redis.replica_stickiness: by default a worker keeps its reads on one replica (its
// queue never runs 64 calls deeper than another's here); 0 spreads them, least loaded
// first and ties in rotation.
TEST_F(DataPathTest, AWorkerKeepsToOneReplicaUnlessStickinessIsZero) {
  auto config = [&](const std::string& stickiness) { return "workers: 1\n" + redisSection(cluster(), stickiness); };
  auto servedBy = [](const CxproxyProcess& p, int reads) {
    HttpClient c(p.dataPort());
    std::set<std::string> names;
    for (int i = 0; i < reads; ++i) {
      HttpResponse r = c.get(kvPath("sticky:k"), {{"X-Consistency", "eventual"}});
      EXPECT_EQ(r.header("x-served-role"), "replica") << describe(r);
      names.insert(r.header("x-served-by"));
    }
    return names;
  };
  ASSERT_EQ(cluster().command(0, {"SET", "sticky:k", "v"}), "OK");
  {
    // Ties go in rotation, after the higher offset: read until the polled offsets agree.
    CxproxyProcess spread(cluster(), config("  replica_stickiness: 0\n"));
    ASSERT_TRUE(bothReplicasUp(spread));
    EXPECT_TRUE(waitUntil([&] { return servedBy(spread, 10).size() == 2u; }, 10s))
        << "with stickiness 0 idle replicas never took turns";
  }
  {
    CxproxyProcess sticky(cluster(), config(""));
    ASSERT_TRUE(bothReplicasUp(sticky));
    EXPECT_EQ(servedBy(sticky, 40).size(), 1u) << "one worker, no queue: every read on its own replica";
  }
}

// Connections are handed to the workers in turn, so each serves the same number. Seen
// through replica stickiness: each worker keeps its eventual reads on its own replica.
TEST_F(DataPathTest, ConnectionsAreSharedEvenlyAmongWorkers) {
  CxproxyProcess proxy(cluster(), "workers: 2\nload:\n  enabled: false\n");
  ASSERT_EQ(cluster().command(0, {"SET", "even:k", "v"}), "OK");
  cluster().waitSynced();
  ASSERT_TRUE(bothReplicasUp(proxy));

  constexpr int kConnections = 8;
  std::map<std::string, int> connectionsPerReplica;
  std::vector<std::unique_ptr<HttpClient>> clients;  // all kept open
  for (int i = 0; i < kConnections; ++i) {
    clients.push_back(std::make_unique<HttpClient>(proxy.dataPort()));
    std::set<std::string> names;
    for (int read = 0; read < 3; ++read) {
      HttpResponse r = clients.back()->get(kvPath("even:k"), {{"X-Consistency", "eventual"}});
      ASSERT_EQ(r.status, 200) << describe(r);
      ASSERT_EQ(r.header("x-served-role"), "replica") << describe(r);
      names.insert(r.header("x-served-by"));
    }
    ASSERT_EQ(names.size(), 1u) << "one connection, one worker, one replica";
    ++connectionsPerReplica[*names.begin()];
  }
  ASSERT_EQ(connectionsPerReplica.size(), 2u) << "every connection went to one worker";
  for (const auto& [replica, count] : connectionsPerReplica) {
    EXPECT_EQ(count, kConnections / 2) << replica << " served " << count << " of " << kConnections << " connections";
  }
}

// The data port has one listener, without SO_REUSEPORT: a second process given the same
// port fails to start and says why, instead of quietly taking half the connections.
TEST_F(DataPathTest, ASecondProcessOnTheSameDataPortFailsToStart) {
  CxproxyProcess first(cluster());
  TempDir dir("cxproxy-second");
  ChildProcess second;
  second.start({cxproxyBinary(), "--config", first.configPath().string()}, dir.path() / "out.log");
  const std::optional<int> status = second.waitExit(20s);
  if (!status) second.kill();
  const std::string output = readFile(dir.path() / "out.log");
  ASSERT_TRUE(status.has_value()) << "the second process is still running:\n" << output;
  EXPECT_NE(*status, 0) << output;
  EXPECT_NE(output.find("cannot listen on 127.0.0.1:" + std::to_string(first.dataPort()) + ": Address already in use"),
            std::string::npos)
      << output;
  HttpClient client(first.dataPort());
  EXPECT_EQ(client.get(kvPath("second:k")).status, 404) << "the first process still serves";
}

TEST_F(DataPathTest, HundredConcurrentClientsNeverSeeEachOthersValues) {
  constexpr int kClients = 100;
  constexpr int kRounds = 20;
  constexpr int kKeysPerClient = 3;
  std::mutex mu;
  std::vector<std::string> problems;
  std::vector<std::map<std::string, std::string>> finalValues(kClients);
  auto report = [&](std::string what) {
    std::lock_guard lock(mu);
    problems.push_back(std::move(what));
  };
  std::latch start(kClients);
  std::vector<std::thread> threads;
  for (int id = 0; id < kClients; ++id) {
    threads.emplace_back([&, id] {
      const bool strong = id % 2 == 0;  // even: X-Consistency: strong; odd: session tokens
      try {
        SessionClient c(port());
        std::map<std::string, std::string> last;
        start.arrive_and_wait();
        for (int round = 0; round < kRounds; ++round) {
          const std::string key = "conc:" + std::to_string(id) + ":" + std::to_string(round % kKeysPerClient);
          const std::string value = "client " + std::to_string(id) + " round " + std::to_string(round) +
                                    std::string("\0\r\n", 3) + std::string(static_cast<std::size_t>(id), 'x');
          HttpHeaders h;
          if (strong) h["X-Consistency"] = "strong";
          HttpResponse put = c.request("PUT", kvPath(key), value, h);
          // A missed quorum still applied the write on the primary (the body says so): it
          // must be read back like any other.
          const bool applied = put.status == 504 && jsonField(put, "error") == "quorum_not_reached" &&
                               put.body.find("\"applied_on_primary\":true") != std::string::npos;
          if (put.status != 204 && !applied) {
            report("client " + std::to_string(id) + " PUT " + key + ": " + describe(put));
            continue;
          }
          last[key] = value;
          // Read back this key and one other key of our own.
          const std::string other = "conc:" + std::to_string(id) + ":" + std::to_string((round + 1) % kKeysPerClient);
          for (const std::string& k : {key, other}) {
            HttpResponse get = c.request("GET", kvPath(k), {}, h);
            auto it = last.find(k);
            if (it == last.end()) {
              if (get.status != 404)
                report("client " + std::to_string(id) + " GET unwritten " + k + ": " + describe(get));
            } else if (get.status != 200 || get.body != it->second) {
              report("client " + std::to_string(id) + " GET " + k + " expected '" + it->second.substr(0, 20) +
                     "…', got " + describe(get));
            }
          }
        }
        std::lock_guard lock(mu);
        finalValues[static_cast<std::size_t>(id)] = std::move(last);
      } catch (const std::exception& e) {
        report("client " + std::to_string(id) + " threw: " + e.what());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::string summary;
  for (std::size_t i = 0; i < problems.size() && i < 10; ++i) summary += problems[i] + "\n";
  EXPECT_TRUE(problems.empty()) << problems.size() << " problems, first ones:\n" << summary;
  for (int id = 0; id < kClients; ++id) {
    for (const auto& [key, value] : finalValues[static_cast<std::size_t>(id)]) {
      EXPECT_EQ(onPrimary(key), value) << key;
    }
  }
}

// Each bad request aims at a key holding "original" and would change it; after each one the
// primary must still hold "original".
TEST_F(DataPathTest, BadInputGetsItsStatusAndChangesNothing) {
  const std::string key = "bad:k";
  ASSERT_EQ(cluster().command(0, {"SET", key, "original"}), "OK");
  auto unchanged = [&](const std::string& what) { EXPECT_EQ(onPrimary(key), "original") << "after " << what; };
  HttpClient c(port());

  {  // Header over 16 KiB → 431.
    HttpResponse r = c.put(kvPath(key), "changed", {{"X-Filler", std::string(17 * 1024, 'a')}});
    EXPECT_TRUE(isJsonError(r, 431));
    unchanged("431");
    c.close();
    // Just under the limit is fine (and proves the limit is 16 KiB, not less).
    HttpResponse ok = c.get(kvPath(key), {{"X-Filler", std::string(15 * 1024, 'a')}, {"X-Consistency", "strong"}});
    EXPECT_EQ(ok.status, 200) << describe(ok);
  }
  {  // Body over 1 MiB → 413, whether declared or streamed chunked.
    HttpClient raw(port());
    RawResult declared = raw.exchangeRaw("PUT " + kvPath(key) + " HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                             std::to_string(1024 * 1024 + 1) + "\r\n\r\n",
                                         1);
    ASSERT_EQ(declared.responses.size(), 1u) << declared.bytes;
    EXPECT_TRUE(isJsonError(declared.responses[0], 413, "body_too_large"));
    unchanged("413 (Content-Length)");

    HttpClient chunked(port());
    std::string req = "PUT " + kvPath(key) + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string chunk(64 * 1024, 'c');
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
    for (int i = 0; i < 17; ++i) req += size + chunk + "\r\n";  // 1 MiB + 64 KiB
    req += "0\r\n\r\n";
    chunked.sendRaw(req);
    RawResult streamed = chunked.readRaw(1);
    ASSERT_EQ(streamed.responses.size(), 1u) << streamed.bytes.substr(0, 300);
    EXPECT_TRUE(isJsonError(streamed.responses[0], 413, "body_too_large"));
    unchanged("413 (chunked)");

    // Exactly 1 MiB is accepted.
    SessionClient big(port());
    const std::string mib(1024 * 1024, 'm');
    HttpResponse ok = big.put(kvPath("bad:big"), mib);
    EXPECT_EQ(ok.status, 204) << describe(ok);
    EXPECT_EQ(onPrimary("bad:big"), mib);
  }
  {  // Key over 1 KiB → 400; exactly 1 KiB is fine.
    const std::string longKey(1025, 'k');
    HttpResponse r = c.put(kvPath(longKey), "changed");
    EXPECT_TRUE(isJsonError(r, 400, "bad_request"));
    EXPECT_EQ(onPrimary(longKey), std::nullopt);
    const std::string maxKey(1024, 'k');
    EXPECT_EQ(c.put(kvPath(maxKey), "fits").status, 204);
    EXPECT_EQ(onPrimary(maxKey), "fits");
    // 1024 bytes once decoded, but far longer on the wire: the limit counts decoded bytes.
    const std::string encodedKey(1024, '\x01');
    EXPECT_EQ(c.put(kvPath(encodedKey), "fits too").status, 204);
    EXPECT_EQ(onPrimary(encodedKey), "fits too");
  }
  {  // Wrong methods → 405 with Allow.
    for (const char* method : {"POST", "PATCH"}) {
      HttpResponse r = c.request(method, kvPath(key), "changed");
      EXPECT_TRUE(isJsonError(r, 405)) << method;
      const std::string allow = r.header("allow");
      EXPECT_NE(allow.find("GET"), std::string::npos) << allow;
      EXPECT_NE(allow.find("PUT"), std::string::npos) << allow;
      EXPECT_NE(allow.find("DELETE"), std::string::npos) << allow;
      unchanged(std::string("405 ") + method);
    }
    HttpResponse r = c.request("GET", "/v1/cmd");
    EXPECT_TRUE(isJsonError(r, 405));
    EXPECT_NE(r.header("allow").find("POST"), std::string::npos) << describe(r);
    HttpResponse put = c.request("PUT", "/v1/cmd", cmdBody({"SET", key.c_str(), "changed"}));
    EXPECT_TRUE(isJsonError(put, 405));
    unchanged("405 PUT /v1/cmd");
  }
  {  // Unknown paths → 404.
    for (const char* path : {"/v1/kvx/bad:k", "/v1/kv", "/v1/cmd/extra", "/v1/other"}) {
      HttpResponse r = c.put(path, "changed");
      EXPECT_TRUE(isJsonError(r, 404)) << path;
    }
    // Outside /v1/ is Upstash's protocol (README "Using existing clients"): it takes POST
    // (and GET for path-style commands), in its own error shape.
    for (const char* path : {"/v2/kv/bad:k", "/", "/metrics"}) {
      HttpResponse r = c.put(path, "changed");
      EXPECT_EQ(r.status, 405) << path << " " << describe(r);
      EXPECT_NE(r.header("allow").find("POST"), std::string::npos) << describe(r);
      EXPECT_NE(r.body.find("method_not_allowed: Upstash's"), std::string::npos) << describe(r);
    }
    unchanged("404");
  }
  {  // Content-Length and Transfer-Encoding together → 400 and the connection is closed
     // (a second request smuggled behind it is never answered).
    HttpClient raw(port());
    const std::string smuggled = "PUT " + kvPath(key) + " HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\nchanged";
    RawResult res = raw.exchangeRaw("PUT " + kvPath(key) +
                                        " HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n"
                                        "Transfer-Encoding: chunked\r\n\r\n7\r\nchanged\r\n0\r\n\r\n" +
                                        smuggled,
                                    HttpClient::kUntilClose, 20s);
    ASSERT_EQ(res.responses.size(), 1u) << res.bytes;
    EXPECT_TRUE(isJsonError(res.responses[0], 400));
    EXPECT_TRUE(res.closed) << "the connection stayed open";
    EXPECT_FALSE(res.timedOut);
    unchanged("CL+TE");
  }
  {  // A Transfer-Encoding other than chunked next to a Content-Length is refused the
     // same way.
    HttpClient raw(port());
    RawResult res = raw.exchangeRaw("PUT " + kvPath(key) +
                                        " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 7\r\n\r\n"
                                        "changed",
                                    HttpClient::kUntilClose, 20s);
    ASSERT_EQ(res.responses.size(), 1u) << res.bytes;
    EXPECT_TRUE(isJsonError(res.responses[0], 400, "bad_request"));
    EXPECT_NE(res.responses[0].body.find("both Content-Length and Transfer-Encoding"), std::string::npos)
        << res.responses[0].body;
    EXPECT_TRUE(res.closed) << "the connection stayed open";
    unchanged("TE gzip + CL");
  }
  {  // Malformed framing: a folded header line, a bad chunk size, an HTTP/2 request line, LF
     // line endings. Each gets a 400 naming the problem, and the connection closes.
    const std::pair<std::string, std::string> cases[] = {
        {"PUT " + kvPath(key) +
             " HTTP/1.1\r\nHost: x\r\nX-Consistency: strong\r\n folded\r\nContent-Length: 7\r\n\r\n"
             "changed",
         "bad header field"},
        {"PUT " + kvPath(key) + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7x\r\nchanged\r\n0\r\n\r\n",
         "bad chunked encoding"},
        {"PUT " + kvPath(key) + " HTTP/2.0\r\nHost: x\r\nContent-Length: 7\r\n\r\nchanged", "HTTP version"},
        // Sent without its blank line: answered at once, not after the header deadline.
        {"PUT " + kvPath(key) + " HTTP/1.1\nHost: x\n", "bad line ending"},
    };
    for (const auto& [request, problem] : cases) {
      HttpClient raw(port());
      RawResult res = raw.exchangeRaw(request, HttpClient::kUntilClose, 20s);
      ASSERT_EQ(res.responses.size(), 1u) << res.bytes;
      EXPECT_TRUE(isJsonError(res.responses[0], 400, "bad_request")) << request;
      EXPECT_NE(res.responses[0].body.find(problem), std::string::npos) << res.responses[0].body;
      EXPECT_TRUE(res.closed) << "the connection stayed open";
    }
    unchanged("malformed framing");
  }
  {  // Bad consistency headers.
    HttpResponse r = c.put(kvPath(key), "changed", {{"X-Consistency", "superstrong"}});
    EXPECT_TRUE(isJsonError(r, 400, "invalid_consistency"));
    r = c.put(kvPath(key), "changed", {{"X-Consistency", ""}});
    EXPECT_TRUE(isJsonError(r, 400, "invalid_consistency"));
    unchanged("bad X-Consistency");
    for (const char* staleness : {"soon", "-5ms", "10 parsecs", ""}) {
      r = c.put(kvPath(key), "changed", {{"X-Consistency", "bounded"}, {"X-Max-Staleness", staleness}});
      EXPECT_TRUE(isJsonError(r, 400)) << "X-Max-Staleness: " << staleness;
      r = c.get(kvPath(key), {{"X-Consistency", "bounded"}, {"X-Max-Staleness", staleness}});
      EXPECT_TRUE(isJsonError(r, 400)) << "X-Max-Staleness: " << staleness;
    }
    unchanged("bad X-Max-Staleness");
  }
  {  // Bad session tokens: garbage, truncated, tampered.
    SessionClient s(port());
    ASSERT_EQ(s.put(kvPath("bad:other"), "x").status, 204);
    const std::string good = s.token();
    ASSERT_GT(good.size(), 8u);
    std::string tampered = good;
    tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
    for (const std::string& token : {std::string("garbage"), good.substr(0, good.size() / 2), tampered,
                                     std::string("!!!!"), std::string(200, 'A')}) {
      HttpResponse r = c.put(kvPath(key), "changed", {{"X-Session-Token", token}});
      EXPECT_TRUE(isJsonError(r, 400, "invalid_session_token")) << token;
      r = c.get(kvPath(key), {{"X-Session-Token", token}});
      EXPECT_TRUE(isJsonError(r, 400, "invalid_session_token")) << token;
    }
    unchanged("bad session token");
    // The untampered token is accepted.
    EXPECT_EQ(c.get(kvPath("bad:other"), {{"X-Session-Token", good}}).status, 200);
  }
  {  // Bad ttl_ms.
    for (const char* ttl : {"abc", "0", "-5", "", "1.5", "10ms", "99999999999999999999999"}) {
      HttpResponse r = c.put(kvPath(key) + "?ttl_ms=" + ttl, "changed");
      EXPECT_TRUE(isJsonError(r, 400)) << "ttl_ms=" << ttl;
    }
    unchanged("bad ttl_ms");
    EXPECT_EQ(cluster().reply(0, {"PTTL", key}).integer, -1) << "a refused ttl_ms set an expiry";
  }
  {  // Bad JSON bodies on /v1/cmd.
    for (const std::string& body :
         {std::string("[\"SET\",\"bad:k\",\"changed\""), std::string("{\"cmd\":\"SET\"}"), std::string("[]"),
          std::string(""), std::string("SET bad:k changed"), std::string("[\"SET\",\"bad:k\",1.5]"),
          std::string("[\"SET\",\"bad:k\",true]"), std::string("[\"SET\",\"bad:k\",{\"base64\":\"***\"}]"),
          std::string("[\"SET\",\"bad:k\",{\"hex\":\"00\"}]"), std::string("[[\"SET\",\"bad:k\",\"changed\"]]")}) {
      HttpResponse r = c.post("/v1/cmd", body);
      EXPECT_TRUE(isJsonError(r, 400)) << body;
    }
    unchanged("bad JSON");
  }
  {  // Bad key encodings.
    for (const char* path : {"/v1/kv/bad%zz", "/v1/kv/bad%4", "/v1/kv/"}) {
      HttpResponse r = c.put(path, "changed");
      EXPECT_TRUE(isJsonError(r, 400)) << path;
    }
    unchanged("bad key encoding");
  }
  // After all that, the proxy still serves the key.
  HttpResponse get = c.get(kvPath(key), {{"X-Consistency", "strong"}});
  EXPECT_EQ(get.status, 200) << describe(get);
  EXPECT_EQ(get.body, "original");
}

TEST_F(DataPathTest, AdminEndpointsAndRequestMetrics) {
  HttpClient admin(proxy().adminPort());
  HttpResponse health = admin.get("/healthz");
  EXPECT_EQ(health.status, 200) << describe(health);
  HttpResponse ready = admin.get("/readyz");
  EXPECT_EQ(ready.status, 200) << describe(ready);

  const std::map<std::string, std::string> labels = {
      {"op", "put"}, {"requested", "strong"}, {"served", "strong"}, {"role", "primary"}, {"code", "204"}};
  auto before = scrape(proxy().adminPort());
  const double countBefore = metricValue(before, "cxproxy_requests_total", labels).value_or(0);
  const double durationBefore =
      metricValue(before, "cxproxy_request_duration_seconds_count", {{"op", "put"}, {"role", "primary"}}).value_or(0);
  const double notFoundBefore =
      metricValue(before, "cxproxy_requests_total", {{"op", "get"}, {"code", "404"}}).value_or(0);

  HttpClient c(port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(c.put(kvPath("metrics:k"), "v" + std::to_string(i), {{"X-Consistency", "strong"}}).status, 204);
  }
  ASSERT_EQ(c.get(kvPath("metrics:missing"), {{"X-Consistency", "strong"}}).status, 404);

  HttpResponse text = admin.get("/metrics");
  ASSERT_EQ(text.status, 200);
  EXPECT_NE(text.header("content-type").find("text/plain"), std::string::npos);
  EXPECT_NE(text.body.find("# TYPE cxproxy_requests_total counter"), std::string::npos);
  EXPECT_NE(text.body.find("# TYPE cxproxy_request_duration_seconds histogram"), std::string::npos);
  auto after = parseMetrics(text.body);

  // Every requests_total sample carries the contract's label set.
  bool any = false;
  for (const auto& s : after) {
    if (s.name != "cxproxy_requests_total") continue;
    any = true;
    for (const char* l : {"op", "requested", "served", "role", "code"}) {
      EXPECT_TRUE(s.labels.count(l)) << "cxproxy_requests_total sample without label " << l;
    }
  }
  EXPECT_TRUE(any) << "no cxproxy_requests_total samples";
  auto count = metricValue(after, "cxproxy_requests_total", labels);
  ASSERT_TRUE(count.has_value()) << "no sample for "
                                 << "op=put requested=strong served=strong role=primary code=204";
  EXPECT_EQ(*count - countBefore, 3);
  EXPECT_GE(metricValue(after, "cxproxy_requests_total", {{"op", "get"}, {"code", "404"}}).value_or(0) - notFoundBefore,
            1);
  auto durations = metricValue(after, "cxproxy_request_duration_seconds_count", {{"op", "put"}, {"role", "primary"}});
  ASSERT_TRUE(durations.has_value()) << "no cxproxy_request_duration_seconds for op=put role=primary";
  EXPECT_GE(*durations - durationBefore, 3);
  EXPECT_TRUE(metricValue(after, "cxproxy_request_duration_seconds_bucket", {{"op", "put"}, {"le", "+Inf"}}));

  HttpResponse status = admin.get("/v1/status");
  EXPECT_EQ(status.status, 200);
  EXPECT_TRUE(parseJson(status.body).has_value()) << status.body;
  EXPECT_TRUE(isJsonError(admin.get("/nope"), 404));
}

// ------------------------------------------------------------- primary failure

TEST(DataPathFailoverTest, PrimaryKilledMidRunWritesFailCleanlyThenRecoverAfterRestart) {
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster);

  struct Outcome {
    bool sentAfterKill = false;
    bool sentAfterRestartBegan = false;
    HttpResponse response;
    std::string exception;
  };
  std::atomic<bool> killed{false};
  std::atomic<bool> restarting{false};
  std::atomic<bool> stop{false};
  std::atomic<int> afterKillCount{0};
  std::atomic<int> successes{0};
  std::mutex mu;
  std::vector<Outcome> outcomes;

  std::thread writer([&] {
    HttpClient c(proxy.dataPort(), 10s);
    for (int i = 0; !stop.load(); ++i) {
      Outcome o;
      o.sentAfterKill = killed.load();
      o.sentAfterRestartBegan = restarting.load();
      try {
        o.response = c.put(kvPath("fo:k"), "value " + std::to_string(i));
      } catch (const std::exception& e) {
        o.exception = e.what();
      }
      if (o.response.status == 204) successes.fetch_add(1);
      if (o.sentAfterKill) afterKillCount.fetch_add(1);
      std::lock_guard lock(mu);
      outcomes.push_back(std::move(o));
    }
  });

  // Let some writes succeed, then kill the primary mid-run.
  EXPECT_TRUE(waitUntil([&] { return successes.load() >= 20; }, 20s));
  cluster.kill(0);
  killed = true;
  // Writes keep failing while it is down; wait until a clean 503 has been seen and a few
  // more writes went out.
  HttpClient probe(proxy.dataPort());
  HttpResponse probed;
  bool saw503 = waitUntil(
      [&] {
        probed = probe.put(kvPath("fo:probe"), "x");
        return probed.status == 503;
      },
      20s, 20ms);
  EXPECT_TRUE(saw503) << "writes never got 503 while the primary was down: " << describe(probed);
  EXPECT_TRUE(isJsonError(probed, 503, "primary_unavailable"));
  EXPECT_FALSE(probed.header("retry-after").empty()) << describe(probed);
  EXPECT_TRUE(waitUntil([&] { return afterKillCount.load() >= 10; }, 20s));

  // Restart the primary on the same port (empty, like a fresh pod); replicas reconnect.
  restarting = true;
  cluster.restart(0);
  SessionClient c(proxy.dataPort());
  HttpResponse put;
  bool recovered = waitUntil(
      [&] {
        put = c.put(kvPath("fo:after"), "recovered");
        return put.status == 204;
      },
      30s, 50ms);
  EXPECT_TRUE(recovered) << "writes never succeeded after the restart: " << describe(put);
  stop = true;
  writer.join();
  EXPECT_EQ(redisValue(cluster, 0, "fo:after"), "recovered");
  cluster.waitLinkUp(1);
  cluster.waitLinkUp(2);
  HttpResponse get;
  HttpClient reader(proxy.dataPort());
  EXPECT_TRUE(waitUntil(
      [&] {
        get = reader.get(kvPath("fo:after"), {{"X-Consistency", "strong"}});
        return get.status == 200;
      },
      30s, 50ms))
      << describe(get);
  EXPECT_EQ(get.body, "recovered");

  int failedAfterKill = 0;
  for (const Outcome& o : outcomes) {
    const HttpResponse& r = o.response;
    if (!o.exception.empty()) {
      ADD_FAILURE() << "a write got no HTTP response: " << o.exception;
      continue;
    }
    if (o.sentAfterKill && !o.sentAfterRestartBegan) {
      // The primary was dead for the whole request: never a success.
      EXPECT_NE(r.status / 100, 2) << "a write reported success while the primary was dead: " << describe(r);
    }
    if (r.status == 204) continue;
    if (o.sentAfterKill) ++failedAfterKill;
    EXPECT_TRUE(r.status == 503 || r.status == 502 || r.status == 504) << describe(r);
    EXPECT_TRUE(isJsonError(r, r.status));
    if (r.status == 503) {
      EXPECT_EQ(jsonField(r, "error"), "primary_unavailable") << describe(r);
      EXPECT_FALSE(r.header("retry-after").empty()) << describe(r);
    }
  }
  EXPECT_GE(failedAfterKill, 1);
}

// The first write after a primary restart is answered with a session token; sending that
// token back must work. A slow tracker makes the window in which the proxy still holds the
// old replication id (from its last poll) wide.
TEST(DataPathFailoverTest, TokenFromTheFirstWriteAfterAPrimaryRestartIsHonoured) {
  // The token's offset comes from the ROLE after the write and its replid from the primary
  // connection's handshake (a restarted primary is reached on a new connection), not from
  // the tracker's possibly older snapshot; a token the snapshot does not know is checked
  // against the primary's live INFO before any 409.
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster, "tracking: {interval: 5s, down_after: 10s}\n");
  SessionClient c(proxy.dataPort());
  ASSERT_EQ(c.put(kvPath("tok:k"), "before").status, 204);

  cluster.kill(0);
  cluster.restart(0);
  SessionClient fresh(proxy.dataPort());
  HttpResponse put;
  ASSERT_TRUE(waitUntil(
      [&] {
        put = fresh.put(kvPath("tok:k"), "after");
        return put.status == 204;
      },
      30s, 20ms))
      << describe(put);
  EXPECT_EQ(redisValue(cluster, 0, "tok:k"), "after");
  EXPECT_FALSE(put.header("x-session-token").empty()) << "a successful write without a session token";
  // The token names the position of that write; the primary holds it, so a session read
  // with it must be served (at worst from the primary), never refused as a lost history.
  HttpResponse get = fresh.get(kvPath("tok:k"));
  EXPECT_EQ(get.status, 200) << describe(get) << "\nwrite: " << describe(put);
  EXPECT_EQ(get.body, "after") << describe(get) << "\nwrite: " << describe(put);
}

// ------------------------------------------------------------- connection limits

class DataPathLimitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      cluster_ = std::make_unique<RedisCluster>(1);
    } catch (const std::exception& e) {
      setupError_ = e.what();
    }
  }
  static void TearDownTestSuite() { cluster_.reset(); }
  void SetUp() override { ASSERT_TRUE(cluster_) << "suite set-up failed: " << setupError_; }
  static inline std::unique_ptr<RedisCluster> cluster_;
  static inline std::string setupError_;
};

TEST_F(DataPathLimitsTest, SlowHeaderIsDroppedAfterTheHeaderDeadline) {
  CxproxyProcess proxy(*cluster_, "limits: {header_timeout: 500ms}\n");
  HttpClient slow(proxy.dataPort());
  ASSERT_TRUE(slow.sendRaw("GET /v1/kv/slow HTTP/1.1\r\nHost: x\r\nX-Partial: still typ"));

  // Other clients are served meanwhile.
  HttpClient other(proxy.dataPort());
  EXPECT_TRUE(isJsonError(other.get(kvPath("slow:missing"), {{"X-Consistency", "strong"}}), 404, "not_found"));

  RawResult res = slow.readRaw(HttpClient::kUntilClose, 60s);
  EXPECT_TRUE(res.closed) << "the server kept the half-sent request open";
  EXPECT_FALSE(res.timedOut);
  for (const auto& r : res.responses) EXPECT_NE(r.status / 100, 2) << describe(r);

  // A request that trickles in but completes within the deadline is served.
  HttpClient trickle(proxy.dataPort());
  ASSERT_TRUE(trickle.sendRaw("GET /v1/kv/slow HTTP/1.1\r\n"));
  ASSERT_TRUE(trickle.sendRaw("Host: x\r\nX-Consistency: strong\r\n\r\n"));
  RawResult ok = trickle.readRaw(1);
  ASSERT_EQ(ok.responses.size(), 1u) << ok.bytes;
  EXPECT_TRUE(isJsonError(ok.responses[0], 404, "not_found"));
}

TEST_F(DataPathLimitsTest, StalledBodyIsDroppedAfterTheBodyDeadlineAndNothingIsWritten) {
  CxproxyProcess proxy(*cluster_, "limits: {body_timeout: 500ms}\n");
  HttpClient slow(proxy.dataPort());
  ASSERT_TRUE(slow.sendRaw("PUT /v1/kv/stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"));
  RawResult res = slow.readRaw(HttpClient::kUntilClose, 60s);
  EXPECT_TRUE(res.closed) << "the server kept the half-sent body open";
  EXPECT_FALSE(res.timedOut);
  for (const auto& r : res.responses) EXPECT_NE(r.status / 100, 2) << describe(r);
  EXPECT_EQ(redisValue(*cluster_, 0, "stalled"), std::nullopt);
}

// A client that stops reading its responses holds the server's send; that counts
// against the body deadline too. 16 pipelined GETs of 1 MiB are more than the socket
// buffers hold, and the client reads nothing until the server has closed.
TEST_F(DataPathLimitsTest, AResponseTheClientDoesNotReadIsDroppedAfterTheBodyDeadline) {
  CxproxyProcess proxy(*cluster_, "limits: {body_timeout: 500ms}\n");
  ASSERT_EQ(cluster_->command(0, {"SET", "unread:big", std::string(1024 * 1024, 'r')}), "OK");
  std::string batch;
  for (int i = 0; i < 16; ++i)
    batch += "GET " + kvPath("unread:big") + " HTTP/1.1\r\nHost: x\r\nX-Consistency: strong\r\n\r\n";
  HttpClient stalled(proxy.dataPort());
  ASSERT_TRUE(stalled.sendRaw(batch));
  // Polled, not timed: the gauge counts the connection once a worker has it (the accept
  // is asynchronous, so it may still read 0 right after the connect), and drops when
  // the server closes it.
  auto open = [&] {
    return metricValue(scrape(proxy.adminPort()), "cxproxy_open_connections", {{"listener", "data"}});
  };
  ASSERT_TRUE(waitUntil([&] { return open() == 1.0; }, 30s, 10ms)) << "the connection was never counted";
  const bool closed = waitUntil([&] { return open() == 0.0; }, 30s, 50ms);
  EXPECT_TRUE(closed) << "the server kept a connection whose client stopped reading";
  RawResult r = stalled.readRaw(HttpClient::kUntilClose, 30s);
  EXPECT_TRUE(r.closed);
  EXPECT_LT(r.responses.size(), 16u);
}

TEST_F(DataPathLimitsTest, IdleKeepAliveConnectionIsClosedAfterTheIdleDeadline) {
  CxproxyProcess proxy(*cluster_, "limits: {idle_timeout: 500ms}\n");
  HttpClient idle(proxy.dataPort());
  ASSERT_TRUE(idle.sendRaw("GET /v1/kv/idle:missing HTTP/1.1\r\nHost: x\r\nX-Consistency: strong\r\n\r\n"));
  // The answer, then nothing more: the server closes the idle connection.
  RawResult res = idle.readRaw(HttpClient::kUntilClose, 60s);
  EXPECT_TRUE(res.closed) << "the idle keep-alive connection stayed open";
  EXPECT_FALSE(res.timedOut);
  ASSERT_EQ(res.responses.size(), 1u) << res.bytes;
  EXPECT_TRUE(isJsonError(res.responses[0], 404, "not_found"));
}

TEST_F(DataPathLimitsTest, ConnectionsBeyondTheCapGet503) {
  CxproxyProcess proxy(*cluster_, "limits: {max_connections: 3}\n");
  std::vector<std::unique_ptr<HttpClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<HttpClient>(proxy.dataPort()));
    HttpResponse r = held.back()->put(kvPath("cap:" + std::to_string(i)), "v");
    ASSERT_EQ(r.status, 204) << describe(r);
  }
  HttpClient fourth(proxy.dataPort());
  RawResult refused = fourth.readRaw(1, 20s);  // the refusal comes without a request
  ASSERT_EQ(refused.responses.size(), 1u) << refused.bytes;
  EXPECT_TRUE(isJsonError(refused.responses[0], 503, "too_many_connections"));
  EXPECT_FALSE(refused.responses[0].header("retry-after").empty());
  fourth.close();

  // The held connections still work.
  for (auto& c : held) EXPECT_EQ(c->get(kvPath("cap:0"), {{"X-Consistency", "strong"}}).body, "v");
  EXPECT_EQ(redisValue(*cluster_, 0, "cap:3"), std::nullopt);

  // Closing one frees a slot.
  held.front()->close();
  HttpResponse again;
  EXPECT_TRUE(waitUntil(
      [&] {
        HttpClient next(proxy.dataPort(), 5s);
        again = next.put(kvPath("cap:3"), "v");
        return again.status == 204;
      },
      20s, 50ms))
      << describe(again);
  EXPECT_EQ(redisValue(*cluster_, 0, "cap:3"), "v");
}

// ------------------------------------------------------------- graceful shutdown

TEST(DataPathShutdownTest, SigtermLetsTheInFlightRequestFinishAndExitsZero) {
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster, "consistency:\n  write_quorum: {replicas: 1, timeout: 1s}\n");
  HttpClient warm(proxy.dataPort());
  ASSERT_EQ(warm.put(kvPath("sd:k"), "before", {{"X-Consistency", "strong"}}).status, 204);

  // With every replica stopped, a strong write sits in WAIT for the quorum timeout.
  cluster.pause(1);
  cluster.pause(2);
  HttpResponse response;
  std::string error;
  std::thread client([&] {
    try {
      HttpClient c(proxy.dataPort());
      response = c.put(kvPath("sd:k"), "during", {{"X-Consistency", "strong"}});
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  // SIGTERM once the write is blocked in WAIT on the primary.
  bool inWait = waitUntil(
      [&] {
        return cluster.command(0, {"CLIENT", "LIST"}).find("cmd=wait") != std::string::npos;
      },
      20s, 5ms);
  EXPECT_TRUE(inWait) << "the strong write never reached WAIT";
  proxy.signal(SIGTERM);
  client.join();

  ASSERT_TRUE(error.empty()) << "the in-flight request lost its response: " << error;
  // The primary applied it; too few replicas acknowledged: 504 quorum_not_reached.
  EXPECT_TRUE(isJsonError(response, 504, "quorum_not_reached"));
  EXPECT_EQ(response.header("connection"), "close") << "a response during the drain must end its connection";
  EXPECT_EQ(redisValue(cluster, 0, "sd:k"), "during");
  std::optional<int> status = proxy.waitExit(30s);
  ASSERT_TRUE(status.has_value()) << "cxproxy did not exit after SIGTERM";
  EXPECT_EQ(*status, 0) << proxy.outputTail();
  // The idle keep-alive connection was closed by the drain, not left hanging.
  RawResult idle = warm.readRaw(HttpClient::kUntilClose, 20s);
  EXPECT_TRUE(idle.closed);
  EXPECT_TRUE(idle.responses.empty());
  cluster.resume(1);
  cluster.resume(2);
}

// ------------------------------------------------------------- command line

const char* kGoodConfig = R"(listen:
  data: 127.0.0.1:18080
  admin: 127.0.0.1:19100
redis:
  primary: {name: primary, address: 127.0.0.1:6379}
  replicas:
    - {name: replica-1, address: 127.0.0.1:6380}
    - {name: replica-2, address: 127.0.0.1:6381}
consistency:
  default: {level: session, override: any, on_stale: primary}
  rules:
    - name: accounts
      keys: ["account:*"]
      methods: [GET, PUT, DELETE]
      level: strong
      override: stronger
      downgrade: {enabled: true, floor: bounded}
    - name: feed
      keys: ["feed:*"]
      level: eventual
)";

TEST(DataPathCliTest, CheckConfigAcceptsAGoodFileAndPrintsTheRuleTable) {
  CxproxyRun run = runCxproxy({"--check-config", "{config}"}, kGoodConfig);
  EXPECT_EQ(run.exitStatus, 0) << run.output;
  const std::size_t accounts = run.output.find("accounts");
  const std::size_t feed = run.output.find("feed");
  const std::size_t fallback = run.output.find("(default)");
  ASSERT_NE(accounts, std::string::npos) << run.output;
  ASSERT_NE(feed, std::string::npos) << run.output;
  ASSERT_NE(fallback, std::string::npos) << run.output;
  EXPECT_LT(accounts, feed) << "rules out of order:\n" << run.output;
  EXPECT_LT(feed, fallback) << "the default is not last:\n" << run.output;
  EXPECT_NE(run.output.find("account:*"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("eventual"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("replica-2"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("replica choice: each worker keeps to one replica until it has 64 more calls"),
            std::string::npos)
      << run.output;

  // The shipped example validates too.
  const auto example =
      std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "config.example.yaml";
  if (std::filesystem::exists(example)) {
    CxproxyRun ex = runCxproxy({"--check-config", example.string()});
    EXPECT_EQ(ex.exitStatus, 0) << ex.output;
  }
}

TEST(DataPathCliTest, CheckConfigRejectsBadFilesNamingKeyAndLine) {
  // Unknown key on line 6.
  CxproxyRun unknown = runCxproxy({"--check-config", "{config}"},
                                  "listen:\n"
                                  "  data: 127.0.0.1:18080\n"
                                  "  admin: 127.0.0.1:19100\n"
                                  "redis:\n"
                                  "  primary: {name: primary, address: 127.0.0.1:6379}\n"
                                  "  bogus_option: 3\n");
  EXPECT_NE(unknown.exitStatus, 0) << unknown.output;
  EXPECT_NE(unknown.output.find("bogus_option"), std::string::npos) << unknown.output;
  EXPECT_NE(unknown.output.find(":6"), std::string::npos) << "no line number:\n" << unknown.output;

  // Bad duration on line 5.
  CxproxyRun duration = runCxproxy({"--check-config", "{config}"},
                                   "redis:\n"
                                   "  primary: {name: primary, address: 127.0.0.1:6379}\n"
                                   "workers: 1\n"
                                   "tracking:\n"
                                   "  interval: 50 parsecs\n");
  EXPECT_NE(duration.exitStatus, 0) << duration.output;
  EXPECT_NE(duration.output.find("interval"), std::string::npos) << duration.output;
  EXPECT_NE(duration.output.find(":5"), std::string::npos) << "no line number:\n" << duration.output;

  // Unknown top-level key, and a missing file.
  CxproxyRun top = runCxproxy({"--check-config", "{config}"}, "workers: 1\nfrobnicate: true\n");
  EXPECT_NE(top.exitStatus, 0) << top.output;
  EXPECT_NE(top.output.find("frobnicate"), std::string::npos) << top.output;
  EXPECT_NE(top.output.find(":2"), std::string::npos) << top.output;
  CxproxyRun missing = runCxproxy({"--check-config", "/nonexistent/cxproxy.yaml"});
  EXPECT_NE(missing.exitStatus, 0) << missing.output;
  EXPECT_NE(missing.output.find("/nonexistent/cxproxy.yaml"), std::string::npos) << missing.output;
}

TEST(DataPathCliTest, VersionHelpAndBadArguments) {
  CxproxyRun version = runCxproxy({"--version"});
  EXPECT_EQ(version.exitStatus, 0) << version.output;
  EXPECT_EQ(version.output.rfind("cxproxy ", 0), 0u) << version.output;
  EXPECT_NE(version.output.find_first_of("0123456789"), std::string::npos) << version.output;

  CxproxyRun help = runCxproxy({"--help"});
  EXPECT_EQ(help.exitStatus, 0) << help.output;
  EXPECT_NE(help.output.find("--config"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("--check-config"), std::string::npos) << help.output;

  CxproxyRun bad = runCxproxy({"--frobnicate"});
  EXPECT_NE(bad.exitStatus, 0) << bad.output;
  EXPECT_NE(bad.output.find("--frobnicate"), std::string::npos) << bad.output;
  CxproxyRun none = runCxproxy({});
  EXPECT_NE(none.exitStatus, 0) << none.output;
}

}  // namespace
}  // namespace cx::testing
