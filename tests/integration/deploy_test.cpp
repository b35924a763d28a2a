// The deployment artefacts under deploy/ (Dockerfile, Kubernetes manifests, Prometheus
// rules, Grafana dashboard) checked against the code they describe. Docker cannot run on
// the CI/dev machines, so the image is never built here; instead these tests pin down what
// can drift silently:
//   - every YAML/JSON file parses;
//   - every metric an alert or a dashboard panel queries is exported by a real cxproxy
//     (a live /metrics scrape after traffic that gives the labelled families children);
//   - the configs shipped in the image and the ConfigMap pass `cxproxy --check-config`;
//   - the manifests agree with each other and with the config (ports, probes, secrets,
//     selectors, the staleness bound the alert is written against);
//   - the Dockerfile runs the same build steps as `make build` (which CI runs), copies
//     every source folder CMake builds, runs as a non-root USER and has a HEALTHCHECK,
//     and that health check command works against a live cxproxy.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/integration/support/support.h"

namespace cx::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// ---------------------------------------------------------------------------- helpers

// tests/integration/deploy_test.cpp → the repository root.
fs::path repoRoot() {
  fs::path file(__FILE__);
  if (file.is_relative()) file = fs::current_path() / file;
  return fs::weakly_canonical(file.parent_path() / ".." / "..");
}

fs::path deployDir() { return repoRoot() / "deploy"; }

std::string readText(const fs::path& path) {
  if (!fs::exists(path)) throw std::runtime_error("missing file " + path.string());
  return readFile(path);
}

std::vector<YAML::Node> loadYamlDocs(const fs::path& path) { return YAML::LoadAllFromFile(path.string()); }

