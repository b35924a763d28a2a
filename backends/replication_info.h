// The one reader of Redis's replication replies: `ROLE` and `INFO replication
// [persistence]`. The tracker's polls and the data path's proofs (the ROLE pipelined
// after a command, the INFO asked of a replica whose link is down) both read them here,
// so every caller gets typed values and none parses reply text itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "backends/resp.h"
#include "backends/topology.h"

namespace cx::backends {

// Calls fn(key, value) for each "key:value" line of an INFO reply ("# Section" headers
// and blank lines skipped, CRLF or LF endings).
template <typename Fn>
void forEachInfoField(std::string_view info, Fn&& fn) {
  while (!info.empty()) {
    const auto eol = info.find('\n');
    std::string_view line = info.substr(0, eol);
    info = eol == std::string_view::npos ? std::string_view{} : info.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    fn(line.substr(0, colon), line.substr(colon + 1));
  }
}

// The value of one INFO field; nullopt when absent. A view into `info`.
std::optional<std::string_view> infoField(std::string_view info, std::string_view key);

// Reads the replies of ROLE and INFO (replication + persistence sections) of one poll
// into `out`: role, offset, replids, link, loading and resync state. False when the
// replies are not what a Redis primary or replica sends (a sentinel, an error); `out`
// may be partly written then.
bool parsePollReplies(const RespValue& role, const RespValue& info, BackendStatus& out);

// The replication offset in a ROLE reply, when the node has the role wanted: a primary's
// master_repl_offset, or a replica's applied offset. nullopt otherwise, and for a replica
// whose link is down (ROLE reports -1 then; see replicaOffsetFromInfo).
std::optional<std::uint64_t> roleOffset(const RespValue& role, bool wantPrimary);

// ROLE, encoded: pipelined after a command (same connection, run right after it) so its
// reply gives a position at or after the state the command read or wrote.
inline constexpr std::string_view kRoleTrailer = "*1\r\n$4\r\nROLE\r\n";

// A replica's applied offset from its INFO replication reply (master_repl_offset), when
// the node is a replica in history `replid` (master_replid); nullopt otherwise, or when
// `info` is not a string reply. With its link down a replica still holds exactly the
// prefix it applied, and INFO says which.
std::optional<std::uint64_t> replicaOffsetFromInfo(const RespValue& info, std::string_view replid);

}  // namespace cx::backends
