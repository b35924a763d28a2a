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
  out += ",\"version\":\"" CXPROXY_VERSION "\"}";
  return out;
}

}  // namespace cx::proxy
