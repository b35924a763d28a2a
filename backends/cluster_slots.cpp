// Hash slots and cluster error replies (see cluster_slots.h).
#include "backends/cluster_slots.h"

#include <array>
#include <charconv>

namespace cx::backends {

namespace {

// One table entry per high byte: the CRC of that byte shifted through the polynomial.
constexpr std::array<std::uint16_t, 256> makeCrc16Table() {
  std::array<std::uint16_t, 256> table{};
  for (unsigned byte = 0; byte < 256; ++byte) {
    auto crc = static_cast<std::uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc =
          (crc & 0x8000) != 0 ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021) : static_cast<std::uint16_t>(crc << 1);
    }
    table[byte] = crc;
  }
  return table;
}

constexpr auto kCrc16Table = makeCrc16Table();

// A decimal number in [low, high], all of `text`; nullopt otherwise (no sign, no spaces).
std::optional<unsigned> parseBounded(std::string_view text, unsigned low, unsigned high) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < low || value > high) {
    return std::nullopt;
  }
  return value;
}

// "host:port", or ":port" / "?:port" for a node whose endpoint is unknown (host empty).
// An IPv6 address comes unbracketed and may start with ':' too ("::1:7001").
std::optional<NodeAddress> parseRedirectEndpoint(std::string_view text) {
  const auto colon = text.find(':');
  const bool unknown =
      (colon == 0 || (colon == 1 && text.front() == '?')) && text.find(':', colon + 1) == std::string_view::npos;
  if (unknown) {
    auto port = parseBounded(text.substr(colon + 1), 1, 65535);
    if (!port) return std::nullopt;
    return NodeAddress{std::string(), static_cast<std::uint16_t>(*port)};
  }
  return parseNodeAddress(text);
}

std::string_view firstWord(std::string_view error) {
  if (error.starts_with('-')) error.remove_prefix(1);
  return error.substr(0, error.find(' '));
}

template <typename Key>
std::optional<std::uint16_t> commonSlotOf(std::span<const Key> keys) {
  if (keys.empty()) return std::nullopt;
  const std::uint16_t slot = keySlot(keys.front());
  for (const auto& key : keys.subspan(1)) {
    if (keySlot(key) != slot) return std::nullopt;
  }
  return slot;
}

}  // namespace

std::uint16_t crc16(std::string_view bytes) {
  std::uint16_t crc = 0;
  for (char c : bytes) {
    const auto index = static_cast<std::uint8_t>((crc >> 8) ^ static_cast<std::uint8_t>(c));
    crc = static_cast<std::uint16_t>((crc << 8) ^ kCrc16Table[index]);
  }
  return crc;
}

std::string_view hashTag(std::string_view key) {
  const auto open = key.find('{');
  if (open == std::string_view::npos) return key;
  const auto close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

std::uint16_t keySlot(std::string_view key) {
  return static_cast<std::uint16_t>(crc16(hashTag(key)) & (kClusterSlotCount - 1));
}

std::optional<std::uint16_t> commonSlot(std::span<const std::string_view> keys) { return commonSlotOf(keys); }
std::optional<std::uint16_t> commonSlot(std::span<const std::string> keys) { return commonSlotOf(keys); }
bool sameSlot(std::span<const std::string_view> keys) { return keys.size() <= 1 || commonSlot(keys).has_value(); }
bool sameSlot(std::span<const std::string> keys) { return keys.size() <= 1 || commonSlot(keys).has_value(); }

std::string_view toString(ClusterErrorKind kind) {
  switch (kind) {
    case ClusterErrorKind::NotCluster: return "not_cluster";
    case ClusterErrorKind::Moved: return "moved";
    case ClusterErrorKind::Ask: return "ask";
    case ClusterErrorKind::TryAgain: return "tryagain";
    case ClusterErrorKind::ClusterDown: return "clusterdown";
    case ClusterErrorKind::CrossSlot: return "crossslot";
  }
  return "not_cluster";
}

ClusterErrorKind classifyClusterError(std::string_view error) {
  const std::string_view code = firstWord(error);
  if (code == "MOVED") return ClusterErrorKind::Moved;
  if (code == "ASK") return ClusterErrorKind::Ask;
  if (code == "TRYAGAIN") return ClusterErrorKind::TryAgain;
  if (code == "CLUSTERDOWN") return ClusterErrorKind::ClusterDown;
  if (code == "CROSSSLOT") return ClusterErrorKind::CrossSlot;
  return ClusterErrorKind::NotCluster;
}

NodeAddress ClusterRedirect::target(std::string_view currentHost) const {
  if (!node.host.empty()) return node;
  return NodeAddress{std::string(currentHost), node.port};
}

std::optional<ClusterRedirect> parseClusterRedirect(std::string_view error) {
  if (error.starts_with('-')) error.remove_prefix(1);
  ClusterRedirect redirect;
  const auto kindEnd = error.find(' ');
  const std::string_view kind = error.substr(0, kindEnd);
  if (kind == "MOVED") {
    redirect.kind = ClusterRedirect::Kind::Moved;
  } else if (kind == "ASK") {
    redirect.kind = ClusterRedirect::Kind::Ask;
  } else {
    return std::nullopt;
  }
  if (kindEnd == std::string_view::npos) return std::nullopt;
  std::string_view rest = error.substr(kindEnd + 1);
  const auto slotEnd = rest.find(' ');
  if (slotEnd == std::string_view::npos) return std::nullopt;
  auto slot = parseBounded(rest.substr(0, slotEnd), 0, kClusterSlotCount - 1);
  if (!slot) return std::nullopt;
  redirect.slot = static_cast<std::uint16_t>(*slot);
  const std::string_view endpoint = rest.substr(slotEnd + 1);
  if (endpoint.find(' ') != std::string_view::npos) return std::nullopt;
  auto node = parseRedirectEndpoint(endpoint);
  if (!node) return std::nullopt;
  redirect.node = std::move(*node);
  return redirect;
}

}  // namespace cx::backends
