// Per-request metrics through the worker's cache of metric children (see request_metrics.h).
#include "proxy/api/request_metrics.h"

namespace cx::proxy {

std::string_view toString(ServedRole role) {
  switch (role) {
    case ServedRole::Primary: return "primary";
    case ServedRole::Replica: return "replica";
    case ServedRole::None: break;
  }
  return "none";
}

void RequestMetrics::request(Op op, std::optional<routing::Level> requested, std::optional<routing::Level> served,
                             ServedRole role, unsigned status, std::chrono::steady_clock::duration elapsed) {
  // Small ids for the key: op, requested (+1, 0 = default), served (+1, 0 = none), role
  // and the status code.
  const std::uint64_t opId = static_cast<std::uint64_t>(op);
  const std::uint64_t roleId = static_cast<std::uint64_t>(role);
  const std::uint64_t requestedId = requested ? static_cast<std::uint64_t>(*requested) + 1 : 0;
  const std::uint64_t servedId = served ? static_cast<std::uint64_t>(*served) + 1 : 0;
  const std::uint64_t ids = opId << 40 | requestedId << 32 | servedId << 24 | roleId << 16 | status;
  cached(
      counters_, key(Kind::Requests, ids),
      [&]() -> auto& {
        return metrics_.requests(toString(op), requested ? routing::toString(*requested) : std::string_view("default"),
                                 served ? routing::toString(*served) : std::string_view("none"), toString(role),
                                 static_cast<int>(status));
      })
      .Increment();
  cached(
      histograms_, key(Kind::RequestDuration, opId << 8 | roleId),
      [&]() -> auto& { return metrics_.requestDuration(toString(op), toString(role)); })
      .Observe(std::chrono::duration<double>(elapsed).count());
}

void RequestMetrics::readStaleness(routing::Level level, std::chrono::milliseconds bound) {
  cached(
      histograms_, key(Kind::ReadStaleness, static_cast<std::uint64_t>(level)),
      [&]() -> auto& { return metrics_.readStaleness(routing::toString(level)); })
      .Observe(std::chrono::duration<double>(bound).count());
}

void RequestMetrics::backendCall(std::size_t index, std::uint32_t generation, std::string_view name,
                                 backends::BackendError error, bool ok, std::chrono::steady_clock::duration elapsed) {
  const std::uint64_t slot = static_cast<std::uint64_t>(generation) << 16 | (index & 0xffff);
  if (ok) {
    cached(
        counters_, key(Kind::BackendOk, slot), [&]() -> auto& { return metrics_.backendRequests(name, "ok"); })
        .Increment();
  } else {
    metrics_.backendRequests(name, backends::toString(error)).Increment();
  }
  cached(
      histograms_, key(Kind::BackendDuration, slot), [&]() -> auto& { return metrics_.backendRequestDuration(name); })
      .Observe(std::chrono::duration<double>(elapsed).count());
}

}  // namespace cx::proxy
