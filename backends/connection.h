// A pipelined, reconnecting connection to one Redis server, owned by one io_context.
// Many coroutines share it: each call enqueues its commands (which leave together in
// the next write, never interleaved with another call's) and waits for its replies,
// which Redis sends in order. A dropped connection fails every pending call; no call is
// ever completed with another call's reply.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "backends/resp.h"
#include "backends/tls_client.h"

namespace cx::backends {

enum class BackendError : std::uint8_t {
  None,
  Unavailable,     // not connected (connecting or backing off); nothing was sent
  ConnectionLost,  // dropped after the commands were sent: outcome unknown
  Timeout,         // deadline passed before every reply arrived: outcome unknown
  Protocol,        // the server sent bytes that are not RESP
};
std::string_view toString(BackendError error);

struct ConnectionOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string username;  // Redis ACL user: AUTH username password on connect
  std::string password;  // AUTH on connect when non-empty (or with a username)
  // TLS to the server when set (README "Security"); a failed handshake or verification
  // fails the attempt, which never falls back to plain TCP.
  std::shared_ptr<TlsClientContext> tls;
  bool trackReplid = false;  // ask INFO replication on connect; see replid()
  std::chrono::milliseconds connectTimeout{1000};
  std::chrono::milliseconds backoffMin{50};
  std::chrono::milliseconds backoffMax{2000};
  // Called on the connection's executor when a connect attempt fails with another error
  // than the previous failed attempt (a success resets it): once per outage and reason,
  // not once per retry. The text is lastError() and holds no secret.
  std::function<void(const std::string& error)> onConnectFailed;
};

struct ExecResult {
  BackendError error = BackendError::None;
  std::vector<RespValue> replies;  // one per command when error == None
  // The reply to the call's trailer (see execute()), when it asked for one and error == None.
  std::shared_ptr<const RespValue> trailer;
  bool ok() const { return error == BackendError::None; }
};

// Call every member on the owning io_context's thread.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(boost::asio::any_io_executor executor, ConnectionOptions options);
  ~Connection();

  // Starts the connect/reconnect loop. Call once.
  void start();
  // Closes the socket, fails pending calls and stops reconnecting.
  void stop();

  // Sends `encoded` (replyCount pipelined commands, see appendCommand) and waits for
  // every reply or the deadline. Never throws.
  boost::asio::awaitable<ExecResult> execute(std::string encoded, std::size_t replyCount,
                                             std::chrono::milliseconds timeout);
  // The same, followed by `trailer` (one encoded command, e.g. ROLE) after this call's
  // commands. Calls that leave in the same write with the same trailer share one: it is
  // sent once, after all of them, so its reply reflects a moment after every one of
  // their commands ran (Redis runs one connection's commands in order).
  boost::asio::awaitable<ExecResult> execute(std::string encoded, std::size_t replyCount,
                                             std::chrono::milliseconds timeout, std::string_view trailer);
  // execute() for callers that are not coroutines: `handler` runs once with the result,
  // on this connection's executor (directly from the reply reader when it completes the
  // call, posted otherwise). Never throws.
  void submit(std::string encoded, std::size_t replyCount, std::chrono::milliseconds timeout, std::string_view trailer,
              boost::asio::any_completion_handler<void(ExecResult)> handler);

  bool connected() const { return connected_; }
  // Calls sent and not yet fully answered / queued for the next write.
  std::size_t waiting() const { return pending_.size() - queued_; }
  std::size_t queued() const { return queued_; }
  // When the oldest call still waiting for its replies was sent; max() if none waits.
  std::chrono::steady_clock::time_point oldestWaitingSince() const;
  const std::string& lastError() const { return lastError_; }
  // master_replid of the server as of this connection's handshake (trackReplid only).
  const std::string& replid() const { return replid_; }
  // Completes when connected, stopped, or after `timeout`. Returns connected().
  boost::asio::awaitable<bool> waitConnected(std::chrono::milliseconds timeout);

 private:
  struct Pending;
  struct Trailer;
  boost::asio::awaitable<void> runLoop();
  boost::asio::awaitable<bool> connectOnce();
  boost::asio::awaitable<std::optional<RespValue>> handshake(std::string request);
  boost::asio::awaitable<void> writeLoop();
  boost::asio::awaitable<void> readLoop();
  boost::asio::awaitable<ExecResult> executeAfterConnect(std::string encoded, std::size_t replyCount,
                                                         std::chrono::milliseconds timeout, std::string trailer);
  void enqueue(std::string encoded, std::size_t replyCount, std::chrono::milliseconds timeout, std::string_view trailer,
               boost::asio::any_completion_handler<void(ExecResult)> handler);
  void failAll(BackendError error);
  // Completes `call` once. resumeNow (the reader only): the caller runs before finish()
  // returns; otherwise its resumption is posted.
  void finish(Pending& call, BackendError error, bool resumeNow = false);
  void armSweeper(std::chrono::steady_clock::time_point deadline);
  void sweep();
  void wakeConnectWaiters();
  void disconnect(const std::string& reason);
  // One read / one whole write on the current socket, through TLS when it has it: one
  // branch per I/O call, and no coroutine frame of their own (they return Asio's).
  boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> readSome(
      boost::asio::mutable_buffer buffer);
  boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> writeAll(boost::asio::const_buffer buffer);
  boost::asio::awaitable<bool> startTls();

  boost::asio::any_io_executor executor_;
  ConnectionOptions options_;
  boost::asio::ip::tcp::socket socket_;
  std::optional<TlsStream> tls_;  // over socket_ when options_.tls; re-created on every connect
  boost::asio::steady_timer writeSignal_;
  std::vector<boost::asio::steady_timer*> connectWaiters_;  // see waitConnected()
  bool connecting_ = false;                                 // a connect attempt is in progress
  std::deque<std::shared_ptr<Pending>> pending_;            // sent or queued, in reply order
  std::string outBuffer_;                                   // encoded, not yet handed to a write
  std::size_t queued_ = 0;                                  // calls in outBuffer_ (the newest in pending_)
  std::shared_ptr<Trailer> openTrailer_;                    // shared by calls in outBuffer_, sent after them
  std::string writingBuffer_;
  std::optional<RespReader> reader_;  // re-created on every connect
  boost::asio::steady_timer backoffTimer_;
  boost::asio::steady_timer sweeper_;  // call deadlines; see armSweeper()
  std::chrono::steady_clock::time_point sweeperAt_{};
  std::uint64_t sweeperGeneration_ = 0;
  bool sweeperArmed_ = false;
  bool connected_ = false;
  bool stopped_ = false;
  bool started_ = false;
  std::uint64_t generation_ = 0;  // bumped on every disconnect
  std::string lastError_ = "not connected yet";
  std::string lastReportedFailure_;  // see ConnectionOptions::onConnectFailed
  std::string replid_;
};

}  // namespace cx::backends
