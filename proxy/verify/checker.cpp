// cxproxy-verify's history checker. Each read is held to one level: the level it asked
// for, or the weaker level a documented downgrade (X-Consistency-Downgraded) served.
//
// Why these checks are sound for the workload of checker.h:
// - A key has one sequential writer, so "the version a read must at least return" is the
//   highest seq among that key's acknowledged writes that completed before some time,
//   and "older" is a smaller seq. Writes with an unknown outcome are never required.
// - Freshness uses only the verifier's clock: a write acknowledged to the verifier before
//   (read invoke - B) was applied on the primary before then, and the read reached
//   cxproxy after its invoke, so a replica within bound B at that moment holds it.
// - One GET reads one key on one node: any version ever written is the latest write of
//   some prefix, so a single-key read cannot show a prefix violation. A read of several
//   keys of one writer in one command (MGET, one node) must show the state after some
//   point of the writer's sequence: for every key, the version read is the writer's last
//   write to it at or before that point.
#include "proxy/verify/checker.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <unordered_map>
#include <utility>

namespace cx::verify {

std::string_view toString(Condition condition) {
  switch (condition) {
    case Condition::ServedLevel: return "served_level";
    case Condition::WrittenValue: return "written_value";
    case Condition::ReadYourWrites: return "read_your_writes";
    case Condition::MonotonicReads: return "monotonic_reads";
    case Condition::ConsistentPrefix: return "consistent_prefix";
    case Condition::Freshness: return "bounded_staleness";
    case Condition::BoundHeader: return "staleness_bound_header";
  }
  return "unknown";
}

namespace {

struct KeyWrites {
  int writer = -1;
  std::vector<const Operation*> bySeq;  // every write of the key, ascending seq
};

// Per writer: its writes in the order it issued them (it issues one at a time).
using WriterSequence = std::vector<const Operation*>;

class Checker {
 public:
  explicit Checker(const History& history) : history_(history) {}

  CheckReport run() {
    index();
    std::vector<const Operation*> reads;
    for (const auto& op : history_) {
      if (op.kind == OpKind::Read) reads.push_back(&op);
    }
    // Program order per session (a session runs one operation at a time).
    std::stable_sort(reads.begin(), reads.end(), [](const Operation* a, const Operation* b) {
      return a->session != b->session ? a->session < b->session : a->invoke < b->invoke;
    });
    for (const Operation* read : reads) checkRead(*read);
    // In the order the reads were issued (ids are assigned in invoke order).
    std::stable_sort(report_.violations.begin(), report_.violations.end(),
                     [](const Violation& a, const Violation& b) { return a.ops.front() < b.ops.front(); });
    return std::move(report_);
  }

 private:
  void index() {
    report_.operations = history_.size();
    std::vector<const Operation*> writes;
    for (const auto& op : history_) {
      if (op.kind != OpKind::Write) continue;
      writes.push_back(&op);
      ++(op.ok ? report_.writesAcknowledged : report_.writesFailed);
    }
    std::stable_sort(writes.begin(), writes.end(),
                     [](const Operation* a, const Operation* b) { return a->invoke < b->invoke; });
    for (const Operation* w : writes) {
      auto& key = keys_[w->writeKey];
      key.writer = w->written.writer;
      key.bySeq.push_back(w);
      auto& seq = writers_[w->written.writer];
      position_[w] = seq.size();
      seq.push_back(w);
    }
    for (auto& [name, key] : keys_) {
      std::stable_sort(key.bySeq.begin(), key.bySeq.end(),
                       [](const Operation* a, const Operation* b) { return a->written.seq < b->written.seq; });
    }
  }

  const Operation* findWrite(const std::string& key, std::uint64_t seq) const {
    auto it = keys_.find(key);
    if (it == keys_.end()) return nullptr;
    for (const Operation* w : it->second.bySeq) {
      if (w->written.seq == seq) return w;
    }
    return nullptr;
  }

  // The newest acknowledged write of `key` completed strictly before `t` (by `session`
  // only, when given).
  const Operation* latestAckedBefore(const std::string& key, Micros t, std::optional<int> session) const {
    auto it = keys_.find(key);
    if (it == keys_.end()) return nullptr;
    const Operation* best = nullptr;
    for (const Operation* w : it->second.bySeq) {
      if (!w->ok || w->complete >= t) continue;
      if (session && w->session != *session) continue;
      if (best == nullptr || w->written.seq > best->written.seq) best = w;
    }
    return best;
  }

  void add(Condition c, Level level, std::string message, std::vector<std::uint64_t> ops) {
    report_.violations.push_back({c, level, std::move(message), std::move(ops)});
  }