// The first document of `kind` (and `name`, when given) in a multi-document file.
YAML::Node findDoc(const std::vector<YAML::Node>& docs, const std::string& kind, const std::string& name = "") {
  for (const auto& doc : docs) {
    if (!doc.IsMap() || !doc["kind"] || doc["kind"].as<std::string>() != kind) continue;
    if (!name.empty() && doc["metadata"]["name"].as<std::string>() != name) continue;
    return doc;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

// "1s", "250ms", "1m", "500us" or a bare number of milliseconds (README "Configuration") → seconds.
double durationSeconds(const std::string& text) {
  std::size_t end = 0;
  const double value = std::stod(text, &end);
  const std::string unit = text.substr(end);
  if (unit.empty() || unit == "ms") return value / 1000.0;
  if (unit == "us") return value / 1e6;
  if (unit == "s") return value;
  if (unit == "m") return value * 60.0;
  if (unit == "h") return value * 3600.0;
  throw std::runtime_error("unknown duration unit in '" + text + "'");
}

// "host:port" → port.
int portOf(const std::string& endpoint) { return std::stoi(endpoint.substr(endpoint.rfind(':') + 1)); }
std::string hostOf(const std::string& endpoint) { return endpoint.substr(0, endpoint.rfind(':')); }

// Metric names (cxproxy_…) in a PromQL expression.
std::set<std::string> metricNamesIn(const std::string& expr) {
  static const std::regex kName(R"((^|[^A-Za-z0-9_:])(cxproxy_[a-z0-9_]+))");
  std::set<std::string> out;
  for (std::sregex_iterator it(expr.begin(), expr.end(), kName), end; it != end; ++it) {
    out.insert((*it)[2].str());
  }
  return out;
}

// The ConfigMap's embedded cxproxy config.
std::string configMapConfigText() {
  auto docs = loadYamlDocs(deployDir() / "k8s" / "configmap.yaml");
  YAML::Node cm = findDoc(docs, "ConfigMap");
  if (!cm || !cm["data"]["config.yaml"]) throw std::runtime_error("configmap.yaml has no data.config.yaml");
  return cm["data"]["config.yaml"].as<std::string>();
}

// The PrometheusRule's expressions, keyed by alert (or record) name.
std::map<std::string, std::string> ruleExpressions() {
  auto docs = loadYamlDocs(deployDir() / "k8s" / "prometheusrule.yaml");
  YAML::Node rule = findDoc(docs, "PrometheusRule");
  if (!rule) throw std::runtime_error("prometheusrule.yaml has no PrometheusRule");
  std::map<std::string, std::string> out;
  for (const auto& group : rule["spec"]["groups"]) {
    for (const auto& r : group["rules"]) {
      const std::string name = r["alert"] ? r["alert"].as<std::string>() : r["record"].as<std::string>();
      out[name] = r["expr"].as<std::string>();
    }
  }
  return out;
}

// Calls `fn` with every dashboard panel that has targets (rows' nested panels too).
template <typename Fn>
void collectPanels(const json::value& v, Fn&& fn) {
  if (v.is_object()) {
    const auto& obj = v.as_object();
    if (obj.contains("targets")) fn(obj);
    if (obj.contains("panels")) collectPanels(obj.at("panels"), fn);
  } else if (v.is_array()) {
    for (const auto& item : v.as_array()) collectPanels(item, fn);
  }
}

// Every string under an "expr", "query" or "definition" key of the dashboard (panel
// targets and templating queries).
void collectDashboardQueries(const json::value& v, std::vector<std::string>& out) {
  if (v.is_object()) {
    for (const auto& [key, child] : v.as_object()) {
      if (child.is_string() && (key == "expr" || key == "query" || key == "definition")) {
        out.emplace_back(child.as_string().c_str());
      } else {
        collectDashboardQueries(child, out);
      }
    }
  } else if (v.is_array()) {
    for (const auto& child : v.as_array()) collectDashboardQueries(child, out);
  }
}

json::value loadJson(const fs::path& path) { return json::parse(readText(path)); }

// ---------------------------------------------------------------- Dockerfile parsing

struct DockerInstruction {
  std::string keyword;  // upper case
  std::string args;     // continuation lines joined, trimmed
  int stage = 0;        // 0-based index of the FROM this belongs to
};

std::string trim(std::string_view s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Logical instructions: comment lines dropped (also inside continuations, as Docker does),
// backslash continuations joined.
std::vector<DockerInstruction> parseDockerfile(const std::string& text) {
  std::vector<DockerInstruction> out;
  std::istringstream in(text);
  std::string line;
  std::string pending;
  int stage = -1;
  auto flush = [&] {
    std::string logical = trim(pending);
    pending.clear();
    if (logical.empty()) return;
    const auto space = logical.find_first_of(" \t");
    DockerInstruction ins;
    ins.keyword = logical.substr(0, space);
    std::transform(ins.keyword.begin(), ins.keyword.end(), ins.keyword.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    ins.args = space == std::string::npos ? "" : trim(logical.substr(space));
    if (ins.keyword == "FROM") ++stage;
    ins.stage = stage;
    out.push_back(std::move(ins));
  };
  while (std::getline(in, line)) {
    const std::string t = trim(line);
    if (!t.empty() && t.front() == '#') continue;
    if (t.empty() && pending.empty()) continue;
    if (!t.empty() && t.back() == '\\') {
      pending += t.substr(0, t.size() - 1) + " ";
      continue;
    }
    pending += t;
    flush();
  }
  flush();
  return out;
}

std::vector<DockerInstruction> dockerInstructions() { return parseDockerfile(readText(deployDir() / "Dockerfile")); }

int lastStage(const std::vector<DockerInstruction>& ins) {
  int last = 0;
  for (const auto& i : ins) last = std::max(last, i.stage);
  return last;
}

// The exec-form JSON array after `CMD` in the HEALTHCHECK instruction.
std::vector<std::string> healthcheckCommand(const std::vector<DockerInstruction>& ins) {
  for (const auto& i : ins) {
    if (i.keyword != "HEALTHCHECK") continue;
    const auto cmd = i.args.find("CMD ");
    if (cmd == std::string::npos) throw std::runtime_error("HEALTHCHECK without CMD: " + i.args);
    json::value v = json::parse(i.args.substr(cmd + 4));  // throws unless exec-form JSON
    std::vector<std::string> argv;
    for (const auto& a : v.as_array()) argv.emplace_back(a.as_string().c_str());
    return argv;
  }
  throw std::runtime_error("the Dockerfile has no HEALTHCHECK");
}

// Recipe lines (tab-indented) of a Makefile target, and its prerequisites line.
struct MakeTarget {
  std::string prerequisites;
  std::vector<std::string> recipe;
};
MakeTarget makeTarget(const std::string& makefile, const std::string& name) {
  std::istringstream in(makefile);
  std::string line;
  MakeTarget out;
  bool inTarget = false;
  bool found = false;
  while (std::getline(in, line)) {
    if (inTarget && !line.empty() && line.front() == '\t') {
      out.recipe.push_back(trim(line));
      continue;
    }
    inTarget = false;
    if (line.rfind(name + ":", 0) == 0 && line.rfind(name + ":=", 0) != 0) {
      inTarget = found = true;
      out.prerequisites = trim(line.substr(name.size() + 1));
    }
  }
  if (!found) throw std::runtime_error("the Makefile has no target " + name);
  return out;
}

bool anyContains(const std::vector<std::string>& lines, const std::string& needle) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(needle) != std::string::npos; });
}

// ------------------------------------------------------------------------ parsing

TEST(DeployFilesTest, EveryYamlAndJsonFileParses) {
  const fs::path dir = deployDir();
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  // The files the deployment docs promise.
  for (const char* required :
       {"Dockerfile", "README.md", "docker/config.yaml", "k8s/deployment.yaml", "k8s/configmap.yaml", "k8s/secret.yaml",
        "k8s/servicemonitor.yaml", "k8s/prometheusrule.yaml", "prometheus/prometheus.yml",
        "prometheus/cxproxy-rules.yml", "grafana/cxproxy-dashboard.json"}) {
    EXPECT_TRUE(fs::is_regular_file(dir / required)) << "missing deploy/" << required;
  }
  int yamlFiles = 0;
  int jsonFiles = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string ext = entry.path().extension().string();
    const std::string rel = fs::relative(entry.path(), repoRoot()).string();
    if (ext == ".yaml" || ext == ".yml") {
      ++yamlFiles;
      try {
        auto docs = YAML::LoadAllFromFile(entry.path().string());
        EXPECT_FALSE(docs.empty()) << rel << " has no YAML document";
        for (std::size_t i = 0; i < docs.size(); ++i) {
          EXPECT_TRUE(docs[i].IsMap()) << rel << ": document " << i << " is not a mapping";
        }
      } catch (const YAML::Exception& e) {
        ADD_FAILURE() << rel << " does not parse as YAML: " << e.what();
      }
    } else if (ext == ".json") {
      ++jsonFiles;
      json::error_code ec;
      json::value v = json::parse(readText(entry.path()), ec);
      EXPECT_FALSE(ec) << rel << " does not parse as JSON: " << ec.message();
      EXPECT_TRUE(v.is_object()) << rel;
    }
  }
  EXPECT_GE(yamlFiles, 8);
  EXPECT_GE(jsonFiles, 1);

  // Kubernetes documents carry apiVersion, kind and metadata.name.
  for (const auto& entry : fs::directory_iterator(dir / "k8s")) {
    if (entry.path().extension() != ".yaml") continue;
    for (const auto& doc : loadYamlDocs(entry.path())) {
      const std::string rel = "deploy/k8s/" + entry.path().filename().string();
      EXPECT_TRUE(doc["apiVersion"] && doc["kind"] && doc["metadata"]["name"])
          << rel << " has a document without apiVersion, kind or metadata.name";
    }
  }
}

