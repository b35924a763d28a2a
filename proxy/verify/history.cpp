// Value encoding and operation formatting for cxproxy-verify's history.
#include "proxy/verify/history.h"

#include <charconv>
#include <cstdio>

namespace cx::verify {

std::string encodeValue(Version version) { return std::to_string(version.writer) + ":" + std::to_string(version.seq); }

std::optional<Version> decodeValue(std::string_view bytes) {
  auto colon = bytes.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == bytes.size()) return std::nullopt;
  Version v;
  auto [p1, e1] = std::from_chars(bytes.data(), bytes.data() + colon, v.writer);
  if (e1 != std::errc{} || p1 != bytes.data() + colon || v.writer < 0) return std::nullopt;
  auto [p2, e2] = std::from_chars(bytes.data() + colon + 1, bytes.data() + bytes.size(), v.seq);
  if (e2 != std::errc{} || p2 != bytes.data() + bytes.size() || v.seq == 0) return std::nullopt;
  return v;
}

std::string formatMicros(Micros t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%06llds", static_cast<long long>(t.count() / 1000000),
                static_cast<long long>(t.count() % 1000000));
  return buf;
}

namespace {

std::string describeValue(const ReadValue& v) {
  if (!v.present) return v.key + "=(absent)";
  if (!v.version) return v.key + "=\"" + v.raw.substr(0, 40) + "\" (not a verifier value)";
  return v.key + "=" + encodeValue(*v.version);
}

}  // namespace

std::string describe(const Operation& op) {
  std::string out = "#" + std::to_string(op.id) + " s" + std::to_string(op.session) + " ";
  out += op.kind == OpKind::Write ? "write" : "read";
  out += "[" + std::string(toString(op.requested));
  if (op.maxStaleness) out += " " + std::to_string(op.maxStaleness->count()) + "ms";
  out += "] ";
  if (op.kind == OpKind::Write) {
    out += "PUT " + op.writeKey + "=" + encodeValue(op.written);
  } else {
    out += op.values.size() > 1 ? "MGET" : "GET";
    for (const auto& v : op.values) out += " " + describeValue(v);
  }
  out += " invoke=" + formatMicros(op.invoke) + " complete=" + formatMicros(op.complete);
  if (!op.ok) {
    out += " FAILED status=" + std::to_string(op.status);
    if (!op.error.empty()) out += " (" + op.error.substr(0, 120) + ")";
    return out;
  }
  out += " served=" + (op.servedLevel.empty() ? std::string("?") : op.servedLevel) + "/" +
         (op.servedRole.empty() ? std::string("?") : op.servedRole);
  if (!op.stalenessBound.empty()) out += " bound=" + op.stalenessBound + "ms";
  if (!op.downgraded.empty()) out += " downgraded=\"" + op.downgraded + "\"";
  return out;
}

}  // namespace cx::verify
