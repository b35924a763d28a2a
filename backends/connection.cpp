// Pipelined Redis connection: one writer and one reader coroutine per live socket.
// Replies are matched to calls purely by order, which is what makes sharing safe: the
// reader pops the oldest pending call for every reply, a call whose deadline passed is
// marked abandoned (its replies are still consumed, then dropped), and on any socket
// error every pending call fails before the socket is reused.
#include "backends/connection.h"

#include "backends/replication_info.h"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <string_view>

namespace cx::backends {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
// From this size a command that starts a write is swapped into the buffer, not copied.
constexpr std::size_t kSwapInBytes = 16 * 1024;

std::string_view toString(BackendError error) {
  switch (error) {
    case BackendError::None: return "none";
    case BackendError::Unavailable: return "unavailable";
    case BackendError::ConnectionLost: return "connection_lost";
    case BackendError::Timeout: return "timeout";
    case BackendError::Protocol: return "protocol_error";
  }
  return "unknown";
}

struct Connection::Pending {
  explicit Pending(std::size_t count, std::chrono::steady_clock::time_point due) : remaining(count), deadline(due) {
    replies.reserve(count);
  }
  std::size_t remaining;
  std::chrono::steady_clock::time_point deadline;
  std::vector<RespValue> replies;
  // The suspended caller, resumed exactly once by finish(): directly when the reader
  // completes the call, posted otherwise (timeouts, failures). In an optional:
  // Boost 1.81's any_completion_handler move-assignment wraps the handler in itself
  // endlessly, so it is only ever constructed in place and reset.
  std::optional<asio::any_completion_handler<void(ExecResult)>> waiter;
  BackendError error = BackendError::None;
  std::shared_ptr<Trailer> trailer;  // shared trailer this call waits for (its own replies come first)
  std::shared_ptr<const RespValue> trailerReply;
  // For the Pending of a shared trailer itself: the calls that receive its reply.
  std::vector<std::shared_ptr<Pending>> followers;
  bool ownTrailer = false;                       // the last reply is this call's own trailer (another was open)
  bool completed = false;                        // the caller has been resumed, or is about to be
  bool sent = false;                             // handed to a socket write
  std::chrono::steady_clock::time_point sentAt;  // when it was (valid once sent)
  bool abandoned = false;                        // the caller gave up (deadline); replies are dropped
};

struct Connection::Trailer {
  std::string command;
  std::vector<std::shared_ptr<Pending>> followers;
  std::chrono::steady_clock::time_point deadline{};  // the latest of the followers'
};

Connection::Connection(asio::any_io_executor executor, ConnectionOptions options)
    : executor_(executor),
      options_(std::move(options)),
      socket_(executor),
      writeSignal_(executor),
      backoffTimer_(executor),
      sweeper_(executor) {}

Connection::~Connection() {
  // Callers still suspended here are destroyed, not resumed: the io_context is going away.
  for (auto& call : pending_) call->waiter.reset();
}

void Connection::start() {
  if (started_) return;
  started_ = true;
  asio::co_spawn(
      executor_, [self = shared_from_this()]() -> asio::awaitable<void> { co_await self->runLoop(); }, asio::detached);
}

void Connection::stop() {
  stopped_ = true;
  disconnect("stopped");
  backoffTimer_.cancel();
  sweeper_.cancel();
  wakeConnectWaiters();
}

asio::awaitable<bool> Connection::waitConnected(std::chrono::milliseconds timeout) {
  if (connected_ || stopped_) co_return connected_;
  // Each waiter has its own timer (one shared timer re-armed by a second waiter would
  // wake the first); connecting or stopping cancels them all.
  asio::steady_timer timer(executor_);
  timer.expires_after(timeout);
  connectWaiters_.push_back(&timer);
  co_await timer.async_wait(kUseTuple);
  std::erase(connectWaiters_, &timer);
  co_return connected_;
}

void Connection::wakeConnectWaiters() {
  for (auto* timer : connectWaiters_) timer->cancel();
}

asio::awaitable<ExecResult> Connection::execute(std::string encoded, std::size_t replyCount,
                                                std::chrono::milliseconds timeout) {
  return execute(std::move(encoded), replyCount, timeout, {});
}

asio::awaitable<ExecResult> Connection::execute(std::string encoded, std::size_t replyCount,
                                                std::chrono::milliseconds timeout, std::string_view trailer) {
  // Not a coroutine: the caller awaits submit() itself, one frame less per call.
  return asio::async_initiate<decltype(asio::use_awaitable), void(ExecResult)>(
      [self = shared_from_this(), encoded = std::move(encoded), replyCount, timeout, trailer](auto handler) mutable {
        self->submit(std::move(encoded), replyCount, timeout, trailer, std::move(handler));
      },
      asio::use_awaitable);
}

void Connection::submit(std::string encoded, std::size_t replyCount, std::chrono::milliseconds timeout,
                        std::string_view trailer, asio::any_completion_handler<void(ExecResult)> handler) {
  // A connect is under way (start-up, or a reconnect after a drop): a short wait beats
  // refusing. While backing off after a failed attempt, enqueue() refuses at once.
  if (!connected_ && connecting_ && !stopped_) {
    asio::co_spawn(executor_, executeAfterConnect(std::move(encoded), replyCount, timeout, std::string(trailer)),
                   [handler = std::move(handler)](std::exception_ptr e, ExecResult result) mutable {
                     if (e) result = ExecResult{BackendError::ConnectionLost, {}, {}};  // not expected: it never throws
                     std::move(handler)(std::move(result));
                   });
    return;
  }
  enqueue(std::move(encoded), replyCount, timeout, trailer, std::move(handler));
}

asio::awaitable<ExecResult> Connection::executeAfterConnect(std::string encoded, std::size_t replyCount,
                                                            std::chrono::milliseconds timeout, std::string trailer) {
  co_await waitConnected(std::min(timeout, options_.connectTimeout));
  if (!connected_) co_return ExecResult{BackendError::Unavailable, {}, {}};
  co_return co_await execute(std::move(encoded), replyCount, timeout, trailer);
}

void Connection::enqueue(std::string encoded, std::size_t replyCount, std::chrono::milliseconds timeout,
                         std::string_view trailer, asio::any_completion_handler<void(ExecResult)> handler) {
  if (!connected_) {
    asio::post(executor_, [handler = std::move(handler)]() mutable {
      std::move(handler)(ExecResult{BackendError::Unavailable, {}, {}});
    });
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const bool ownTrailer = !trailer.empty() && openTrailer_ && openTrailer_->command != trailer;
  if (ownTrailer) {
    // Another trailer is already open for this write: this call sends its own.
    encoded.append(trailer);
    ++replyCount;
  }
  auto call = std::make_shared<Pending>(replyCount, deadline);
  call->ownTrailer = ownTrailer;
  call->waiter.emplace(std::move(handler));
  if (!trailer.empty() && !ownTrailer) {
    if (!openTrailer_) {
      openTrailer_ = std::make_shared<Trailer>();
      openTrailer_->command = trailer;
      openTrailer_->followers.reserve(16);  // one allocation for a typical write's calls
    }
    openTrailer_->followers.push_back(call);
    openTrailer_->deadline = std::max(openTrailer_->deadline, deadline);
    call->trailer = openTrailer_;
  }
  pending_.push_back(call);
  ++queued_;
  if (outBuffer_.empty() && encoded.size() >= kSwapInBytes) {
    // A large command (a PUT of a big value) that starts a write takes the buffer's place
    // instead of being copied into it: the value is then copied once on its way from the
    // HTTP body to the socket (into `encoded`). Small ones are appended, so the buffer's
    // capacity stays (it trades places with writingBuffer_) and nothing is allocated.
    outBuffer_.swap(encoded);
  } else {
    outBuffer_.append(encoded);
  }
  writeSignal_.cancel();
  armSweeper(deadline);
}

std::chrono::steady_clock::time_point Connection::oldestWaitingSince() const {
  // Queued calls are the newest in pending_, so the front is the oldest one sent.
  return waiting() > 0 ? pending_.front()->sentAt : std::chrono::steady_clock::time_point::max();
}

void Connection::finish(Pending& call, BackendError error, bool resumeNow) {
  if (call.completed) return;
  call.completed = true;
  call.error = error;
  if (!call.followers.empty()) {
    // A shared trailer: its reply (or failure) completes every call waiting for it.
    std::shared_ptr<const RespValue> reply;
    if (error == BackendError::None && !call.replies.empty()) {
      reply = std::make_shared<const RespValue>(std::move(call.replies.front()));
    }
    for (auto& follower : call.followers) {
      follower->trailerReply = reply;
      finish(*follower, reply ? BackendError::None : (error == BackendError::None ? BackendError::Protocol : error),
             resumeNow);
    }
    call.followers.clear();
    return;
  }
  if (!call.waiter) return;
  ExecResult result;
  result.error = error;
  if (error == BackendError::None) {
    if (call.ownTrailer) {
      result.trailer = std::make_shared<const RespValue>(std::move(call.replies.back()));
      call.replies.pop_back();
    } else {
      result.trailer = std::move(call.trailerReply);
    }
    result.replies = std::move(call.replies);
  }
  if (resumeNow) {
    // From the reader, on the connection's own thread: the caller runs now, in the
    // reader's turn, instead of after a posted hop through the scheduler's queue.
    auto waiter = std::move(*call.waiter);
    call.waiter.reset();
    std::move(waiter)(std::move(result));
    return;
  }
  asio::post(executor_, [waiter = std::move(*call.waiter), result = std::move(result)]() mutable {
    std::move(waiter)(std::move(result));
  });
  call.waiter.reset();
}

// One timer per connection instead of one per call: it is armed for the earliest
// deadline it knows of, and re-armed only for an earlier one. Calls usually share one
// timeout, so deadlines arrive in order and most calls touch no timer at all.
void Connection::armSweeper(std::chrono::steady_clock::time_point deadline) {
  if (sweeperArmed_ && deadline >= sweeperAt_) return;
  sweeperArmed_ = true;
  sweeperAt_ = deadline;
  const std::uint64_t generation = ++sweeperGeneration_;
  sweeper_.expires_at(deadline);
  sweeper_.async_wait([self = shared_from_this(), generation](boost::system::error_code) {
    if (generation == self->sweeperGeneration_) self->sweep();
  });
}

void Connection::sweep() {
  sweeperArmed_ = false;
  const auto now = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::time_point> next;
  for (auto& call : pending_) {
    if (call->completed) continue;
    if (call->deadline <= now) {
      call->abandoned = true;  // its replies, if they come, are consumed and dropped
      finish(*call, BackendError::Timeout);
    } else if (!next || call->deadline < *next) {
      next = call->deadline;
    }
  }
  if (next) armSweeper(*next);
}

asio::awaitable<void> Connection::runLoop() {
  auto self = shared_from_this();  // keep alive while the loop runs
  auto backoff = options_.backoffMin;
  while (!stopped_) {
    connecting_ = true;
    const bool ok = co_await connectOnce();
    connecting_ = false;
    if (ok) {
      connected_ = true;
      lastReportedFailure_.clear();
      backoff = options_.backoffMin;
      wakeConnectWaiters();
      co_await (readLoop() || writeLoop());
      disconnect(lastError_);
      continue;
    }
    wakeConnectWaiters();  // the attempt failed: waiters get Unavailable now
    if (!stopped_ && lastError_ != lastReportedFailure_) {
      lastReportedFailure_ = lastError_;
      if (options_.onConnectFailed) options_.onConnectFailed(lastError_);
    }
    if (stopped_) break;
    backoffTimer_.expires_after(backoff);
    co_await backoffTimer_.async_wait(kUseTuple);
    backoff = std::min(backoff * 2, options_.backoffMax);
  }
}

asio::awaitable<bool> Connection::connectOnce() {
  tcp::resolver resolver(executor_);
  auto [rerr, endpoints] = co_await resolver.async_resolve(options_.host, std::to_string(options_.port), kUseTuple);
  if (rerr) {
    lastError_ = "resolve " + options_.host + ": " + rerr.message();
    co_return false;
  }
  socket_ = tcp::socket(executor_);
  asio::steady_timer deadline(executor_);
  deadline.expires_after(options_.connectTimeout);
  auto outcome = co_await (asio::async_connect(socket_, endpoints, kUseTuple) || deadline.async_wait(kUseTuple));
  if (outcome.index() == 1) {
    lastError_ = "connect timeout";
    socket_.close();
    co_return false;
  }
  auto [cerr, ep] = std::get<0>(outcome);
  if (cerr) {
    lastError_ = "connect: " + cerr.message();
    socket_.close();
    co_return false;
  }
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  reader_.emplace();
  tls_.reset();
  if (options_.tls && !co_await startTls()) {
    socket_.close(ignored);
    co_return false;
  }

  if (!options_.password.empty() || !options_.username.empty()) {
    // The reply names the failure (WRONGPASS ...) and never echoes the secret.
    std::string auth;
    if (options_.username.empty()) {
      const std::array<std::string_view, 2> argv{"AUTH", options_.password};
      auth = encodeCommand(argv);
    } else {
      const std::array<std::string_view, 3> argv{"AUTH", options_.username, options_.password};
      auth = encodeCommand(argv);
    }
    auto reply = co_await handshake(std::move(auth));
    if (!reply || reply->isError()) {
      lastError_ = reply ? "auth refused: " + reply->str : "auth: " + lastError_;
      socket_.close();
      co_return false;
    }
  }
  if (options_.trackReplid) {
    // The replication history this server is in, paired with every offset read on this
    // connection: a restarted primary comes back with a new one on a new connection.
    static constexpr std::array<std::string_view, 2> kInfo{"INFO", "replication"};
    auto reply = co_await handshake(encodeCommand(kInfo));
    if (!reply || !reply->isString()) {
      lastError_ = reply ? "INFO replication refused: " + reply->str : "INFO replication: " + lastError_;
      socket_.close();
      co_return false;
    }
    replid_ = std::string(infoField(reply->str, "master_replid").value_or(""));
  }
  co_return true;
}

asio::awaitable<bool> Connection::startTls() {
  const auto& settings = options_.tls->settings();
  const std::string& name = settings.serverName.empty() ? options_.host : settings.serverName;
  tls_.emplace(socket_, options_.tls->context());
  std::string error;
  if (!prepareClientHandshake(*tls_, *options_.tls, options_.host, &error)) {
    lastError_ = error;
    co_return false;
  }
  asio::steady_timer deadline(executor_);
  deadline.expires_after(options_.connectTimeout);
  auto outcome =
      co_await (tls_->async_handshake(asio::ssl::stream_base::client, kUseTuple) || deadline.async_wait(kUseTuple));
  if (outcome.index() == 1) {
    lastError_ = "TLS handshake: no answer within the connect timeout";
    co_return false;
  }
  auto [ec] = std::get<0>(outcome);
  if (ec) {
    lastError_ = describeHandshakeFailure(*tls_, ec, name);
    co_return false;
  }
  co_return true;
}

asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> Connection::readSome(asio::mutable_buffer buffer) {
  if (tls_) return tls_->async_read_some(buffer, kUseTuple);
  return socket_.async_read_some(buffer, kUseTuple);
}

asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> Connection::writeAll(asio::const_buffer buffer) {
  if (tls_) return asio::async_write(*tls_, buffer, kUseTuple);
  return asio::async_write(socket_, buffer, kUseTuple);
}

asio::awaitable<std::optional<RespValue>> Connection::handshake(std::string request) {
  // One command before the pipeline starts, bounded by the connect timeout so a server
  // that accepts but never answers (SIGSTOP) cannot hold the connection forever.
  asio::steady_timer deadline(executor_);
  deadline.expires_after(options_.connectTimeout);
  auto exchange = [&]() -> asio::awaitable<std::optional<RespValue>> {
    auto [werr, n] = co_await writeAll(asio::buffer(request));
    (void)n;
    if (werr) {
      lastError_ = werr.message();
      co_return std::nullopt;
    }
    RespValue reply;
    std::array<char, 4096> buf;
    for (;;) {
      auto status = reader_->next(reply);
      if (status == RespReader::Status::Reply) co_return reply;
      if (status == RespReader::Status::ProtocolError) {
        lastError_ = "protocol error";
        co_return std::nullopt;
      }
      auto [rerr, got] = co_await readSome(asio::buffer(buf));
      if (rerr) {
        lastError_ = rerr.message();
        co_return std::nullopt;
      }
      reader_->feed(buf.data(), got);
    }
  };
  auto outcome = co_await (exchange() || deadline.async_wait(kUseTuple));
  if (outcome.index() == 1) {
    lastError_ = "no answer within the connect timeout";
    co_return std::nullopt;
  }
  co_return std::get<0>(std::move(outcome));
}

asio::awaitable<void> Connection::writeLoop() {
  for (;;) {
    if (outBuffer_.empty()) {
      writeSignal_.expires_at(asio::steady_timer::time_point::max());
      auto [ec] = co_await writeSignal_.async_wait(kUseTuple);
      if (!connected_ || (ec && ec != asio::error::operation_aborted)) co_return;
      if (outBuffer_.empty()) {
        if (stopped_) co_return;
        continue;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (openTrailer_) {
      // The shared trailer leaves after every call that asked for it.
      auto trailer = std::move(openTrailer_);
      auto call = std::make_shared<Pending>(1, trailer->deadline);
      call->followers = std::move(trailer->followers);
      outBuffer_.append(trailer->command);
      pending_.push_back(std::move(call));
    }
    writingBuffer_.clear();
    std::swap(outBuffer_, writingBuffer_);
    for (auto it = pending_.rbegin(); it != pending_.rend() && !(*it)->sent; ++it) {
      (*it)->sent = true;
      (*it)->sentAt = now;
    }
    queued_ = 0;
    auto [ec, n] = co_await writeAll(asio::buffer(writingBuffer_));
    (void)n;
    if (ec) {
      lastError_ = "write: " + ec.message();
      co_return;
    }
  }
}

asio::awaitable<void> Connection::readLoop() {
  std::array<char, 16 * 1024> buf;
  RespValue reply;
  for (;;) {
    auto [ec, n] = co_await readSome(asio::buffer(buf));
    if (ec) {
      lastError_ = ec == asio::error::eof ? "connection closed by server" : "read: " + ec.message();
      co_return;
    }
    // hiredis moves its unread bytes to the front of its buffer each time it has
    // consumed 1 KiB, so a 16 KiB read fed whole costs about 16 such moves of up to 16 KiB.
    // Fed in 1 KiB slices, each taken out before the next goes in, every byte moves about
    // once.
    constexpr std::size_t kFeedSlice = 1024;
    for (std::size_t fed = 0; fed < n;) {
      const std::size_t slice = std::min(kFeedSlice, n - fed);
      reader_->feed(buf.data() + fed, slice);
      fed += slice;
      for (;;) {
        auto status = reader_->next(reply);
        if (status == RespReader::Status::NeedMore) break;
        if (status == RespReader::Status::ProtocolError || pending_.empty()) {
          lastError_ = pending_.empty() ? "unsolicited reply" : "protocol error";
          failAll(BackendError::Protocol);
          co_return;
        }
        auto& front = pending_.front();
        if (!front->abandoned) front->replies.push_back(std::move(reply));
        if (--front->remaining == 0) {
          // Off the queue first: the caller resumes inside finish() and may enqueue more.
          auto call = std::move(front);
          pending_.pop_front();
          // A call with a shared trailer completes when the trailer's reply arrives.
          if (call->trailer) {
            call->trailer.reset();
            continue;
          }
          const auto generation = generation_;
          finish(*call, BackendError::None, /*resumeNow=*/true);
          if (generation != generation_) co_return;  // a resumed caller stopped the connection
        }
      }
    }
  }
}

void Connection::failAll(BackendError error) {
  auto calls = std::move(pending_);
  pending_.clear();
  queued_ = 0;
  openTrailer_.reset();  // its followers are in `calls`, none of it was sent
  for (auto& call : calls) finish(*call, call->sent ? error : BackendError::Unavailable);
}

void Connection::disconnect(const std::string& reason) {
  lastError_ = reason;
  connected_ = false;
  ++generation_;
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  outBuffer_.clear();
  writeSignal_.cancel();
  failAll(BackendError::ConnectionLost);
}

}  // namespace cx::backends
