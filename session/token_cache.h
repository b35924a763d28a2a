// Small per-thread memos around the token codec, each sparing an HMAC per request.
//
// VerifiedTokenCache: header values that verified, so a client that sends the same token
// again (every read between two writes) skips the check. Exact bytes only: any other
// value, a tampered one included, misses and is verified in full. Decoding is a pure
// function of the bytes and the key ring, which is fixed for the process's life, so a
// remembered result is the result a full check would give.
//
// RecentTokens: tokens signed in the last moment, by content. Responses whose token holds
// the same history and positions (every reader of one replica between two of its offset
// changes) get the same signed text, its issue time at most `maxAge` old.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "session/token.h"

namespace cx::session {

class VerifiedTokenCache {
 public:
  static constexpr std::size_t kSlots = 64;  // direct-mapped; at most 64 KiB of header bytes
  // Shared, not copied: a request keeps the list it was given even when its slot is
  // taken by another value while the request waits on Redis.
  using TokenList = std::shared_ptr<const std::vector<SessionToken>>;

  // The tokens of `header` if it verified before, else null.
  TokenList find(std::string_view header) const {
    const Slot& slot = slots_[slotOf(header)];
    return slot.tokens && slot.header == header ? slot.tokens : nullptr;
  }

  // Only for a header that decodeList() accepted.
  void remember(std::string_view header, TokenList tokens) {
    if (header.size() > kMaxTokenBytes) return;
    Slot& slot = slots_[slotOf(header)];
    slot.header.assign(header);
    slot.tokens = std::move(tokens);
  }

 private:
  struct Slot {
    std::string header;
    TokenList tokens;
  };
  static std::size_t slotOf(std::string_view header) { return std::hash<std::string_view>{}(header) % kSlots; }

  std::array<Slot, kSlots> slots_;
};

class RecentTokens {
 public:
  static constexpr std::size_t kSlots = 64;
  using Clock = std::chrono::steady_clock;

  // The signed text of a token holding these positions (its issue time is set when it
  // is signed anew). A hit builds nothing: no token, no string.
  const std::string& encode(const KeyRing& keys, std::string_view replid, std::uint64_t writeOffset,
                            std::uint64_t readOffset, Clock::time_point now, std::chrono::milliseconds maxAge) {
    const std::size_t hash = std::hash<std::string_view>{}(replid) ^ (writeOffset * 0x9E3779B97F4A7C15ULL) ^
                             (readOffset * 0xC2B2AE3D27D4EB4FULL);
    Slot& slot = slots_[hash % kSlots];
    if (slot.used && now - slot.signedAt <= maxAge && slot.writeOffset == writeOffset &&
        slot.readOffset == readOffset && slot.replid == replid) {
      return slot.text;
    }
    SessionToken token;
    token.replid = replid;
    token.writeOffset = writeOffset;
    token.readOffset = readOffset;
    token.issuedAt = std::chrono::system_clock::now();
    slot.text = keys.encode(token);
    slot.replid = replid;
    slot.writeOffset = writeOffset;
    slot.readOffset = readOffset;
    slot.signedAt = now;
    slot.used = true;
    return slot.text;
  }

 private:
  struct Slot {
    std::string replid;
    std::uint64_t writeOffset = 0;
    std::uint64_t readOffset = 0;
    Clock::time_point signedAt{};
    std::string text;
    bool used = false;
  };
  std::array<Slot, kSlots> slots_;
};

}  // namespace cx::session
