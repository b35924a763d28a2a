// Sentinel discovery. Per configured Sentinel: a pipelined Connection for the refresh
// (SENTINEL master, get-master-addr-by-name, replicas in one write) and a subscription
// on a socket of its own (a subscribed connection receives pushes, which Connection would
// take for unsolicited replies). Every event about the monitored master triggers a
// refresh of every Sentinel; so does a (re)subscription, and a timer every
// refreshInterval, so an event lost with a dropped subscription is caught by the next
// re-read. Answers arrive Sentinel by Sentinel and the membership is recombined after
// each one: a Sentinel that hangs delays nothing.
#include "backends/sentinel.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>

#include "backends/connection.h"
#include "backends/tls_client.h"

namespace cx::backends {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// The channels Sentinel publishes that can change the membership or the primary.
constexpr std::array<std::string_view, 17> kChannels{"+switch-master",
                                                     "+sdown",
                                                     "-sdown",
                                                     "+odown",
                                                     "-odown",
                                                     "+slave",
                                                     "+reboot",
                                                     "-reboot",
                                                     "+failover-end",
                                                     "+promoted-slave",
                                                     "+convert-to-slave",
                                                     "+role-change",
                                                     "-role-change",
                                                     "+slave-reconf-done",
                                                     "+failover-state-reconf-slaves",
                                                     "+reset-master",
                                                     "+failover-end-for-timeout"};

std::optional<std::uint16_t> parsePort(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// A flat key/value array (RESP2 maps) as key -> value.
std::map<std::string_view, std::string_view> fields(const RespValue& v) {
  std::map<std::string_view, std::string_view> out;
  if (v.type != RespType::Array) return out;
  for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2) {
    if (v.elements[i].isString() && v.elements[i + 1].isString()) out[v.elements[i].str] = v.elements[i + 1].str;
  }
  return out;
}

bool hasFlag(std::string_view flags, std::string_view flag) {
  while (!flags.empty()) {
    auto comma = flags.find(',');
    if (flags.substr(0, comma) == flag) return true;
    if (comma == std::string_view::npos) break;
    flags.remove_prefix(comma + 1);
  }
  return false;
}

// Does an event payload concern `master`? Instance events read
// "<type> <name> <ip> <port> @ <master> <ip> <port>", master events "master <name> ...",
// +switch-master "<name> <old ip> <old port> <new ip> <new port>".
bool mentions(std::string_view payload, std::string_view master) {
  std::size_t pos = 0;
  while (pos < payload.size()) {
    auto space = payload.find(' ', pos);
    auto word = payload.substr(pos, space == std::string_view::npos ? std::string_view::npos : space - pos);
    if (word == master) return true;
    if (space == std::string_view::npos) break;
    pos = space + 1;
  }
  return false;
}

}  // namespace

std::optional<NodeAddress> parseNodeAddress(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto p = parsePort(port);
  if (host.empty() || !p) return std::nullopt;
  return NodeAddress{std::string(host), *p};
}

bool Membership::anySentinelUp() const {
  return std::any_of(sentinels.begin(), sentinels.end(), [](const SentinelState& s) { return s.up; });
}

