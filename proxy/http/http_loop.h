// The HTTP/1.1 connections of one event loop (a data worker, or the admin thread),
// driven by an epoll set of the loop's own instead of one Asio read per request.
//
// Why: with one Asio read per request, each request touched its connection's Asio
// state (the reactor's per-descriptor state, the read operation and its handler), and
// every response was followed by a read that came back empty. Here each connection is
// registered once, edge-triggered, in the loop's own set; Asio waits on that set's
// descriptor only when nothing in it is ready. A ready connection is read into one
// buffer per loop, which stays warm; a read that comes back short has drained the
// socket (the next bytes bring a new edge), so in the common case no read comes back
// empty. A complete request goes to the handler, which answers it through a Responder,
// at once or when its backend replies come (no coroutine per request or connection). The
// responses completed in one turn of the loop leave back to back in the next, each with
// one non-blocking sendmsg; only what a socket does not take waits for it to drain.
//
// With a TlsServerContext the loop speaks HTTPS only: each connection gets an OpenSSL
// session on its non-blocking socket, read and written through SSL_read/SSL_write in the
// same places (one branch per read or send on the plain path, nothing more); a client
// whose handshake fails (plain HTTP included) is closed without an answer.
//
// Requests on one connection are answered one after the other, so pipelined requests
// get their responses in order. Limits (header bytes, body bytes, header/body/idle
// deadlines) are enforced before a request reaches its handler.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "proxy/config/config.h"
#include "proxy/http/request.h"
#include "proxy/http/response.h"
#include "proxy/http/tls_server.h"

namespace cx::metrics {
class Metrics;
}

namespace cx::proxy {

// Hands a request's response to its connection. A handler calls it exactly once, on the
// loop's thread, when the Response is complete: before it returns or later (say, from a
// backend reply's completion). Copyable; it holds no resources.
class Responder {
 public:
  void operator()() const;

 private:
  friend class HttpLoop;
  Responder(void* conn, std::uint32_t request) : conn_(conn), request_(request) {}
  void* conn_;             // the connection (http_loop.cpp's Conn)
  std::uint32_t request_;  // which of its requests: a stray second call is ignored, not misdirected
};

// Serves one request. The Request and Response stay valid until the Responder is called.
// Errors go into the Response; a handler must not throw (if it does before responding,
// the loop answers 500).
using Handler = std::function<void(const Request&, Response&, Responder)>;

class HttpLoop {
 public:
  // `open` counts the listener's open connections (the acceptor checks the cap against
  // it); a connection adopted here is counted already and is uncounted when it closes.
  // `tls`: HTTPS only when set; each new connection takes its current context.
  HttpLoop(boost::asio::io_context& io, const LimitsConfig& limits, Handler handler, std::atomic<std::size_t>& open,
           metrics::Metrics& metrics, std::string listener, std::shared_ptr<TlsServerContext> tls = nullptr);
  ~HttpLoop();
  HttpLoop(const HttpLoop&) = delete;
  HttpLoop& operator=(const HttpLoop&) = delete;

  // The rest is called on the loop's thread.
  void start();
  // Serves an accepted socket; takes the descriptor (closed here if it cannot be served).
  void adopt(int fd);
  // Closes idle connections now; the others close after their current response, which
  // says "Connection: close". Connections adopted later are closed at once.
  void drain();
  // Closes every connection and stops waiting; before the io_context stops.
  void stop();

  struct Impl;  // public only so http_loop.cpp's connections can point to their loop

 private:
  static Responder makeResponder(void* conn, std::uint32_t request) { return {conn, request}; }
  std::unique_ptr<Impl> impl_;
};

}  // namespace cx::proxy