TEST(DeployFilesTest, DashboardHasThePromisedPanels) {
  json::value dash = loadJson(deployDir() / "grafana" / "cxproxy-dashboard.json");
  const auto& obj = dash.as_object();
  ASSERT_TRUE(obj.contains("schemaVersion"));
  EXPECT_GE(obj.at("schemaVersion").to_number<int>(), 36);
  // A data source variable, so the dashboard imports into any Grafana.
  bool hasDatasourceVar = false;
  for (const auto& var : obj.at("templating").at("list").as_array()) {
    if (var.at("type").as_string() == "datasource" && var.at("query").as_string() == "prometheus") {
      hasDatasourceVar = true;
    }
  }
  EXPECT_TRUE(hasDatasourceVar);
  std::vector<std::string> queries;
  collectDashboardQueries(dash, queries);
  std::set<std::string> names;
  for (const auto& q : queries) names.merge(metricNamesIn(q));
  for (const char* expected :
       {"cxproxy_requests_total", "cxproxy_fallbacks_total", "cxproxy_consistency_downgrades_total",
        "cxproxy_replica_staleness_seconds", "cxproxy_replica_lag_bytes", "cxproxy_quorum_failures_total",
        "cxproxy_consistency_violations_total", "cxproxy_request_duration_seconds_bucket", "cxproxy_backend_up",
        "cxproxy_audit_observed_staleness_seconds_bucket", "cxproxy_audits_total"}) {
    EXPECT_TRUE(names.count(expected)) << "no dashboard panel queries " << expected;
  }
  bool percentiles = std::any_of(queries.begin(), queries.end(), [](const std::string& q) {
    return q.find("histogram_quantile") != std::string::npos &&
           q.find("cxproxy_request_duration_seconds_bucket") != std::string::npos;
  });
  EXPECT_TRUE(percentiles) << "no latency percentile panel (histogram_quantile)";
  // The PBS panel: observed staleness (audit) and the served bound side by side, per level.
  bool pbs = false;
  collectPanels(dash, [&](const json::object& panel) {
    std::vector<std::string> panelQueries;
    collectDashboardQueries(panel.at("targets"), panelQueries);
    bool observed = false, served = false;
    for (const auto& q : panelQueries) {
      observed |= q.find("cxproxy_audit_observed_staleness_seconds_bucket") != std::string::npos &&
                  q.find("level") != std::string::npos;
      served |= q.find("cxproxy_read_staleness_seconds_bucket") != std::string::npos;
    }
    pbs |= observed && served;
  });
  EXPECT_TRUE(pbs) << "no panel shows the audit's observed staleness next to the served bound";
}

// An alert on the audit's mismatches, separate from the violations clients were told about.
TEST(DeployFilesTest, AlertsOnAuditMismatchAndRulesPassPromtool) {
  const auto rules = ruleExpressions();
  ASSERT_TRUE(rules.count("CxproxyAuditMismatch"));
  EXPECT_NE(rules.at("CxproxyAuditMismatch").find("type=\"audit_mismatch\""), std::string::npos);
  EXPECT_NE(rules.at("CxproxyConsistencyViolations").find("type!=\"audit_mismatch\""), std::string::npos);

  const char* promtool = std::getenv("CXPROXY_PROMTOOL");
  if (!promtool || !*promtool || !std::filesystem::exists(promtool)) {
    GTEST_SKIP() << "promtool not found: `make test` sets CXPROXY_PROMTOOL (scripts/fetch-promtool.sh)";
  }
  TempDir dir("cxproxy-promtool-rules");
  ChildProcess check;
  check.start({promtool, "check", "rules", (deployDir() / "prometheus" / "cxproxy-rules.yml").string()},
              dir.path() / "out.log");
  const auto status = check.waitExit(60s);
  ASSERT_TRUE(status) << "promtool did not finish";
  EXPECT_EQ(*status, 0) << readFile(dir.path() / "out.log");
}

// ------------------------------------------------------------ metrics vs. a live scrape

