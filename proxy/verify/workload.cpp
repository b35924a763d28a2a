// cxproxy-verify's sessions: one thread and one keep-alive connection each.
#include "proxy/verify/workload.h"

#include <boost/json.hpp>

#include <algorithm>
#include <random>
#include <thread>

namespace cx::verify {

namespace json = boost::json;

std::vector<std::pair<std::string, std::string>> requestHeaders(const Options& options, Level level,
                                                                const std::string& token) {
  std::vector<std::pair<std::string, std::string>> h;
  h.emplace_back("X-Consistency", std::string(toString(level)));
  if (level == Level::Bounded) h.emplace_back("X-Max-Staleness", std::to_string(options.maxStaleness.count()) + "ms");
  if (!token.empty()) h.emplace_back("X-Session-Token", token);
  if (!options.bearerToken.empty()) h.emplace_back("Authorization", "Bearer " + options.bearerToken);
  return h;
}

namespace {

std::string keyName(const std::string& keyPrefix, int session, char slot) {
  return keyPrefix + "s" + std::to_string(session) + ":" + slot;
}

class Session {
 public:
  Session(const Options& options, const std::string& keyPrefix, int index, Clock::time_point origin)
      : options_(options),
        keyPrefix_(keyPrefix),
        index_(index),
        level_(options.levels[static_cast<std::size_t>(index) % options.levels.size()]),
        origin_(origin),
        http_(options.host, options.port, options.requestTimeout),
        rng_(std::random_device{}() ^ static_cast<unsigned>(index)) {}

  void run(Clock::time_point deadline) {
    bool writing = true;
    std::uint64_t seq = 0;
    std::uniform_int_distribution<int> percent(0, 99);
    std::uniform_int_distribution<int> anySession(0, options_.sessions - 1);
    while (Clock::now() < deadline) {
      int roll = percent(rng_);
      if (writing && roll < 30) {
        ++seq;
        writing = write(keyName(keyPrefix_, index_, 'a'), {index_, seq}) &&
                  write(keyName(keyPrefix_, index_, 'b'), {index_, seq});
        continue;
      }
      int writer = percent(rng_) < 40 ? index_ : anySession(rng_);
      int mgetShare = level_ == Level::Prefix ? 70 : 25;
      if (percent(rng_) < mgetShare) {
        readPair(writer);
      } else {
        readOne(keyName(keyPrefix_, writer, percent(rng_) < 50 ? 'a' : 'b'));
      }
    }
  }

  std::vector<Operation>& operations() { return ops_; }

 private:
  Micros now() const { return std::chrono::duration_cast<Micros>(Clock::now() - origin_); }

  Operation begin(OpKind kind) {
    Operation op;
    op.session = index_;
    op.kind = kind;
    op.requested = level_;
    if (level_ == Level::Bounded && kind == OpKind::Read) op.maxStaleness = options_.maxStaleness;
    op.invoke = now();
    return op;
  }

  HttpReply send(std::string_view method, const std::string& target, std::string_view body) {
    return http_.request(method, target, body, requestHeaders(options_, level_, token_));
  }

  void finish(Operation& op, const HttpReply& reply) {
    op.complete = now();
    op.status = reply.status;
    op.error = reply.status == 0 ? reply.error : (op.ok ? std::string() : reply.body);
    op.servedLevel = reply.header("X-Consistency");
    op.downgraded = reply.header("X-Consistency-Downgraded");
    op.servedRole = reply.header("X-Served-Role");
    op.stalenessBound = reply.header("X-Staleness-Bound-Ms");
    std::string token = reply.header("X-Session-Token");
    op.tokenReturned = !token.empty();
    if (op.ok && !token.empty()) token_ = std::move(token);
    ops_.push_back(std::move(op));
  }

  bool write(const std::string& key, Version version) {
    Operation op = begin(OpKind::Write);
    op.writeKey = key;
    op.written = version;
    HttpReply reply = send("PUT", "/v1/kv/" + encodePathSegment(key), encodeValue(version));
    op.ok = reply.status / 100 == 2;
    bool ok = op.ok;
    finish(op, reply);
    return ok;
  }

  void readOne(const std::string& key) {
    Operation op = begin(OpKind::Read);
    HttpReply reply = send("GET", "/v1/kv/" + encodePathSegment(key), {});
    ReadValue value;
    value.key = key;
    if (reply.status == 200) {
      value.present = true;
      value.raw = reply.body;
      value.version = decodeValue(reply.body);
    }
    op.ok = reply.status == 200 || reply.status == 404;
    op.values.push_back(std::move(value));
    finish(op, reply);
  }

  void readPair(int writer) {
    Operation op = begin(OpKind::Read);
    std::string a = keyName(keyPrefix_, writer, 'a');
    std::string b = keyName(keyPrefix_, writer, 'b');
    json::array argv{"MGET", json::string(a), json::string(b)};
    HttpReply reply = send("POST", "/v1/cmd", json::serialize(argv));
    op.ok = false;
    if (reply.status == 200) {
      boost::system::error_code ec;
      json::value body = json::parse(reply.body, ec);
      const json::value* result = !ec && body.is_object() ? body.as_object().if_contains("result") : nullptr;
      if (result != nullptr && result->is_array() && result->as_array().size() == 2) {
        op.ok = true;
        const auto& items = result->as_array();
        for (std::size_t i = 0; i < 2; ++i) {
          ReadValue value;
          value.key = i == 0 ? a : b;
          if (items[i].is_string()) {
            value.present = true;
            value.raw = std::string(items[i].as_string());
            value.version = decodeValue(value.raw);
          } else if (!items[i].is_null()) {
            value.present = true;
            value.raw = json::serialize(items[i]);
          }
          op.values.push_back(std::move(value));
        }
      }
    }
    if (!op.ok) {
      op.values.clear();
      op.values.push_back({.key = a});
      op.values.push_back({.key = b});
    }
    finish(op, reply);
  }

  const Options& options_;
  const std::string& keyPrefix_;
  int index_;
  Level level_;
  Clock::time_point origin_;
  HttpConnection http_;
  std::mt19937 rng_;
  std::string token_;
  std::vector<Operation> ops_;
};

}  // namespace

std::vector<std::string> workloadKeys(const Options& options, const std::string& keyPrefix) {
  std::vector<std::string> keys;
  for (int i = 0; i < options.sessions; ++i) {
    keys.push_back(keyName(keyPrefix, i, 'a'));
    keys.push_back(keyName(keyPrefix, i, 'b'));
  }
  return keys;
}

History runWorkload(const Options& options, const std::string& keyPrefix, Clock::time_point origin) {
  std::vector<std::unique_ptr<Session>> sessions;
  for (int i = 0; i < options.sessions; ++i) {
    sessions.push_back(std::make_unique<Session>(options, keyPrefix, i, origin));
  }
  auto deadline = Clock::now() + options.duration;
  {
    std::vector<std::jthread> threads;
    for (auto& s : sessions) threads.emplace_back([&s, deadline] { s->run(deadline); });
  }
  History history;
  for (auto& s : sessions) {
    for (auto& op : s->operations()) history.push_back(std::move(op));
  }
  std::stable_sort(history.begin(), history.end(),
                   [](const Operation& a, const Operation& b) { return a.invoke < b.invoke; });
  for (std::size_t i = 0; i < history.size(); ++i) history[i].id = i + 1;
  return history;
}

}  // namespace cx::verify
