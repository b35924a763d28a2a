// The traffic summary (see traffic.h).
#include "proxy/admin/traffic.h"

#include <string_view>

#include "proxy/app/advice.h"
#include "proxy/config/config.h"

namespace cx::proxy {
namespace {

std::string_view label(const prometheus::ClientMetric& metric, std::string_view name) {
  for (const auto& l : metric.label) {
    if (l.name == name) return l.value;
  }
  return {};
}

HistogramSummary& addHistogram(HistogramSummary& into, const prometheus::ClientMetric::Histogram& h) {
  if (into.upperBounds.empty()) {
    for (const auto& b : h.bucket) {
      into.upperBounds.push_back(b.upper_bound);
      into.cumulative.push_back(0);
    }
  }
  for (std::size_t i = 0; i < h.bucket.size() && i < into.cumulative.size(); ++i) {
    into.cumulative[i] += h.bucket[i].cumulative_count;
  }
  into.count += h.sample_count;
  into.sum += h.sample_sum;
  return into;
}

}  // namespace

TrafficSummary summarizeTraffic(const std::vector<prometheus::MetricFamily>& families) {
  TrafficSummary out;
  for (const auto& family : families) {
    const std::string& name = family.name;
    for (const auto& m : family.metric) {
      if (name == "cxproxy_requests_total") {
        const double v = m.counter.value;
        const bool replica = label(m, "role") == "replica";
        out.requests += v;
        const auto op = label(m, "op");
        if ((op == "get" || op == "cmd") && label(m, "role") != "none") out.reads += v;
        if (replica) out.servedByReplica += v;
        out.levels[std::string(label(m, "requested"))].requested += v;
        const std::string served(label(m, "served"));
        if (served != "none") {
          auto& level = out.levels[served];
          level.served += v;
          if (replica) level.servedByReplica += v;
        }
      } else if (name == "cxproxy_fallbacks_total") {
        out.fallbacks[std::string(label(m, "reason"))] += m.counter.value;
      } else if (name == "cxproxy_consistency_downgrades_total") {
        out.downgrades[std::string(label(m, "from")) + "->" + std::string(label(m, "to"))] += m.counter.value;
      } else if (name == "cxproxy_audits_total") {
        out.audits[std::string(label(m, "result"))] += m.counter.value;
      } else if (name == "cxproxy_consistency_violations_total") {
        if (label(m, "type") == "audit_mismatch") out.auditMismatches += m.counter.value;
      } else if (name == "cxproxy_read_staleness_seconds") {
        addHistogram(out.servedStaleness[std::string(label(m, "level"))], m.histogram);
      } else if (name == "cxproxy_audit_observed_staleness_seconds") {
        addHistogram(out.observedStaleness[std::string(label(m, "level"))], m.histogram);
      }
    }
  }
  return out;
}

std::vector<RuleTraffic> ruleTraffic(const Config& config, const AdviceBoard& advice, backends::Clock::time_point now) {
  std::vector<RuleTraffic> out;
  for (const auto& rule : config.consistency.rules) out.push_back({rule.name, rule.keyGlobs, rule.policy.level});
  out.push_back({"default", {"*"}, config.consistency.defaultPolicy.level});
  for (const auto& count : advice.drawnPerRule(now)) {
    for (auto& rule : out) {
      if (rule.name != count.rule) continue;
      rule.sampledLastHour = count.drawn;
      if (config.audit.sampleRate > 0)
        rule.estimatedReadsLastHour = static_cast<double>(count.drawn) / config.audit.sampleRate;
    }
  }
  return out;
}

}  // namespace cx::proxy
