// The sessions of cxproxy-verify: threads that write and read through cxproxy and record
// every operation (README "Verifying the guarantees on your deployment").
//
// Session i reads at level levels[i % levels.size()] and is the only writer of its two
// keys `<run>s<i>:a` and `<run>s<i>:b`: it writes a = "i:n" then b = "i:n" for n = 1, 2, ...,
// each after the previous one was acknowledged, and stops writing after a write fails
// (its outcome is unknown). Reads are GETs of one key or one MGET of a writer's pair,
// of its own keys or another session's.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "proxy/verify/history.h"
#include "proxy/verify/http_client.h"
#include "proxy/verify/options.h"

namespace cx::verify {

using Clock = std::chrono::steady_clock;

// Headers every request of a session carries (auth, level, bound, token).
std::vector<std::pair<std::string, std::string>> requestHeaders(const Options& options, Level level,
                                                                const std::string& token);

// Runs options.sessions sessions for options.duration on keys under `keyPrefix`. Times in
// the history are relative to `origin`. Operation ids are assigned in invoke order.
History runWorkload(const Options& options, const std::string& keyPrefix, Clock::time_point origin);

// The keys runWorkload writes, for cleanup.
std::vector<std::string> workloadKeys(const Options& options, const std::string& keyPrefix);

}  // namespace cx::verify