// Families no test traffic can give a child: load-driven downgrading needs the primary to
// stay overloaded for `load.for`, which a test cannot cause deterministically (and the
// feature may not be built yet). prometheus-cpp prints neither samples nor a `# TYPE`
// line for a family without children, so for these names only, the check falls back to
// the families metrics/metrics.cpp registers (read as text): the name is still proven to
// be the one the code exports.
const std::set<std::string> kRegisteredOnly = {"cxproxy_consistency_downgrades_total"};

// Names a scrape shows: every `# TYPE` family and every sample name.
std::set<std::string> scrapedNames(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream fields(line.substr(7));
      std::string name;
      fields >> name;
      out.insert(name);
    } else if (!line.empty() && line.front() != '#') {
      out.insert(line.substr(0, line.find_first_of("{ ")));
    }
  }
  return out;
}

bool exported(const std::set<std::string>& scraped, const std::string& name) {
  if (scraped.count(name)) return true;
  for (std::string suffix : {"_bucket", "_sum", "_count"}) {
    if (name.size() > suffix.size() && name.ends_with(suffix) &&
        scraped.count(name.substr(0, name.size() - suffix.size()))) {
      return true;
    }
  }
  return false;
}

std::string stripHistogramSuffix(const std::string& name) {
  for (std::string suffix : {"_bucket", "_sum", "_count"}) {
    if (name.size() > suffix.size() && name.ends_with(suffix)) return name.substr(0, name.size() - suffix.size());
  }
  return name;
}

std::set<std::string> registeredInSource() {
  const std::string src = readText(repoRoot() / "metrics" / "metrics.cpp");
  static const std::regex kRegistered(R"re(\.Name\(\s*"(cxproxy_[a-z0-9_]+)"\s*\))re");
  std::set<std::string> out;
  for (std::sregex_iterator it(src.begin(), src.end(), kRegistered), end; it != end; ++it) {
    out.insert((*it)[1].str());
  }
  return out;
}

