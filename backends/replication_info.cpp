// Readers of ROLE and INFO replication replies (see replication_info.h).
#include "backends/replication_info.h"

#include <algorithm>
#include <charconv>
#include <string>

namespace cx::backends {

namespace {

std::uint64_t toOffset(long long value) { return value < 0 ? 0 : static_cast<std::uint64_t>(value); }

std::uint64_t parseU64(std::string_view text) {
  std::uint64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

}  // namespace

std::optional<std::string_view> infoField(std::string_view info, std::string_view key) {
  std::optional<std::string_view> found;
  forEachInfoField(info, [&](std::string_view k, std::string_view v) {
    if (!found && k == key) found = v;
  });
  return found;
}

bool parsePollReplies(const RespValue& role, const RespValue& info, BackendStatus& out) {
  if (role.type != RespType::Array || role.elements.empty() || !role.elements[0].isString()) return false;
  if (!info.isString()) return false;
  const std::string& kind = role.elements[0].str;
  out.loading = false;
  out.linkUp = false;
  out.resyncing = false;
  std::uint64_t infoOffset = 0;
  forEachInfoField(info.str, [&](std::string_view k, std::string_view v) {
    if (k == "master_replid")
      out.replid = std::string(v);
    else if (k == "master_replid2")
      out.replid2 = std::string(v);
    else if (k == "second_repl_offset") {
      // -1 when there is no previous history.
      out.secondReplOffset = (v.empty() || v.front() == '-') ? 0 : parseU64(v);
    } else if (k == "master_repl_offset")
      infoOffset = parseU64(v);
    else if (k == "master_link_status")
      out.linkUp = v == "up";
    else if (k == "loading")
      out.loading = v == "1";
    else if (k == "master_sync_in_progress")
      out.resyncing = v == "1";
  });
  if (kind == "master") {
    if (role.elements.size() < 2 || role.elements[1].type != RespType::Integer) return false;
    out.role = NodeRole::Primary;
    out.offset = toOffset(role.elements[1].integer);
    out.linkUp = true;
  } else if (kind == "slave") {
    if (role.elements.size() < 5 || role.elements[4].type != RespType::Integer) return false;
    out.role = NodeRole::Replica;
    // ROLE reports -1 while the link is down; INFO still has the applied offset then.
    out.offset = role.elements[4].integer >= 0 ? toOffset(role.elements[4].integer) : infoOffset;
  } else {
    out.role = NodeRole::Unknown;  // sentinel or something else: never serve from it
    return false;
  }
  return true;
}

std::optional<std::uint64_t> roleOffset(const RespValue& role, bool wantPrimary) {
  if (role.type != RespType::Array || role.elements.empty() || !role.elements[0].isString()) return std::nullopt;
  const auto& kind = role.elements[0].str;
  if (kind == "master") {
    if (!wantPrimary || role.elements.size() < 2 || role.elements[1].type != RespType::Integer) return std::nullopt;
    return static_cast<std::uint64_t>(std::max(0LL, role.elements[1].integer));
  }
  if (kind == "slave" && !wantPrimary && role.elements.size() >= 5 && role.elements[4].type == RespType::Integer &&
      role.elements[4].integer >= 0) {
    return static_cast<std::uint64_t>(role.elements[4].integer);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> replicaOffsetFromInfo(const RespValue& info, std::string_view replid) {
  if (!info.isString()) return std::nullopt;
  bool replica = false;
  bool sameHistory = false;
  std::optional<std::uint64_t> offset;
  forEachInfoField(info.str, [&](std::string_view key, std::string_view value) {
    if (key == "role") {
      replica = value == "slave";
    } else if (key == "master_replid") {
      sameHistory = !replid.empty() && value == replid;
    } else if (key == "master_repl_offset") {
      std::uint64_t v = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec == std::errc{} && end == value.data() + value.size()) offset = v;
    }
  });
  if (!replica || !sameHistory) return std::nullopt;
  return offset;
}

}  // namespace cx::backends
