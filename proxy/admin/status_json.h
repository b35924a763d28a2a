// What GET /v1/status reports, from the shared state and a topology snapshot: the JSON
// body, and the load state that the JSON and the HTML page both show.
#pragma once

#include <string>
#include <string_view>

#include "backends/topology.h"
#include "proxy/admin/traffic.h"
#include "proxy/app/shared_state.h"

namespace cx::proxy {

// The load controller's verdict: "normal", or "overloaded" and why.
struct LoadStatus {
  std::string_view state;
  std::string_view reason;  // empty while normal
};
LoadStatus loadStatus(const SharedState& shared);

// The /v1/status JSON (README "HTTP API"): backends, primary, load, config, commands,
// and what the proxy did: traffic, audit, rules and advice.
std::string statusJson(const SharedState& shared, const backends::Topology& topology, backends::Clock::time_point now);

}  // namespace cx::proxy