std::optional<SentinelView> parseSentinelReplies(const RespValue& master, const RespValue& addr,
                                                 const RespValue& replicas, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<SentinelView> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  if (master.isError()) return fail("SENTINEL master: " + master.str);
  if (addr.isError()) return fail("SENTINEL get-master-addr-by-name: " + addr.str);
  if (replicas.isError()) return fail("SENTINEL replicas: " + replicas.str);
  if (addr.isNil()) return fail("the Sentinel does not monitor this master");
  auto m = fields(master);
  if (m.empty() || addr.type != RespType::Array || addr.elements.size() != 2 || !addr.elements[0].isString() ||
      !addr.elements[1].isString() || replicas.type != RespType::Array) {
    return fail("unexpected reply to SENTINEL master/get-master-addr-by-name/replicas");
  }
  SentinelView view;
  auto epoch = m.find("config-epoch");
  if (epoch != m.end()) {
    std::from_chars(epoch->second.data(), epoch->second.data() + epoch->second.size(), view.configEpoch);
  }
  auto port = parsePort(addr.elements[1].str);
  if (!port || addr.elements[0].str.empty()) return fail("malformed master address from the Sentinel");
  view.primary = NodeAddress{addr.elements[0].str, *port};
  auto flags = m.find("flags");
  if (flags != m.end()) {
    view.primaryDown = hasFlag(flags->second, "s_down") || hasFlag(flags->second, "o_down");
    view.failoverInProgress = hasFlag(flags->second, "failover_in_progress");
  }
  for (const RespValue& r : replicas.elements) {
    auto f = fields(r);
    auto ip = f.find("ip");
    auto rp = f.find("port");
    if (ip == f.end() || rp == f.end()) continue;
    auto p = parsePort(rp->second);
    if (!p || ip->second.empty()) continue;
    SentinelView::Replica replica{NodeAddress{std::string(ip->second), *p}, false};
    auto rf = f.find("flags");
    if (rf != f.end()) {
      replica.down =
          hasFlag(rf->second, "s_down") || hasFlag(rf->second, "o_down") || hasFlag(rf->second, "disconnected");
    }
    if (replica.address == *view.primary) continue;  // mid-failover: listed both ways
    view.replicas.push_back(std::move(replica));
  }
  return view;
}