  // The level the read is held to; records a served_level violation when the response
  // claims neither the requested level nor a documented downgrade from it.
  Level effectiveLevel(const Operation& read) {
    auto served = routing::parseLevel(read.servedLevel);
    report_.levels[read.requested].checked[static_cast<std::size_t>(Condition::ServedLevel)]++;
    if (served && *served == read.requested) return read.requested;
    if (served && routing::isStronger(*served, read.requested) && read.downgraded.empty()) {
      return read.requested;  // a rule gave more than asked: the asked-for guarantee still holds
    }
    if (served && routing::isStronger(read.requested, *served)) {
      std::string expected = std::string(toString(read.requested)) + "->" + std::string(toString(*served));
      if (read.downgraded.rfind(expected, 0) == 0) return *served;
    }
    add(Condition::ServedLevel, read.requested,
        "asked for " + std::string(toString(read.requested)) + ", response says X-Consistency: \"" + read.servedLevel +
            "\"" +
            (read.downgraded.empty() ? std::string(" with no X-Consistency-Downgraded")
                                     : ", X-Consistency-Downgraded: \"" + read.downgraded + "\""),
        {read.id});
    return read.requested;
  }

  void checkRead(const Operation& read) {
    if (!read.ok) {
      report_.levels[read.requested].failedReads++;
      return;
    }
    Level level = effectiveLevel(read);
    LevelSummary& summary = report_.levels[level];
    summary.reads++;
    if (read.servedRole == "replica") summary.replicaReads++;
    if (level != read.requested) summary.downgradedTo++;
    auto count = [&](Condition c) { summary.checked[static_cast<std::size_t>(c)]++; };

    std::optional<std::chrono::milliseconds> freshnessBound;
    if (level == Level::Strong) freshnessBound = std::chrono::milliseconds{0};
    if (level == Level::Bounded) freshnessBound = boundFor(read, count);

    for (const ReadValue& value : read.values) {
      if (!checkWritten(read, level, value, count)) continue;
      if (level == Level::Session || level == Level::Strong) checkSession(read, level, value, count);
      if (freshnessBound) checkFresh(read, level, value, *freshnessBound, count);
    }
    if (level != Level::Eventual) checkPrefix(read, level, count);
  }

  template <typename Count>
  bool checkWritten(const Operation& read, Level level, const ReadValue& value, Count& count) {
    count(Condition::WrittenValue);
    if (!value.decodable()) {
      add(Condition::WrittenValue, level, "read " + value.key + " returned a value the verifier never wrote",
          {read.id});
      return false;
    }
    if (!value.present) return true;
    const Operation* w = findWrite(value.key, value.version->seq);
    if (w == nullptr || w->written.writer != value.version->writer) {
      add(Condition::WrittenValue, level,
          "read " + value.key + " returned " + encodeValue(*value.version) + ", which was never written to it",
          {read.id});
      return false;
    }
    if (w->invoke > read.complete) {
      add(Condition::WrittenValue, level,
          "read " + value.key + " returned " + encodeValue(*value.version) + " before the write of it was even sent",
          {read.id, w->id});
      return false;
    }
    return true;
  }

  template <typename Count>
  void checkSession(const Operation& read, Level level, const ReadValue& value, Count& count) {
    // Read-your-writes: the session's own acknowledged writes of this key.
    if (const Operation* own = latestAckedBefore(value.key, read.invoke, read.session)) {
      count(Condition::ReadYourWrites);
      if (value.seq() < own->written.seq) {
        add(Condition::ReadYourWrites, level,
            "session s" + std::to_string(read.session) + " read " + value.key + "=" +
                (value.present ? std::to_string(value.seq()) : std::string("(absent)")) +
                " after its own write of seq " + std::to_string(own->written.seq) + " was acknowledged",
            {read.id, own->id});
      }
    }
    // Monotonic reads: this session's earlier session/strong reads of the key.
    auto& seen = newestSeen_[{read.session, value.key}];
    if (seen.op != nullptr) {
      count(Condition::MonotonicReads);
      if (value.seq() < seen.seq) {
        add(Condition::MonotonicReads, level,
            "session s" + std::to_string(read.session) + " read " + value.key + " seq " + std::to_string(value.seq()) +
                " after having read seq " + std::to_string(seen.seq),
            {read.id, seen.op->id});
      }
    }
    if (seen.op == nullptr || value.seq() >= seen.seq) seen = {value.seq(), &read};
  }

