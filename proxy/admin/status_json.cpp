// The JSON of GET /v1/status (see status_json.h).
#include "proxy/admin/status_json.h"

#include "proxy/http/json.h"

namespace cx::proxy {

LoadStatus loadStatus(const SharedState& shared) {
  if (!shared.overloaded.load()) return {"normal", ""};
  return {"overloaded", shared.overloadReason.load()};
}

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
    out += i == 0 ? "primary" : "replica";
    out += "\",\"role\":\"";
    out += backends::toString(b.role);
    out += "\",\"up\":";
    out += b.up ? "true" : "false";
    out += ",\"offset\":" + std::to_string(b.offset);
    out += ",\"replid\":";
    appendJsonString(out, b.replid);
    if (i > 0) {
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
  const LoadStatus load = loadStatus(shared);
  out += "},\"load\":{\"state\":\"";
  out += load.state;
  out += "\",\"reason\":";
  appendJsonString(out, load.reason);
  out += ",\"primary_in_flight\":" + std::to_string(shared.inFlight.total(0));
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
  out += ",\"version\":\"" CXPROXY_VERSION "\"}";
  return out;
}

}  // namespace cx::proxy