void combineViews(Membership& membership) {
  const SentinelView* best = nullptr;
  for (const auto& s : membership.sentinels) {
    if (s.view && s.view->primary && (!best || s.view->configEpoch > best->configEpoch)) best = &*s.view;
  }
  if (!best) return;  // nothing known yet (or ever): keep what we had
  const std::uint64_t epoch = best->configEpoch;
  // The primary most views at that epoch name; the first configured wins a tie.
  std::vector<std::pair<NodeAddress, int>> votes;
  for (const auto& s : membership.sentinels) {
    if (!s.view || !s.view->primary || s.view->configEpoch != epoch) continue;
    auto it = std::find_if(votes.begin(), votes.end(), [&](const auto& v) { return v.first == *s.view->primary; });
    if (it == votes.end())
      votes.emplace_back(*s.view->primary, 1);
    else
      ++it->second;
  }
  auto winner =
      std::max_element(votes.begin(), votes.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  NodeAddress primary = winner->first;
  std::vector<SentinelView::Replica> replicas;
  for (const auto& s : membership.sentinels) {
    if (!s.view || s.view->configEpoch != epoch) continue;
    for (const auto& r : s.view->replicas) {
      if (r.address == primary) continue;
      auto it = std::find_if(replicas.begin(), replicas.end(), [&](const auto& x) { return x.address == r.address; });
      if (it == replicas.end()) {
        replicas.push_back(r);
      } else if (s.up) {
        it->down = it->down && r.down;  // down only if every Sentinel that answers says so
      }
    }
  }
  // A replica dropped from the winning views (SENTINEL RESET) leaves; the old primary
  // of a failover stays, listed as a replica by the Sentinels until it is reset.
  std::sort(replicas.begin(), replicas.end(), [](const auto& a, const auto& b) {
    return std::tie(a.address.host, a.address.port) < std::tie(b.address.host, b.address.port);
  });
  membership.configEpoch = epoch;
  membership.primary = std::move(primary);
  membership.replicas = std::move(replicas);
}

struct SentinelClient::Impl : std::enable_shared_from_this<Impl> {
  struct Node {
    std::string configured;
    std::optional<NodeAddress> address;
    std::shared_ptr<Connection> connection;
    std::optional<tcp::socket> subscription;
    std::unique_ptr<TlsStream> subscriptionTls;  // over `subscription`, with redis.tls
    bool refreshing = false;
    bool refreshAgain = false;
  };

  asio::any_io_executor executor;
  SentinelSettings settings;
  Listener listener;
  Membership membership;
  std::vector<Node> nodes;
  asio::steady_timer refreshTimer;
  bool stopped = false;
  std::string request;

  Impl(asio::any_io_executor ex, SentinelSettings s, Listener l)
      : executor(ex), settings(std::move(s)), listener(std::move(l)), refreshTimer(ex) {
    const std::string& name = settings.master;
    const std::array<std::string_view, 3> masterCmd{"SENTINEL", "master", name};
    const std::array<std::string_view, 3> addrCmd{"SENTINEL", "get-master-addr-by-name", name};
    const std::array<std::string_view, 3> replicasCmd{"SENTINEL", "replicas", name};
    appendCommand(request, masterCmd);
    appendCommand(request, addrCmd);
    appendCommand(request, replicasCmd);
    for (const auto& a : settings.addresses) {
      Node node;
      node.configured = a;
      node.address = parseNodeAddress(a);
      SentinelState state;
      state.address = a;
      state.lastError = node.address ? "not asked yet" : "malformed address";
      if (node.address) {
        ConnectionOptions co;
        co.host = node.address->host;
        co.port = node.address->port;
        co.username = settings.username;
        co.password = settings.password;
        co.tls = settings.tls;
        co.connectTimeout = settings.connectTimeout;
        co.backoffMax = settings.refreshInterval;
        node.connection = std::make_shared<Connection>(executor, co);
      }
      nodes.push_back(std::move(node));
      membership.sentinels.push_back(std::move(state));
    }
  }

  void start() {
    auto self = shared_from_this();
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (!nodes[i].connection) continue;
      nodes[i].connection->start();
      if (settings.subscribe) asio::co_spawn(executor, subscribeLoop(i), asio::detached);
    }
    asio::co_spawn(executor, refreshLoop(), asio::detached);
  }

  void stop() {
    stopped = true;
    refreshTimer.cancel();
    for (auto& n : nodes) {
      if (n.connection) n.connection->stop();
      if (n.subscription) {
        boost::system::error_code ignored;
        n.subscription->close(ignored);
      }
    }
  }

  void refreshNow() {
    if (stopped) return;
    for (std::size_t i = 0; i < nodes.size(); ++i) refreshOne(i);
  }

  void refreshOne(std::size_t i) {
    Node& node = nodes[i];
    if (!node.connection) return;
    if (node.refreshing) {
      node.refreshAgain = true;  // an answer already on its way may predate the event
      return;
    }
    node.refreshing = true;
    asio::co_spawn(executor, askOne(i), asio::detached);
  }

  asio::awaitable<void> refreshLoop() {
    auto self = shared_from_this();
    while (!stopped) {
      refreshNow();
      refreshTimer.expires_after(settings.refreshInterval);
      co_await refreshTimer.async_wait(kUseTuple);
    }
  }

  asio::awaitable<void> askOne(std::size_t i) {
    auto self = shared_from_this();
    for (;;) {
      Node& node = nodes[i];
      node.refreshAgain = false;
      auto result = co_await node.connection->execute(request, 3, settings.commandTimeout);
      if (stopped) co_return;
      SentinelState& state = membership.sentinels[i];
      bool changed = false;
      if (result.ok()) {
        std::string error;
        auto view = parseSentinelReplies(result.replies[0], result.replies[1], result.replies[2], &error);
        if (view) {
          // A Sentinel's own view changing is news even when the combined one is not:
          // /v1/status shows each Sentinel's epoch and primary.
          changed = !state.up || !state.view || state.view->configEpoch != view->configEpoch ||
                    state.view->primary != view->primary;
          state.up = true;
          state.lastError.clear();
          state.lastAnswer = Clock::now();
          state.view = std::move(view);
        } else {
          changed = state.up;
          state.up = false;
          state.lastError = error;
        }
      } else {
        changed = state.up;
        state.up = false;
        state.lastError = std::string(toString(result.error)) + ": " + node.connection->lastError();
      }
      publish(changed);
      if (!nodes[i].refreshAgain || stopped) break;
    }
    nodes[i].refreshing = false;
  }

  void publish(bool sentinelsChanged) {
    auto before = std::make_tuple(membership.configEpoch, membership.primary, membership.replicas.size());
    std::vector<std::pair<NodeAddress, bool>> oldReplicas;
    for (const auto& r : membership.replicas) oldReplicas.emplace_back(r.address, r.down);
    combineViews(membership);
    std::vector<std::pair<NodeAddress, bool>> newReplicas;
    for (const auto& r : membership.replicas) newReplicas.emplace_back(r.address, r.down);
    bool changed = sentinelsChanged ||
                   before != std::make_tuple(membership.configEpoch, membership.primary, membership.replicas.size()) ||
                   oldReplicas != newReplicas;
    if (!changed) return;
    ++membership.version;
    if (listener) listener(membership);
  }

  void setSubscribed(std::size_t i, bool subscribed) {
    if (membership.sentinels[i].subscribed == subscribed) return;
    membership.sentinels[i].subscribed = subscribed;
    ++membership.version;
    if (listener) listener(membership);
  }

  // The subscription's reads and writes, through TLS when it is on.
  static asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> subWrite(Node& node,
                                                                                      asio::const_buffer b) {
    if (node.subscriptionTls) co_return co_await asio::async_write(*node.subscriptionTls, b, kUseTuple);
    co_return co_await asio::async_write(*node.subscription, b, kUseTuple);
  }
  static asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> subRead(Node& node,
                                                                                     asio::mutable_buffer b) {
    if (node.subscriptionTls) co_return co_await node.subscriptionTls->async_read_some(b, kUseTuple);
    co_return co_await node.subscription->async_read_some(b, kUseTuple);
  }

  // One command on the subscription socket before it subscribes (AUTH).
  static asio::awaitable<std::optional<RespValue>> exchange(Node& node, RespReader& reader,
                                                            const std::string& command) {
    auto [werr, n] = co_await subWrite(node, asio::buffer(command));
    (void)n;
    if (werr) co_return std::nullopt;
    std::array<char, 1024> buf;
    RespValue reply;
    for (;;) {
      auto status = reader.next(reply);
      if (status == RespReader::Status::Reply) co_return reply;
      if (status == RespReader::Status::ProtocolError) co_return std::nullopt;
      auto [rerr, got] = co_await subRead(node, asio::buffer(buf));
      if (rerr) co_return std::nullopt;
      reader.feed(buf.data(), got);
    }
  }

  asio::awaitable<bool> connectSubscription(std::size_t i, RespReader& reader) {
    Node& node = nodes[i];
    tcp::resolver resolver(executor);
    auto [rerr, endpoints] =
        co_await resolver.async_resolve(node.address->host, std::to_string(node.address->port), kUseTuple);
    if (rerr || stopped) co_return false;
    node.subscriptionTls.reset();  // refers to the socket about to be replaced
    node.subscription.emplace(executor);
    asio::steady_timer deadline(executor);
    deadline.expires_after(settings.connectTimeout);
    auto outcome =
        co_await (asio::async_connect(*node.subscription, endpoints, kUseTuple) || deadline.async_wait(kUseTuple));
    if (outcome.index() == 1) co_return false;
    if (auto [cerr, ep] = std::get<0>(outcome); cerr) co_return false;
    auto handshake = [&]() -> asio::awaitable<bool> {
      if (settings.tls) {
        node.subscriptionTls = std::make_unique<TlsStream>(*node.subscription, settings.tls->context());
        std::string error;
        if (!prepareClientHandshake(*node.subscriptionTls, *settings.tls, node.address->host, &error)) co_return false;
        auto [herr] = co_await node.subscriptionTls->async_handshake(asio::ssl::stream_base::client, kUseTuple);
        if (herr) co_return false;
      }
      if (!settings.password.empty()) {
        const std::array<std::string_view, 3> withUser{"AUTH", settings.username, settings.password};
        const std::array<std::string_view, 2> passwordOnly{"AUTH", settings.password};
        auto reply = co_await exchange(
            node, reader, settings.username.empty() ? encodeCommand(passwordOnly) : encodeCommand(withUser));
        if (!reply || reply->isError()) co_return false;
      }
      std::vector<std::string_view> argv{"SUBSCRIBE"};
      argv.insert(argv.end(), kChannels.begin(), kChannels.end());
      auto encoded = encodeCommand(argv);
      auto [werr, n] = co_await subWrite(node, asio::buffer(encoded));
      (void)n;
      co_return !werr;
    };
    deadline.expires_after(settings.connectTimeout);
    auto done = co_await (handshake() || deadline.async_wait(kUseTuple));
    co_return done.index() == 0 && std::get<0>(done);
  }

  // Reads pushes until the socket fails or a PING goes unanswered for a whole interval
  // (a Sentinel frozen with its socket open sends nothing, not even an error).
  asio::awaitable<void> readSubscription(std::size_t i, RespReader& reader, bool& pongPending) {
    std::array<char, 4096> buf;
    RespValue msg;
    for (;;) {
      for (;;) {
        auto status = reader.next(msg);
        if (status == RespReader::Status::NeedMore) break;
        if (status == RespReader::Status::ProtocolError) co_return;
        onPush(i, msg, pongPending);
      }
      auto [ec, n] = co_await subRead(nodes[i], asio::buffer(buf));
      if (ec || stopped) co_return;
      reader.feed(buf.data(), n);
    }
  }

  asio::awaitable<void> pingSubscription(std::size_t i, bool& pongPending) {
    static const std::string kPing = [] {
      const std::array<std::string_view, 1> argv{"PING"};
      return encodeCommand(argv);
    }();
    asio::steady_timer timer(executor);
    for (;;) {
      timer.expires_after(settings.refreshInterval);
      co_await timer.async_wait(kUseTuple);
      if (stopped || pongPending) co_return;  // the previous PING is still unanswered
      pongPending = true;
      auto [ec, n] = co_await subWrite(nodes[i], asio::buffer(kPing));
      (void)n;
      if (ec) co_return;
    }
  }

  void onPush(std::size_t i, const RespValue& msg, bool& pongPending) {
    if (msg.type != RespType::Array || msg.elements.empty() || !msg.elements[0].isString()) return;
    const std::string& kind = msg.elements[0].str;
    if (kind == "pong") {
      pongPending = false;
      return;
    }
    if (kind == "subscribe") {
      // Subscribed to the last channel: from now on no event is missed; re-read what
      // may have changed while it was not.
      if (msg.elements.size() >= 3 && msg.elements[2].type == RespType::Integer &&
          msg.elements[2].integer == static_cast<long long>(kChannels.size())) {
        setSubscribed(i, true);
        refreshNow();
      }
      return;
    }
    if (kind != "message" || msg.elements.size() < 3) return;
    const std::string& channel = msg.elements[1].str;
    const std::string& payload = msg.elements[2].str;
    if (!mentions(payload, settings.master)) return;
    if (channel == "+switch-master") membership.lastSwitchMasterAt = Clock::now();
    refreshNow();
  }

  asio::awaitable<void> subscribeLoop(std::size_t i) {
    auto self = shared_from_this();
    auto backoff = std::chrono::milliseconds{50};
    asio::steady_timer timer(executor);
    while (!stopped) {
      RespReader reader;
      bool pongPending = false;
      if (co_await connectSubscription(i, reader)) {
        backoff = std::chrono::milliseconds{50};
        co_await (readSubscription(i, reader, pongPending) || pingSubscription(i, pongPending));
      }
      if (nodes[i].subscription) {
        boost::system::error_code ignored;
        nodes[i].subscription->close(ignored);
      }
      if (stopped) co_return;
      setSubscribed(i, false);
      refreshOne(i);  // whatever it published while we were not listening
      timer.expires_after(backoff);
      co_await timer.async_wait(kUseTuple);
      backoff = std::min(backoff * 2, settings.refreshInterval);
    }
  }
};

SentinelClient::SentinelClient(asio::any_io_executor executor, SentinelSettings settings, Listener listener)
    : impl_(std::make_shared<Impl>(executor, std::move(settings), std::move(listener))) {}

SentinelClient::~SentinelClient() { impl_->stop(); }

void SentinelClient::start() { impl_->start(); }
void SentinelClient::stop() { impl_->stop(); }
void SentinelClient::refreshNow() { impl_->refreshNow(); }
const Membership& SentinelClient::membership() const { return impl_->membership; }

}  // namespace cx::backends