TEST(DeployMetricsTest, EveryMetricInAlertsAndDashboardIsExportedByALiveCxproxy) {
  // Every metric name the artefacts query.
  std::map<std::string, std::set<std::string>> referencedBy;  // name → where
  for (const auto& [alert, expr] : ruleExpressions()) {
    for (const auto& n : metricNamesIn(expr)) referencedBy[n].insert("alert " + alert);
  }
  std::vector<std::string> queries;
  collectDashboardQueries(loadJson(deployDir() / "grafana" / "cxproxy-dashboard.json"), queries);
  for (const auto& q : queries) {
    for (const auto& n : metricNamesIn(q)) referencedBy[n].insert("dashboard");
  }
  ASSERT_GE(referencedBy.size(), 8u);

  // A real cxproxy, with a rule that refuses stale reads (so violations can happen) and a
  // short quorum timeout (so a quorum failure is quick).
  RedisCluster cluster(2);
  CxproxyProcess proxy(cluster, R"(consistency:
  default: {level: session, override: any, on_stale: primary}
  max_staleness: 1s
  write_quorum: {replicas: 1, timeout: 200ms}
  rules:
    - name: strict
      keys: ["strict:*"]
      level: bounded
      max_staleness: 20ms
      on_stale: error
)");
  HttpClient data(proxy.dataPort());
  HttpClient admin(proxy.adminPort());

  // Traffic at every level, a strong write, a command, a delete: requests, durations,
  // served staleness and the per-backend gauges get children.
  HttpResponse put = data.put("/v1/kv/deploy:k", "v1");
  ASSERT_EQ(put.status, 204) << put.body;
  const std::string token = put.header("x-session-token");
  // Bounded, prefix and eventual reads may be served by a replica that has not applied the
  // PUT yet (that is what they promise): the replicas catch up first.
  cluster.waitSynced();
  for (const char* level : {"strong", "bounded", "session", "prefix", "eventual"}) {
    HttpHeaders h{{"X-Consistency", level}};
    if (!token.empty()) h["X-Session-Token"] = token;
    HttpResponse r = data.get("/v1/kv/deploy:k", h);
    EXPECT_EQ(r.status, 200) << level << ": " << r.body;
  }
  HttpResponse strongPut = data.put("/v1/kv/deploy:k", "v2", {{"X-Consistency", "strong"}});
  EXPECT_EQ(strongPut.status, 204) << strongPut.body;
  EXPECT_EQ(data.post("/v1/cmd", R"(["GET","deploy:k"])").status, 200);
  EXPECT_EQ(data.put("/v1/kv/strict:k", "s").status, 204);
  EXPECT_EQ(data.del("/v1/kv/deploy:gone-" + std::to_string(proxy.pid())).status, 404);

  // Replicas frozen: a strong write misses its quorum (504, quorum failure), bounded reads
  // fall back to the primary (fallback), and the on_stale: error rule refuses (violation).
  cluster.pause(1);
  cluster.pause(2);
  HttpResponse lost = data.put("/v1/kv/deploy:q", "q", {{"X-Consistency", "strong"}});
  EXPECT_EQ(lost.status, 504) << lost.body;
  std::string scrape;
  const bool allTriggered = waitUntil(
      [&] {
        data.get("/v1/kv/deploy:k", {{"X-Consistency", "bounded"}, {"X-Max-Staleness", "20ms"}});
        data.get("/v1/kv/strict:k");
        HttpResponse m = admin.get("/metrics");
        if (m.status != 200) return false;
        scrape = m.body;
        std::set<std::string> names = scrapedNames(scrape);
        return names.count("cxproxy_fallbacks_total") && names.count("cxproxy_consistency_violations_total") &&
               names.count("cxproxy_quorum_failures_total") && names.count("cxproxy_replica_staleness_seconds") &&
               names.count("cxproxy_replica_lag_bytes");
      },
      15s, 50ms);
  cluster.resume(1);
  cluster.resume(2);
  EXPECT_TRUE(allTriggered) << "traffic did not produce every family; last scrape:\n" << scrape;

  const std::set<std::string> scraped = scrapedNames(scrape);
  const std::set<std::string> registered = registeredInSource();
  for (const auto& [name, where] : referencedBy) {
    std::string places;
    for (const auto& w : where) places += (places.empty() ? "" : ", ") + w;
    if (exported(scraped, name)) continue;
    const std::string base = stripHistogramSuffix(name);
    if (kRegisteredOnly.count(base)) {
      EXPECT_TRUE(registered.count(base)) << name << " (" << places << ") is not registered in metrics/metrics.cpp";
      std::cout << "[ note     ] " << name << ": no live child (see kRegisteredOnly); "
                << "checked against metrics/metrics.cpp\n";
      continue;
    }
    ADD_FAILURE() << name << " (queried by " << places << ") is not in a live /metrics scrape";
  }
  // The Prometheus text really is the exposition format alerts assume.
  EXPECT_NE(scrape.find("# TYPE cxproxy_request_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(scrape.find("cxproxy_request_duration_seconds_bucket{"), std::string::npos);

  // The image's HEALTHCHECK command, run as Docker would, against this cxproxy's admin
  // port: passes while it answers, fails once it is gone.
  std::vector<std::string> check = healthcheckCommand(dockerInstructions());
  ASSERT_FALSE(check.empty());
  check[0] = findExecutable(check[0]);
  TempDir dir("cxproxy-healthcheck");
  auto runCheck = [&](int port) {
    ChildProcess p;
    p.start(check, dir.path() / "out.log", {{"CXPROXY_ADMIN_PORT", std::to_string(port)}});
    std::optional<int> status = p.waitExit(10s);
    return status.value_or(-1);
  };
  EXPECT_EQ(runCheck(proxy.adminPort()), 0) << readFile(dir.path() / "out.log");
  EXPECT_EQ(proxy.terminate(), 0);
  EXPECT_NE(runCheck(proxy.adminPort()), 0);
}

// ------------------------------------------------------------------- configs

TEST(DeployConfigTest, ShippedConfigsPassCheckConfig) {
  CxproxyRun cm = runCxproxy({"--check-config", "{config}"}, configMapConfigText());
  EXPECT_EQ(cm.exitStatus, 0) << "deploy/k8s/configmap.yaml's config.yaml:\n" << cm.output;
  EXPECT_NE(cm.output.find("configuration is valid"), std::string::npos) << cm.output;

  const fs::path image = deployDir() / "docker" / "config.yaml";
  CxproxyRun img = runCxproxy({"--check-config", image.string()});
  EXPECT_EQ(img.exitStatus, 0) << image << ":\n" << img.output;
}

// The manifests agree with each other and with the embedded config.
TEST(DeployConfigTest, ManifestsAgreeWithTheConfigAndEachOther) {
  const YAML::Node config = YAML::Load(configMapConfigText());
  const std::string dataListen = config["listen"]["data"].as<std::string>();
  const std::string adminListen = config["listen"]["admin"].as<std::string>();
  const int adminPort = portOf(adminListen);
  EXPECT_EQ(hostOf(dataListen), "127.0.0.1") << "a sidecar's data listener stays on loopback";
  EXPECT_EQ(hostOf(adminListen), "0.0.0.0") << "kubelet probes and Prometheus must reach the admin port";

  auto cmDocs = loadYamlDocs(deployDir() / "k8s" / "configmap.yaml");
  auto deployDocs = loadYamlDocs(deployDir() / "k8s" / "deployment.yaml");
  auto secretDocs = loadYamlDocs(deployDir() / "k8s" / "secret.yaml");
  auto monitorDocs = loadYamlDocs(deployDir() / "k8s" / "servicemonitor.yaml");
  YAML::Node cm = findDoc(cmDocs, "ConfigMap");
  YAML::Node deployment = findDoc(deployDocs, "Deployment");
  YAML::Node secret = findDoc(secretDocs, "Secret");
  YAML::Node service = findDoc(monitorDocs, "Service");
  YAML::Node monitor = findDoc(monitorDocs, "ServiceMonitor");
  ASSERT_TRUE(cm && deployment && secret && service && monitor);
  EXPECT_EQ(monitor["apiVersion"].as<std::string>(), "monitoring.coreos.com/v1");

  const YAML::Node pod = deployment["spec"]["template"];
  const YAML::Node sidecar = [&] {
    for (const auto& c : pod["spec"]["containers"]) {
      if (c["name"].as<std::string>() == "cxproxy") return YAML::Node(c);
    }
    return YAML::Node(YAML::NodeType::Undefined);
  }();
  ASSERT_TRUE(sidecar) << "deployment.yaml has no container named cxproxy";

  // Admin port: config ↔ containerPort ↔ probes ↔ scrape annotation ↔ Service.
  std::string adminPortName;
  for (const auto& p : sidecar["ports"]) {
    EXPECT_NE(p["containerPort"].as<int>(), portOf(dataListen)) << "the loopback data port is not a pod port";
    if (p["containerPort"].as<int>() == adminPort) adminPortName = p["name"].as<std::string>();
  }
  ASSERT_FALSE(adminPortName.empty()) << "no containerPort " << adminPort << " on the cxproxy container";
  auto probeOk = [&](const char* probe, const char* path) {
    const YAML::Node get = sidecar[probe]["httpGet"];
    ASSERT_TRUE(get) << probe << " is not an httpGet probe";
    EXPECT_EQ(get["path"].as<std::string>(), path) << probe;
    const std::string port = get["port"].as<std::string>();
    EXPECT_TRUE(port == adminPortName || port == std::to_string(adminPort)) << probe << " port " << port;
  };
  probeOk("livenessProbe", "/healthz");
  probeOk("readinessProbe", "/readyz");
  const YAML::Node annotations = pod["metadata"]["annotations"];
  EXPECT_EQ(annotations["prometheus.io/scrape"].as<std::string>(), "true");
  EXPECT_EQ(annotations["prometheus.io/port"].as<std::string>(), std::to_string(adminPort));

  // Non-root, read-only root filesystem, resources set.
  const YAML::Node sc = sidecar["securityContext"];
  const YAML::Node podSc = pod["spec"]["securityContext"];
  EXPECT_TRUE((sc["runAsNonRoot"] && sc["runAsNonRoot"].as<bool>()) ||
              (podSc["runAsNonRoot"] && podSc["runAsNonRoot"].as<bool>()));
  const YAML::Node uid = sc["runAsUser"] ? sc["runAsUser"] : podSc["runAsUser"];
  ASSERT_TRUE(uid);
  EXPECT_NE(uid.as<int>(), 0);
  EXPECT_TRUE(sc["readOnlyRootFilesystem"].as<bool>());
  EXPECT_FALSE(sc["allowPrivilegeEscalation"].as<bool>());
  EXPECT_TRUE(sidecar["resources"]["requests"]["cpu"] && sidecar["resources"]["requests"]["memory"]);
  EXPECT_TRUE(sidecar["resources"]["limits"]["memory"]);

  // The env vars the config names come from keys of the Secret.
  std::vector<std::string> envNames{config["session"]["keys_env"] ? config["session"]["keys_env"].as<std::string>()
                                                                  : "CXPROXY_SESSION_KEYS"};
  if (config["redis"]["password_env"]) envNames.push_back(config["redis"]["password_env"].as<std::string>());
  const std::string secretName = secret["metadata"]["name"].as<std::string>();
  for (const auto& name : envNames) {
    bool found = false;
    for (const auto& e : sidecar["env"]) {
      if (e["name"].as<std::string>() != name) continue;
      found = true;
      const YAML::Node ref = e["valueFrom"]["secretKeyRef"];
      ASSERT_TRUE(ref) << name << " is not taken from a Secret";
      EXPECT_EQ(ref["name"].as<std::string>(), secretName) << name;
      const std::string key = ref["key"].as<std::string>();
      EXPECT_TRUE(secret["stringData"][key] || secret["data"][key]) << "secret.yaml has no key " << key;
    }
    EXPECT_TRUE(found) << "the cxproxy container does not set " << name;
  }

  // The config file is mounted where the image's ENTRYPOINT reads it.
  std::string volumeName;
  for (const auto& m : sidecar["volumeMounts"]) {
    if (m["mountPath"].as<std::string>() == "/etc/cxproxy") volumeName = m["name"].as<std::string>();
  }
  ASSERT_FALSE(volumeName.empty()) << "nothing mounted at /etc/cxproxy";
  bool volumeOk = false;
  for (const auto& v : pod["spec"]["volumes"]) {
    if (v["name"].as<std::string>() == volumeName && v["configMap"]) {
      volumeOk = v["configMap"]["name"].as<std::string>() == cm["metadata"]["name"].as<std::string>();
    }
  }
  EXPECT_TRUE(volumeOk) << "volume " << volumeName << " is not the ConfigMap of configmap.yaml";

  // Service selects the pods and targets the admin port; the ServiceMonitor selects it.
  for (const auto& kv : service["spec"]["selector"]) {
    EXPECT_EQ(pod["metadata"]["labels"][kv.first.as<std::string>()].as<std::string>(""), kv.second.as<std::string>())
        << "the Service's selector does not match the pod labels";
  }
  std::string servicePortName;
  for (const auto& p : service["spec"]["ports"]) {
    const std::string target = p["targetPort"].as<std::string>();
    if (target == adminPortName || target == std::to_string(adminPort)) servicePortName = p["name"].as<std::string>();
  }
  ASSERT_FALSE(servicePortName.empty()) << "the Service does not target the admin port";
  for (const auto& kv : monitor["spec"]["selector"]["matchLabels"]) {
    EXPECT_EQ(service["metadata"]["labels"][kv.first.as<std::string>()].as<std::string>(""),
              kv.second.as<std::string>())
        << "the ServiceMonitor's selector does not match the Service";
  }
  bool endpointOk = false;
  for (const auto& e : monitor["spec"]["endpoints"]) {
    endpointOk |= e["port"].as<std::string>() == servicePortName && e["path"].as<std::string>("/metrics") == "/metrics";
  }
  EXPECT_TRUE(endpointOk) << "no ServiceMonitor endpoint scrapes port " << servicePortName;

  // The staleness alert is written against the tightest bound the config sets.
  double tightest = config["consistency"]["max_staleness"]
                        ? durationSeconds(config["consistency"]["max_staleness"].as<std::string>())
                        : 1.0;  // README "Configuration" default
  if (config["consistency"]["default"]["max_staleness"]) {
    tightest = std::min(tightest, durationSeconds(config["consistency"]["default"]["max_staleness"].as<std::string>()));
  }
  for (const auto& rule : config["consistency"]["rules"]) {
    if (rule["max_staleness"]) tightest = std::min(tightest, durationSeconds(rule["max_staleness"].as<std::string>()));
  }
  std::optional<double> alertBound;
  static const std::regex kBound(R"(cxproxy_replica_staleness_seconds\s*>\s*0\.8\s*\*\s*([0-9.]+))");
  for (const auto& [alert, expr] : ruleExpressions()) {
    std::smatch m;
    if (std::regex_search(expr, m, kBound)) alertBound = std::stod(m[1].str());
  }
  ASSERT_TRUE(alertBound) << "no alert of the form cxproxy_replica_staleness_seconds > 0.8 * <bound>";
  EXPECT_DOUBLE_EQ(*alertBound, tightest)
      << "the staleness alert's bound is not the configmap's tightest max_staleness";

  // The plain-Prometheus rules file holds exactly the PrometheusRule's groups.
  YAML::Node rule = findDoc(loadYamlDocs(deployDir() / "k8s" / "prometheusrule.yaml"), "PrometheusRule");
  YAML::Node local = YAML::LoadFile((deployDir() / "prometheus" / "cxproxy-rules.yml").string());
  auto rulesByName = [](const YAML::Node& groups) {
    std::map<std::string, std::string> out;  // "group/alert" → the rule, normalised
    for (const auto& g : groups) {
      for (const auto& r : g["rules"]) {
        const std::string name = r["alert"] ? r["alert"].as<std::string>() : r["record"].as<std::string>();
        out[g["name"].as<std::string>() + "/" + name] = YAML::Dump(r);
      }
    }
    return out;
  };
  const auto operatorRules = rulesByName(rule["spec"]["groups"]);
  const auto localRules = rulesByName(local["groups"]);
  for (const auto& [name, text] : operatorRules) {
    auto it = localRules.find(name);
    if (it == localRules.end()) {
      ADD_FAILURE() << "deploy/prometheus/cxproxy-rules.yml lacks " << name;
    } else {
      EXPECT_EQ(it->second, text) << name << " differs between deploy/prometheus/cxproxy-rules.yml and "
                                  << "deploy/k8s/prometheusrule.yaml";
    }
  }
  for (const auto& [name, text] : localRules) {
    EXPECT_TRUE(operatorRules.count(name))
        << "deploy/prometheus/cxproxy-rules.yml has " << name << ", which prometheusrule.yaml lacks";
  }
  YAML::Node prom = YAML::LoadFile((deployDir() / "prometheus" / "prometheus.yml").string());
  bool loadsRules = false;
  for (const auto& f : prom["rule_files"]) loadsRules |= f.as<std::string>() == "cxproxy-rules.yml";
  EXPECT_TRUE(loadsRules) << "prometheus.yml does not load cxproxy-rules.yml";

  // Alerts promised by the docs.
  std::set<std::string> alerted;
  for (const auto& [alert, expr] : ruleExpressions()) alerted.merge(metricNamesIn(expr));
  for (const char* metric : {"cxproxy_replica_staleness_seconds", "cxproxy_consistency_violations_total",
                             "cxproxy_quorum_failures_total", "cxproxy_overloaded", "cxproxy_backend_up"}) {
    EXPECT_TRUE(alerted.count(metric)) << "no alert on " << metric;
  }
}

// ------------------------------------------------------------------- Dockerfile

TEST(DeployDockerfileTest, BuildsLikeMakeBuildAndRunsUnprivilegedWithAHealthCheck) {
  const auto ins = dockerInstructions();
  ASSERT_FALSE(ins.empty());
  const int final = lastStage(ins);
  ASSERT_GE(final, 1) << "expected a multi-stage build";

  std::vector<std::string> buildRuns;
  std::vector<std::string> buildCopies;
  for (const auto& i : ins) {
    if (i.keyword == "FROM") {
      EXPECT_EQ(i.args.rfind("debian:bookworm-slim", 0), 0u) << "FROM " << i.args;
    }
    if (i.stage == final) continue;
    if (i.keyword == "RUN") buildRuns.push_back(i.args);
    if (i.keyword == "COPY") buildCopies.push_back(i.args);
  }

  // The build steps CI proves: `make build` = the deps scripts, then the Release CMake build.
  const std::string makefile = readText(repoRoot() / "Makefile");
  EXPECT_NE(makefile.find("DEPS_PREFIX := $(CURDIR)/build/deps"), std::string::npos);
  const MakeTarget deps = makeTarget(makefile, "deps");
  EXPECT_TRUE(anyContains(deps.recipe, "scripts/install-deps.sh"));
  EXPECT_TRUE(anyContains(deps.recipe, "scripts/fetch-prometheus-cpp.sh $(DEPS_PREFIX)"));
  const MakeTarget build = makeTarget(makefile, "build");
  EXPECT_NE(build.prerequisites.find("deps"), std::string::npos);
  EXPECT_TRUE(anyContains(build.recipe, "cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release"));
  EXPECT_TRUE(anyContains(build.recipe, "--target cxproxy"));
  EXPECT_TRUE(anyContains(buildRuns, "scripts/install-deps.sh"));
  EXPECT_TRUE(anyContains(buildRuns, "scripts/fetch-prometheus-cpp.sh build/deps"))
      << "the image must fetch prometheus-cpp into the Makefile's DEPS_PREFIX (build/deps)";
  EXPECT_TRUE(anyContains(buildRuns, "make build"));
  EXPECT_TRUE(anyContains(buildRuns, "build/release/cxproxy")) << "the image must ship make build's output";

  // Every source folder CMakeLists.txt builds is copied into the build stage.
  const std::string cmake = readText(repoRoot() / "CMakeLists.txt");
  std::set<std::string> dirs{"scripts"};
  static const std::regex kLibrary(R"(cx_library\(\s*\w+\s+([\w/]+))");
  static const std::regex kExecutable(R"(add_executable\(\s*cxproxy\s+([\w]+)/)");
  for (std::sregex_iterator it(cmake.begin(), cmake.end(), kLibrary), end; it != end; ++it) dirs.insert((*it)[1].str());
  for (std::sregex_iterator it(cmake.begin(), cmake.end(), kExecutable), end; it != end; ++it)
    dirs.insert((*it)[1].str());
  ASSERT_GE(dirs.size(), 6u);
  auto copied = [&](const std::string& what) {
    return std::any_of(buildCopies.begin(), buildCopies.end(), [&](const std::string& c) {
      std::istringstream words(c);
      std::string w;
      while (words >> w) {
        if (w == what || w == what + "/" || w == ".") return true;
      }
      return false;
    });
  };
  for (const auto& d : dirs) EXPECT_TRUE(copied(d)) << "the build stage does not COPY " << d << "/";
  EXPECT_TRUE(copied("CMakeLists.txt"));
  EXPECT_TRUE(copied("Makefile"));

  // Final stage: non-root USER, HEALTHCHECK on /healthz, ports, config, ENTRYPOINT.
  std::optional<std::string> user;
  std::string expose;
  bool configCopied = false;
  std::optional<std::string> entrypoint;
  bool healthcheck = false;
  for (const auto& i : ins) {
    if (i.stage != final) continue;
    if (i.keyword == "USER") user = i.args;
    if (i.keyword == "EXPOSE") expose += " " + i.args;
    if (i.keyword == "COPY" && i.args.find("deploy/docker/config.yaml /etc/cxproxy/config.yaml") != std::string::npos) {
      configCopied = true;
    }
    if (i.keyword == "ENTRYPOINT") entrypoint = i.args;
    if (i.keyword == "HEALTHCHECK") {
      healthcheck = true;
      EXPECT_NE(i.args.find("/healthz"), std::string::npos) << i.args;
    }
  }
  ASSERT_TRUE(user) << "the final stage sets no USER (it would run as root)";
  const std::string account = user->substr(0, user->find(':'));
  EXPECT_NE(account, "root");
  EXPECT_NE(account, "0");
  EXPECT_TRUE(healthcheck);
  EXPECT_FALSE(healthcheckCommand(ins).empty());  // valid exec-form JSON
  EXPECT_NE(expose.find(" 8080"), std::string::npos) << expose;
  EXPECT_NE(expose.find(" 9100"), std::string::npos) << expose;
  EXPECT_TRUE(configCopied) << "deploy/docker/config.yaml is not copied to /etc/cxproxy/config.yaml";
  ASSERT_TRUE(entrypoint);
  json::value ep = json::parse(*entrypoint);
  ASSERT_TRUE(ep.is_array());
  std::vector<std::string> argv;
  for (const auto& a : ep.as_array()) argv.emplace_back(a.as_string().c_str());
  ASSERT_EQ(argv.size(), 3u) << *entrypoint;
  EXPECT_TRUE(argv[0].ends_with("cxproxy"));
  EXPECT_EQ(argv[1], "--config");
  EXPECT_EQ(argv[2], "/etc/cxproxy/config.yaml");

  // The health check's default admin port is the one the image's config listens on.
  const YAML::Node imageConfig = YAML::LoadFile((deployDir() / "docker" / "config.yaml").string());
  const std::string imageAdmin = imageConfig["listen"]["admin"].as<std::string>();
  EXPECT_EQ(hostOf(imageAdmin), "0.0.0.0");
  EXPECT_EQ(hostOf(imageConfig["listen"]["data"].as<std::string>()), "127.0.0.1");
  const std::string script = healthcheckCommand(ins).back();
  EXPECT_NE(script.find(":-" + std::to_string(portOf(imageAdmin)) + "}"), std::string::npos) << script;
}

}  // namespace
}  // namespace cx::testing
