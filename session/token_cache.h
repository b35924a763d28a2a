// A small per-thread memo of session-token header values that verified, so a client that
// sends the same token again (every read between two writes) skips the HMAC. Exact
// bytes only: any other value, a tampered one included, misses and is verified in full.
// Decoding is a pure function of the bytes and the key ring, which is fixed for the
// process's life, so a remembered result is the result a full check would give.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "session/token.h"

namespace cx::session {

class VerifiedTokenCache {
 public:
  static constexpr std::size_t kSlots = 64;  // direct-mapped; at most 64 KiB of header bytes

  // The tokens of `header` if it verified before, else null. Valid until remember().
  const std::vector<SessionToken>* find(std::string_view header) const {
    const Slot& slot = slots_[slotOf(header)];
    return slot.used && slot.header == header ? &slot.tokens : nullptr;
  }

  // Only for a header that decodeList() accepted.
  void remember(std::string_view header, const std::vector<SessionToken>& tokens) {
    if (header.size() > kMaxTokenBytes) return;
    Slot& slot = slots_[slotOf(header)];
    slot.header.assign(header);
    slot.tokens = tokens;
    slot.used = true;
  }

 private:
  struct Slot {
    std::string header;
    std::vector<SessionToken> tokens;
    bool used = false;
  };
  static std::size_t slotOf(std::string_view header) { return std::hash<std::string_view>{}(header) % kSlots; }

  std::array<Slot, kSlots> slots_;
};

}  // namespace cx::session