  // The bound a bounded read is checked against: the bound it asked for, or the smaller
  // one the response claims (X-Staleness-Bound-Ms is rounded up by cxproxy, 0 on the primary).
  template <typename Count>
  std::optional<std::chrono::milliseconds> boundFor(const Operation& read, Count& count) {
    if (!read.maxStaleness) return std::nullopt;
    std::chrono::milliseconds asked = *read.maxStaleness;
    count(Condition::BoundHeader);
    long long claimed = -1;
    const std::string& h = read.stalenessBound;
    auto [ptr, ec] = std::from_chars(h.data(), h.data() + h.size(), claimed);
    if (ec != std::errc{} || ptr != h.data() + h.size() || claimed < 0) {
      add(Condition::BoundHeader, Level::Bounded,
          "bounded read (max " + std::to_string(asked.count()) + "ms) answered with X-Staleness-Bound-Ms: \"" + h +
              "\"",
          {read.id});
      return asked;
    }
    if (claimed > asked.count()) {
      add(Condition::BoundHeader, Level::Bounded,
          "bounded read (max " + std::to_string(asked.count()) + "ms) served with a staleness bound of " +
              std::to_string(claimed) + "ms",
          {read.id});
      return asked;
    }
    return std::chrono::milliseconds{claimed};
  }

  template <typename Count>
  void checkFresh(const Operation& read, Level level, const ReadValue& value, std::chrono::milliseconds bound,
                  Count& count) {
    Micros horizon = read.invoke - std::chrono::duration_cast<Micros>(bound);
    const Operation* required = latestAckedBefore(value.key, horizon, std::nullopt);
    if (required == nullptr) return;
    count(Condition::Freshness);
    if (value.seq() < required->written.seq) {
      add(Condition::Freshness, level,
          "read " + value.key + "=" + (value.present ? std::to_string(value.seq()) : std::string("(absent)")) +
              " with bound " + std::to_string(bound.count()) + "ms, but seq " + std::to_string(required->written.seq) +
              " was acknowledged at " + formatMicros(required->complete) + ", " +
              std::to_string((read.invoke - required->complete).count() / 1000) + "ms before the read started",
          {read.id, required->id});
    }
  }

  // For each writer with two or more keys in this read: every key's version must be the
  // writer's last write to it at or before one common point of its sequence.
  template <typename Count>
  void checkPrefix(const Operation& read, Level level, Count& count) {
    if (read.values.size() < 2) return;
    std::map<int, std::vector<const ReadValue*>> byWriter;
    for (const ReadValue& v : read.values) {
      auto it = keys_.find(v.key);
      if (it == keys_.end() || !v.decodable()) continue;
      byWriter[it->second.writer].push_back(&v);
    }
    constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
    for (const auto& [writer, values] : byWriter) {
      if (values.size() < 2) continue;
      const WriterSequence& seq = writers_[writer];
      count(Condition::ConsistentPrefix);
      // latest: the newest write seen; earliest: the first write the read should have
      // seen next for its key (an acknowledged one: an unknown outcome may be lost).
      const Operation* latestSeen = nullptr;
      std::size_t latestPos = 0;
      const Operation* firstMissed = nullptr;
      std::size_t firstMissedPos = kNone;
      for (const ReadValue* v : values) {
        std::size_t from = 0;
        if (v->present) {
          const Operation* w = findWrite(v->key, v->seq());
          if (w == nullptr) continue;  // reported by written_value
          std::size_t pos = position_.at(w);
          if (latestSeen == nullptr || pos > latestPos) latestSeen = w, latestPos = pos;
          from = pos + 1;
        }
        for (std::size_t p = from; p < seq.size(); ++p) {
          if (seq[p]->writeKey == v->key) {
            if (seq[p]->ok && p < firstMissedPos) firstMissed = seq[p], firstMissedPos = p;
            if (seq[p]->ok) break;
          }
        }
      }
      if (latestSeen != nullptr && firstMissed != nullptr && firstMissedPos < latestPos) {
        add(Condition::ConsistentPrefix, level,
            "one read saw " + latestSeen->writeKey + "=" + encodeValue(latestSeen->written) + " but not " +
                firstMissed->writeKey + "=" + encodeValue(firstMissed->written) + ", which writer s" +
                std::to_string(writer) + " wrote (and had acknowledged) before it",
            {read.id, firstMissed->id, latestSeen->id});
      }
    }
  }

  struct Seen {
    std::uint64_t seq = 0;
    const Operation* op = nullptr;
  };

  const History& history_;
  CheckReport report_;
  std::map<std::string, KeyWrites> keys_;
  std::map<int, WriterSequence> writers_;
  std::unordered_map<const Operation*, std::size_t> position_;
  std::map<std::pair<int, std::string>, Seen> newestSeen_;
};

}  // namespace

CheckReport checkHistory(const History& history) { return Checker(history).run(); }

}  // namespace cx::verify
