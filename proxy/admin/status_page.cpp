// Staleness history rings, the /v1/status HTML page and its Accept-header negotiation.
#include "proxy/admin/status_page.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>

#include "backends/text.h"

namespace cx::proxy {
namespace {

using backends::Clock;
using std::chrono::milliseconds;

constexpr int kSparkWidth = 240;
constexpr int kSparkHeight = 36;
constexpr int kSparkPad = 3;

std::string formatNumber(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string formatBound(std::optional<milliseconds> bound) {
  if (!bound) return "unknown";
  const auto ms = bound->count();
  if (ms < 1000) return std::to_string(ms) + " ms";
  return formatNumber(static_cast<double>(ms) / 1000.0, ms < 10000 ? 2 : 1) + " s";
}

std::string formatBytes(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  if (bytes < 1024 * 1024) return formatNumber(static_cast<double>(bytes) / 1024.0, 1) + " KiB";
  return formatNumber(static_cast<double>(bytes) / (1024.0 * 1024.0), 1) + " MiB";
}

// An inline SVG of one backend's staleness bound over the history window: a line where a
// bound was known (gaps where samples are missing), red marks where it was not.
std::string sparkline(std::string_view name, const SampleRing* ring, const StalenessHistory& history,
                      Clock::time_point now) {
  const auto window = std::chrono::duration_cast<Clock::duration>(history.window());
  const auto start = now - window;
  const double plotHeight = kSparkHeight - 2 * kSparkPad;
  auto xOf = [&](Clock::time_point t) {
    const double f = std::chrono::duration<double>(t - start) / std::chrono::duration<double>(window);
    return std::clamp(f, 0.0, 1.0) * kSparkWidth;
  };

  long long maxMs = 0;
  std::optional<milliseconds> latest;
  std::size_t visible = 0;
  if (ring) {
    for (std::size_t i = 0; i < ring->size(); ++i) {
      const auto& s = (*ring)[i];
      if (s.at < start || s.at > now) continue;
      ++visible;
      if (s.bound) maxMs = std::max<long long>(maxMs, s.bound->count());
    }
    if (!ring->empty()) latest = ring->newest().bound;
  }
  // A floor on the scale keeps a replica that is a few ms behind from looking alarming.
  const double scaleMs = static_cast<double>(std::max<long long>(maxMs, 10));
  auto yOf = [&](milliseconds bound) {
    return kSparkPad + plotHeight - static_cast<double>(bound.count()) / scaleMs * plotHeight;
  };

  std::string path;
  std::string unknownMarks;
  if (ring) {
    const auto maxGap = std::chrono::duration_cast<Clock::duration>(history.interval() * 3);
    bool open = false;
    std::size_t pointsInSegment = 0;
    Clock::time_point previous{};
    auto closeSegment = [&] {
      if (open && pointsInSegment == 1) path += "h1.5";  // a lone point still shows
      open = false;
      pointsInSegment = 0;
    };
    for (std::size_t i = 0; i < ring->size(); ++i) {
      const auto& s = (*ring)[i];
      if (s.at < start || s.at > now) continue;
      if (open && s.at - previous > maxGap) closeSegment();
      previous = s.at;
      const double x = xOf(s.at);
      if (!s.bound) {
        closeSegment();
        unknownMarks += "<rect class=\"unknown\" x=\"" + formatNumber(x, 1) + "\" y=\"" +
                        formatNumber(kSparkHeight - kSparkPad, 1) + "\" width=\"1.5\" height=\"" +
                        std::to_string(kSparkPad) + "\"/>";
        continue;
      }
      path += open ? "L" : "M";
      path += formatNumber(x, 1) + "," + formatNumber(yOf(*s.bound), 1);
      open = true;
      ++pointsInSegment;
    }
    closeSegment();
  }

  const auto windowMinutes = history.window().count() / 60;
  std::string out = "<svg class=\"spark\" data-backend=\"" + htmlEscape(name) + "\" width=\"" +
                    std::to_string(kSparkWidth) + "\" height=\"" + std::to_string(kSparkHeight) + "\" viewBox=\"0 0 " +
                    std::to_string(kSparkWidth) + " " + std::to_string(kSparkHeight) +
                    "\" role=\"img\" aria-label=\"staleness bound of " + htmlEscape(name) + "\">";
  out += "<title>Staleness bound of " + htmlEscape(name) + " over the last " + std::to_string(windowMinutes) +
         " min (scale 0 to " + formatBound(milliseconds{static_cast<long long>(scaleMs)}) + ")</title>";
  out += "<line class=\"axis\" x1=\"0\" y1=\"" + formatNumber(kSparkPad + plotHeight, 1) + "\" x2=\"" +
         std::to_string(kSparkWidth) + "\" y2=\"" + formatNumber(kSparkPad + plotHeight, 1) + "\"/>";
  if (!path.empty()) out += "<path class=\"line\" d=\"" + path + "\"/>";
  out += unknownMarks;
  if (visible == 0) {
    out += "<text x=\"4\" y=\"" + std::to_string(kSparkHeight / 2 + 4) + "\">no samples yet</text>";
  }
  out += "</svg><span class=\"spark-scale\">latest " + formatBound(latest) + ", max " +
         formatBound(milliseconds{maxMs}) + "</span>";
  return out;
}

constexpr std::string_view kStyle = R"css(
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem;color:#1d2330;background:#f7f8fa}
h1{font-size:1.3rem;margin:0 0 1rem}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem;margin:0 0 1.2rem}
dl.summary dt{color:#5a6272}dl.summary dd{margin:0}
table{border-collapse:collapse;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.08)}
th,td{padding:.4rem .7rem;border-bottom:1px solid #e3e6eb;text-align:left;vertical-align:middle}
th{background:#eef0f4;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,Menlo,Consolas,monospace}
.yes{color:#17803d;font-weight:600}.no{color:#b42318;font-weight:600}
tr.down td{background:#fdf0ef}
td.error{color:#b42318;max-width:22rem;overflow-wrap:anywhere}
svg.spark{display:block;background:#fbfcfd;border:1px solid #e3e6eb}
svg.spark .axis{stroke:#d0d5dd;stroke-width:1}
svg.spark .line{fill:none;stroke:#2563eb;stroke-width:1.5;stroke-linejoin:round}
svg.spark .unknown{fill:#d92d20}
svg.spark text{font-size:11px;fill:#98a2b3}
.spark-scale{font-size:11px;color:#5a6272}
p.foot{color:#5a6272;font-size:12px;margin-top:1rem}
h2{font-size:1.1rem;margin:1.6rem 0 .6rem}
ul.advice{margin:.2rem 0 0;padding-left:1.1rem}
td.share{min-width:5.5rem}
span.bar{display:inline-block;height:.6rem;background:#2563eb;vertical-align:middle;margin-right:.3rem}
tr.served span.bar{background:#98a2b3}
td.pbs{font-size:12px;white-space:nowrap}
.muted{color:#98a2b3}
)css";

std::string percent(double part, double whole) {
  if (whole <= 0) return "&#8212;";
  return formatNumber(part / whole * 100.0, 1) + "%";
}

std::string count(double value) { return formatNumber(value, 0); }

std::string bucketLabel(double le) {
  if (std::isinf(le)) return "&gt; 10 s";
  if (le < 1) return "&#8804; " + formatNumber(le * 1000, 0) + " ms";
  return "&#8804; " + formatNumber(le, 0) + " s";
}

// One histogram row of the observed-staleness table: per bucket, the share of
// observations in it (not cumulative) as a bar and a number.
std::string histogramCells(const HistogramSummary* h, std::size_t buckets) {
  std::string out;
  std::uint64_t previous = 0;
  for (std::size_t i = 0; i < buckets; ++i) {
    if (!h || h->count == 0 || i >= h->cumulative.size()) {
      out += "<td class=\"pbs num\">&#8212;</td>";
      continue;
    }
    const std::uint64_t inBucket = h->cumulative[i] - std::min(previous, h->cumulative[i]);
    previous = h->cumulative[i];
    const double share = static_cast<double>(inBucket) / static_cast<double>(h->count);
    out += "<td class=\"pbs num\"><span class=\"bar\" style=\"width:" + formatNumber(share * 40, 1) + "px\"></span>" +
           formatNumber(share * 100, 1) + "%</td>";
  }
  return out;
}

void renderActivity(std::string& out, const StatusPageContext& context) {
  const TrafficSummary& t = *context.traffic;
  out += "<h2>What the proxy did (since start)</h2>\n<dl class=\"summary\">";
  auto item = [&](std::string_view term, const std::string& valueHtml) {
    out += "<dt>";
    out += term;
    out += "</dt><dd>" + valueHtml + "</dd>";
  };
  item("Requests", count(t.requests));
  item("Reads served by replicas", "<span class=\"replica-share\">" + percent(t.servedByReplica, t.reads) +
                                       "</span> (" + count(t.servedByReplica) + " of " + count(t.reads) + ")");
  auto listCounts = [](const std::map<std::string, double>& counts) {
    double total = 0;
    std::string detail;
    for (const auto& [name, value] : counts) {
      total += value;
      if (value > 0) detail += (detail.empty() ? "" : ", ") + htmlEscape(name) + " " + count(value);
    }
    return count(total) + (detail.empty() ? "" : " (" + detail + ")");
  };
  item("Fallbacks to the primary", listCounts(t.fallbacks));
  item("Downgrades under load", listCounts(t.downgrades));
  out +=
      "</dl>\n<table class=\"traffic\"><thead><tr><th>Level</th><th>Requested</th><th>Served</th>"
      "<th>Served by replicas</th></tr></thead><tbody>\n";
  static constexpr std::string_view kOrder[] = {"strong", "bounded", "session", "prefix", "eventual", "default"};
  for (auto level : kOrder) {
    auto it = t.levels.find(std::string(level));
    const LevelTraffic lt = it == t.levels.end() ? LevelTraffic{} : it->second;
    out += "<tr class=\"level\" data-level=\"";
    out += level;
    out += "\"><td>";
    out += level == "default" ? std::string_view("(no header: the rule's level)") : level;
    out += "</td><td class=\"num\">" + count(lt.requested) + "</td><td class=\"num\">" +
           (level == "default" ? std::string("&#8212;") : count(lt.served)) + "</td><td class=\"num\">" +
           (level == "default" ? std::string("&#8212;")
                               : count(lt.servedByReplica) + " (" + percent(lt.servedByReplica, lt.served) + ")") +
           "</td></tr>\n";
  }
  out += "</tbody></table>\n";

  out +=
      "<h2>Rules and advice (last hour)</h2>\n<table class=\"rules\"><thead><tr><th>Rule</th><th>Keys</th>"
      "<th>Level</th><th>Sampled reads</th><th>Est. reads</th><th>Advice (never changes routing)</th></tr>"
      "</thead><tbody>\n";
  for (const RuleTraffic& rule : context.rules) {
    std::string keys;
    for (const auto& k : rule.keys) keys += (keys.empty() ? "" : " ") + ("<code>" + htmlEscape(k) + "</code>");
    out += "<tr class=\"rule\" data-rule=\"" + htmlEscape(rule.name) + "\"><td>" + htmlEscape(rule.name) + "</td><td>" +
           keys + "</td><td>";
    out += toString(rule.level);
    out += "</td><td class=\"num\">" + std::to_string(rule.sampledLastHour) + "</td><td class=\"num\">" +
           (context.auditSampleRate > 0 ? count(rule.estimatedReadsLastHour) : std::string("&#8212;")) + "</td><td>";
    std::string advice;
    for (const AdviceRow& row : context.advice) {
      if (row.key.rule == rule.name) advice += "<li class=\"advice\">" + htmlEscape(adviceSentence(row)) + "</li>";
    }
    out += advice.empty() ? std::string("<span class=\"muted\">no samples yet</span>")
                          : "<ul class=\"advice\">" + advice + "</ul>";
    out += "</td></tr>\n";
  }
  out += "</tbody></table>\n";

  // The probabilistically bounded staleness view: how stale audited reads really were,
  // next to the bounds the same level was served under.
  std::size_t buckets = 0;
  std::vector<double> bounds;
  for (const auto* family : {&t.observedStaleness, &t.servedStaleness}) {
    for (const auto& [level, h] : *family) {
      if (h.upperBounds.size() > buckets) {
        buckets = h.upperBounds.size();
        bounds = h.upperBounds;
      }
    }
  }
  out += "<h2>Audit: observed staleness vs served bound (since start)</h2>\n<p class=\"foot\">Audit: ";
  out +=
      context.auditSampleRate > 0 ? formatNumber(context.auditSampleRate * 100, 3) + "% of reads" : std::string("off");
  double mismatches = t.auditMismatches;
  std::string results;
  for (const auto& [name, value] : t.audits)
    results += (results.empty() ? "" : ", ") + htmlEscape(name) + " " + count(value);
  out += "; results: " + (results.empty() ? std::string("none yet") : results) + "; mismatches: <span class=\"" +
         std::string(mismatches > 0 ? "no" : "yes") + "\">" + count(mismatches) + "</span>.</p>\n";
  out += "<table class=\"pbs\"><thead><tr><th>Level</th><th>What</th><th>Reads</th>";
  for (double le : bounds) out += "<th>" + bucketLabel(le) + "</th>";
  out += "</tr></thead><tbody>\n";
  static constexpr std::string_view kLevels[] = {"strong", "bounded", "session", "prefix", "eventual"};
  for (auto level : kLevels) {
    const auto observed = t.observedStaleness.find(std::string(level));
    const auto served = t.servedStaleness.find(std::string(level));
    const HistogramSummary* o = observed == t.observedStaleness.end() ? nullptr : &observed->second;
    const HistogramSummary* s = served == t.servedStaleness.end() ? nullptr : &served->second;
    if ((!o || o->count == 0) && (!s || s->count == 0)) continue;
    out += "<tr class=\"observed\" data-level=\"";
    out += level;
    out += "\"><td rowspan=\"2\">";
    out += level;
    out += "</td><td>observed (audit)</td><td class=\"num\">" + std::to_string(o ? o->count : 0) + "</td>" +
           histogramCells(o, buckets) + "</tr>\n<tr class=\"served\" data-level=\"";
    out += level;
    out += "\"><td>bound served</td><td class=\"num\">" + std::to_string(s ? s->count : 0) + "</td>" +
           histogramCells(s, buckets) + "</tr>\n";
  }
  out += "</tbody></table>\n";
}

}  // namespace

void SampleRing::push(const StalenessSample& sample) {
  if (size_ < slots_.size()) {
    slots_[(head_ + size_) % slots_.size()] = sample;
    ++size_;
  } else {
    slots_[head_] = sample;
    head_ = (head_ + 1) % slots_.size();
  }
}

StalenessHistory::StalenessHistory(std::chrono::seconds window, std::chrono::seconds interval)
    : window_(window),
      interval_(interval.count() > 0 ? interval : std::chrono::seconds{1}),
      capacity_(static_cast<std::size_t>(std::max<long long>(1, window_ / interval_))) {}

void StalenessHistory::sample(const backends::Topology& topology, Clock::time_point now) {
  std::set<std::string_view> present;
  for (std::size_t i = 0; i < topology.backends.size(); ++i) {
    const auto& b = topology.backends[i];
    present.insert(b.name);
    auto it = rings_.find(b.name);
    if (it == rings_.end()) it = rings_.emplace(b.name, SampleRing(capacity_)).first;
    it->second.push({now, topology.stalenessBound(i, now), b.lagBytes, b.up});
  }
  std::erase_if(rings_, [&](const auto& entry) { return !present.contains(entry.first); });
}

const SampleRing* StalenessHistory::samples(std::string_view backend) const {
  auto it = rings_.find(backend);
  return it == rings_.end() ? nullptr : &it->second;
}

std::string htmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

bool prefersHtml(std::string_view accept) {
  // q of the most specific media range matching each type (RFC 9110 §12.5.1).
  struct Best {
    int specificity = 0;
    double q = 0;
  };
  Best html, json;
  auto consider = [](Best& best, int specificity, double q) {
    if (specificity > best.specificity) best = {specificity, q};
  };
  while (!accept.empty()) {
    auto comma = accept.find(',');
    std::string_view item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
    auto semi = item.find(';');
    const std::string range = text::lowerCopy(text::trim(item.substr(0, semi)));
    double q = 1.0;
    while (semi != std::string_view::npos) {
      item = item.substr(semi + 1);
      semi = item.find(';');
      auto param = text::trim(item.substr(0, semi));
      if (param.size() > 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        try {
          q = std::stod(std::string(param.substr(2)));
        } catch (...) {
          q = 0;
        }
      }
    }
    if (range == "text/html") consider(html, 3, q);
    if (range == "text/*") consider(html, 2, q);
    if (range == "application/json") consider(json, 3, q);
    if (range == "application/*") consider(json, 2, q);
    if (range == "*/*") {
      consider(html, 1, q);
      consider(json, 1, q);
    }
  }
  return html.q > json.q;
}

std::string renderStatusHtml(const backends::Topology& topology, const StalenessHistory& history,
                             const StatusPageContext& context) {
  std::string out;
  out.reserve(8192);
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"refresh\" content=\"2\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<title>cxproxy status</title><style>";
  out += kStyle;
  out += "</style></head><body>\n<h1>cxproxy status</h1>\n<dl class=\"summary\">";
  auto item = [&](std::string_view term, const std::string& valueHtml) {
    out += "<dt>";
    out += term;
    out += "</dt><dd>" + valueHtml + "</dd>";
  };
  if (!topology.backends.empty()) {
    const auto& p = topology.primary();
    item("Primary", htmlEscape(p.name) + (p.up ? "" : " <span class=\"no\">down</span>"));
    item("Primary offset", std::to_string(p.offset));
    item("Primary replid", "<code>" + htmlEscape(p.replid.empty() ? "unknown" : p.replid) + "</code>");
  }
  item("Load state", htmlEscape(context.loadState));
  item("Config version", "<code>" + htmlEscape(context.configVersion) + "</code>");
  if (!context.proxyVersion.empty()) item("cxproxy", htmlEscape(context.proxyVersion));
  item("Topology generation", std::to_string(topology.generation));
  if (context.draining) item("Draining", "<span class=\"no\">yes</span>");
  out +=
      "</dl>\n<table class=\"backends\"><thead><tr><th>Backend</th><th>Address</th><th>Role</th>"
      "<th>Up</th><th>Offset</th><th>Lag</th><th>Staleness bound</th><th>Tracked</th>"
      "<th>Staleness, last " +
      std::to_string(history.window().count() / 60) + " min</th><th>Last error</th></tr></thead><tbody>\n";
  auto yesNo = [](bool v) {
    return v ? std::string("<span class=\"yes\">yes</span>") : "<span class=\"no\">no</span>";
  };
  for (std::size_t i = 0; i < topology.backends.size(); ++i) {
    const auto& b = topology.backends[i];
    const bool isReplica = i != topology.primaryIndex;  // the role it is given, as in the JSON
    out += "<tr class=\"backend ";
    out += b.up ? "up" : "down";
    out += "\" data-backend=\"" + htmlEscape(b.name) + "\"><td>" + htmlEscape(b.name) + "</td><td><code>" +
           htmlEscape(b.address) + "</code></td><td>";
    out += backends::toString(b.role);
    if ((b.role == backends::NodeRole::Primary) == isReplica) {
      out += isReplica ? " (configured replica)" : " (configured primary)";
    }
    out += "</td><td>" + yesNo(b.up) + "</td><td class=\"num\">" + std::to_string(b.offset) + "</td>";
    if (isReplica) {
      out += "<td class=\"num\" title=\"" + std::to_string(b.lagBytes) + " bytes\">" + formatBytes(b.lagBytes) +
             "</td><td class=\"num\">" + formatBound(topology.stalenessBound(i, context.now)) + "</td><td>" +
             yesNo(b.tracked) + "</td><td>" + sparkline(b.name, history.samples(b.name), history, context.now) +
             "</td>";
    } else {
      out += "<td class=\"num\">&#8212;</td><td class=\"num\">" + formatBound(topology.stalenessBound(i, context.now)) +
             "</td><td>&#8212;</td><td>&#8212;</td>";
    }
    out += "<td class=\"error\">" + htmlEscape(b.lastError) + "</td></tr>\n";
  }
  out += "</tbody></table>\n";
  if (context.traffic) renderActivity(out, context);
  out +=
      "<p class=\"foot\">The staleness bound is an upper bound on how far behind the "
      "primary a replica's data is; sampled every " +
      std::to_string(history.interval().count()) +
      " s. This page refreshes every 2 s. Send <code>Accept: application/json</code> for the JSON "
      "form.</p>\n</body></html>\n";
  return out;
}

}  // namespace cx::proxy
