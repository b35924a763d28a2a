// The JSON of GET /v1/status (see status_json.h).
#include "proxy/admin/status_json.h"

#include "proxy/http/json.h"

#include <cmath>
#include <cstdio>

namespace cx::proxy {

LoadStatus loadStatus(const SharedState& shared) {
  if (!shared.overloaded.load()) return {"normal", ""};
  return {"overloaded", shared.overloadReason.load()};
}

namespace {

std::string number(double value) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

void appendCounts(std::string& out, const std::map<std::string, double>& counts) {
  out.push_back('{');
  bool first = true;
  for (const auto& [name, value] : counts) {
    if (!first) out.push_back(',');
    first = false;
    appendJsonString(out, name);
    out += ":" + number(value);
  }
  out.push_back('}');
}

void appendHistograms(std::string& out, const std::map<std::string, HistogramSummary>& histograms) {
  out.push_back('{');
  bool first = true;
  for (const auto& [level, h] : histograms) {
    if (!first) out.push_back(',');
    first = false;
    appendJsonString(out, level);
    out += ":{\"count\":" + std::to_string(h.count) + ",\"sum_seconds\":" + number(h.sum) + ",\"buckets\":[";
    for (std::size_t i = 0; i < h.upperBounds.size(); ++i) {
      if (i) out.push_back(',');
      const double le = h.upperBounds[i];
      out += "{\"le\":";
      out += std::isinf(le) ? std::string("\"+Inf\"") : number(le);
      out += ",\"count\":" + std::to_string(h.cumulative[i]) + "}";
    }
    out += "]}";
  }
  out.push_back('}');
}

void appendWhatTheProxyDid(std::string& out, const SharedState& shared, const Config& cfg,
                           backends::Clock::time_point now) {
  const TrafficSummary t = summarizeTraffic(shared.metrics->collect());
  out += ",\"traffic\":{\"requests\":" + number(t.requests) + ",\"reads\":" + number(t.reads) +
         ",\"served_by_replica\":" + number(t.servedByReplica) +
         ",\"replica_share\":" + number(t.reads > 0 ? t.servedByReplica / t.reads : 0) + ",\"levels\":{";
  bool first = true;
  for (const auto& [level, lt] : t.levels) {
    if (!first) out.push_back(',');
    first = false;
    appendJsonString(out, level);
    out += ":{\"requested\":" + number(lt.requested) + ",\"served\":" + number(lt.served) +
           ",\"served_by_replica\":" + number(lt.servedByReplica) + "}";
  }
  out += "},\"fallbacks\":";
  appendCounts(out, t.fallbacks);
  out += ",\"downgrades\":";
  appendCounts(out, t.downgrades);
  out += ",\"served_staleness\":";
  appendHistograms(out, t.servedStaleness);
  out += "},\"audit\":{\"sample_rate\":" + number(cfg.audit.sampleRate) +
         ",\"max_in_flight\":" + std::to_string(cfg.audit.maxInFlight) +
         ",\"in_flight\":" + std::to_string(shared.auditsInFlight.load(std::memory_order_relaxed)) + ",\"results\":";
  appendCounts(out, t.audits);
  out += ",\"mismatches\":" + number(t.auditMismatches) + ",\"observed_staleness\":";
  appendHistograms(out, t.observedStaleness);
  out += "},\"rules\":[";
  first = true;
  for (const RuleTraffic& rule : ruleTraffic(cfg, shared.advice, now)) {
    if (!first) out.push_back(',');
    first = false;
    out += "{\"name\":";
    appendJsonString(out, rule.name);
    out += ",\"keys\":[";
    for (std::size_t i = 0; i < rule.keys.size(); ++i) {
      if (i) out.push_back(',');
      appendJsonString(out, rule.keys[i]);
    }
    out += "],\"level\":\"";
    out += toString(rule.level);
    out += "\",\"sampled_reads_last_hour\":" + std::to_string(rule.sampledLastHour) +
           ",\"estimated_reads_last_hour\":" + number(rule.estimatedReadsLastHour) + "}";
  }
  out += "],\"advice\":[";
  first = true;
  for (const AdviceRow& row : shared.advice.rows(now)) {
    if (!first) out.push_back(',');
    first = false;
    out += "{\"rule\":";
    appendJsonString(out, row.key.rule);
    out += ",\"level\":\"";
    out += toString(row.key.level);
    out += "\",\"considered\":\"";
    out += toString(row.key.considered);
    out += "\"";
    if (row.key.considered == routing::Level::Bounded && row.key.level == routing::Level::Strong) {
      out += ",\"considered_max_staleness_ms\":" + std::to_string(row.key.consideredBound.count());
    }
    out += ",\"compared_with\":\"";
    out += row.key.level == routing::Level::Strong ? "a replica a bounded read would have used" : "the primary";
    out += "\",\"samples\":" + std::to_string(row.samples) + ",\"identical\":" + std::to_string(row.identical) +
           ",\"identical_share\":" + number(row.identicalShare()) + ",\"window_seconds\":" +
           std::to_string(std::chrono::duration_cast<std::chrono::seconds>(AdviceBoard::kBucketLength).count() *
                          static_cast<long long>(AdviceBoard::kBuckets)) +
           ",\"text\":";
    appendJsonString(out, adviceSentence(row));
    out += "}";
  }
  out += "]";
}

}  // namespace

std::string statusJson(const SharedState& shared, const backends::Topology& topology, backends::Clock::time_point now) {
  const auto* topo = &topology;
  auto configSnapshot = shared.config.load();
  const Config& cfg = *configSnapshot;
  std::string out = "{\"backends\":[";
  for (std::size_t i = 0; i < topo->backends.size(); ++i) {
    const auto& b = topo->backends[i];
    if (i) out.push_back(',');
    out += "{\"name\":";
    appendJsonString(out, b.name);
    out += ",\"address\":";
    appendJsonString(out, b.address);
    out += ",\"configured_role\":\"";
    // Sentinel mode: the role the Sentinels give it (the named primary, or a replica).
    out += i == topo->primaryIndex ? "primary" : "replica";
    out += "\",\"standing\":\"";
    out += backends::toString(b.standing);
    out += "\",\"role\":\"";
    out += backends::toString(b.role);
    out += "\",\"up\":";
    out += b.up ? "true" : "false";
    out += ",\"offset\":" + std::to_string(b.offset);
    out += ",\"replid\":";
    appendJsonString(out, b.replid);
    if (i != topo->primaryIndex) {
      out += ",\"lag_bytes\":" + std::to_string(b.lagBytes);
      out += ",\"tracked\":";
      out += b.tracked ? "true" : "false";
      out += ",\"link_up\":";
      out += b.linkUp ? "true" : "false";
      out += ",\"loading\":";
      out += b.loading ? "true" : "false";
    }
    out += ",\"staleness_bound_ms\":";
    auto bound = topo->stalenessBound(i, now);
    out += bound ? std::to_string(bound->count()) : "null";
    out += ",\"in_flight\":" + std::to_string(shared.inFlight.total(i));
    out += ",\"last_error\":";
    appendJsonString(out, b.lastError);
    out += "}";
  }
  out += "],\"primary\":{\"offset\":" + std::to_string(topo->primary().offset) + ",\"replid\":";
  appendJsonString(out, topo->primary().replid);
  out += ",\"name\":";
  appendJsonString(out, topo->hasPrimary() ? topo->primary().name : std::string());
  out += ",\"confirmed\":";
  out += topo->primaryConfirmed() ? "true" : "false";
  out += ",\"changes\":" + std::to_string(topo->primaryChanges);
  out += "}";
  out += ",\"mode\":\"";
  out += topo->sentinelMode ? "sentinel" : "static";
  out += "\"";
  if (topo->sentinelMode) {
    out += ",\"sentinels\":[";
    for (std::size_t i = 0; i < topo->sentinels.size(); ++i) {
      const auto& st = topo->sentinels[i];
      if (i) out.push_back(',');
      out += "{\"address\":";
      appendJsonString(out, st.address);
      out += ",\"up\":";
      out += st.up ? "true" : "false";
      out += ",\"subscribed\":";
      out += st.subscribed ? "true" : "false";
      out += ",\"epoch\":" + std::to_string(st.configEpoch);
      out += ",\"last_error\":";
      appendJsonString(out, st.lastError);
      out += "}";
    }
    out += "],\"config_epoch\":" + std::to_string(topo->configEpoch);
    auto ago = [&](backends::Clock::time_point at) {
      if (at == backends::Clock::time_point::max()) return std::string("null");
      return std::to_string(std::chrono::duration<double, std::milli>(now - at).count());
    };
    out += ",\"last_switch_master_ms_ago\":" + ago(topo->lastSwitchMasterAt);
    out += ",\"primary_confirmed_ms_ago\":" + ago(topo->primaryConfirmedAt);
  }
  const LoadStatus load = loadStatus(shared);
  out += ",\"load\":{\"state\":\"";
  out += load.state;
  out += "\",\"reason\":";
  appendJsonString(out, load.reason);
  out += ",\"primary_in_flight\":" + std::to_string(shared.inFlight.total(topo->primaryIndex));
  out += "},\"config\":{\"version\":";
  appendJsonString(out, cfg.version);
  out += ",\"source\":";
  appendJsonString(out, cfg.sourceName);
  out += ",\"loaded_at_ms\":" + std::to_string(shared.configLoadedAtMs.load());
  out += ",\"rules\":" + std::to_string(cfg.consistency.rules.size());
  out += "},\"commands_loaded\":";
  out += shared.commands.load() ? "true" : "false";
  out += ",\"draining\":";
  out += shared.draining.load() ? "true" : "false";
  appendWhatTheProxyDid(out, shared, cfg, now);
  out += ",\"version\":\"" CXPROXY_VERSION "\"}";
  return out;
}

}  // namespace cx::proxy
