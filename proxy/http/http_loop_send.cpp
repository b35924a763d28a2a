// The connection loop's write side and socket I/O (see http_loop_impl.h): a response's
// head and body leave in one writev (or one TLS write), what the socket does not take
// waits for EPOLLOUT; reads and writes go through OpenSSL on an HTTPS listener.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

#include "proxy/http/errors.h"
#include "proxy/http/http_loop_impl.h"

namespace cx::proxy {

using http_loop_detail::wouldBlock;

// Sends a response with one non-blocking sendmsg; what the socket does not take is
// copied to the connection and sent as the socket drains (flush).
void HttpLoop::Impl::send(Conn& c, const Response& res, unsigned version, bool keepAlive, bool headRequest) {
  serializeHead(res, version, keepAlive, head);
  const bool withBody = !headRequest && res.result_int() != 204 && res.result_int() != 304;
  const std::string_view body = withBody ? std::string_view(res.body()) : std::string_view();
  if (c.ssl) {
    tlsOut.assign(head);
    tlsOut.append(body);
    bool failed = false;
    const std::size_t took = tlsSend(c, tlsOut, &failed);
    if (failed) {
      close(c);
      return;
    }
    if (took == tlsOut.size()) {
      responseSent(c, keepAlive);
      return;
    }
    // The rest starts with the bytes of the write OpenSSL is retrying (it allows the
    // buffer to move: SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
    c.out.assign(tlsOut, took);
    c.outSent = 0;
    c.closeAfterWrite = !keepAlive;
    c.phase = Conn::Phase::Writing;
    c.deadline = Clock::now() + limits.bodyTimeout;
    release(std::move(c.ex));
    return;
  }
  std::array<iovec, 2> iov{iovec{head.data(), head.size()}, iovec{const_cast<char*>(body.data()), body.size()}};
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = body.empty() ? 1 : 2;
  ssize_t n;
  do {
    n = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && !wouldBlock(errno)) {
    close(c);
    return;
  }
  const std::size_t took = n < 0 ? 0 : static_cast<std::size_t>(n);
  if (took == head.size() + body.size()) {
    responseSent(c, keepAlive);
    return;
  }
  if (took < head.size()) {
    c.out.assign(head, took);
    c.out.append(body);
  } else {
    c.out.assign(body.substr(took - head.size()));
  }
  c.outSent = 0;
  c.closeAfterWrite = !keepAlive;
  c.phase = Conn::Phase::Writing;
  c.deadline = Clock::now() + limits.bodyTimeout;
  release(std::move(c.ex));
}

void HttpLoop::Impl::flush(Conn& c) {
  if (c.ssl && c.outSent < c.out.size()) {
    bool failed = false;
    c.outSent += tlsSend(c, std::string_view(c.out).substr(c.outSent), &failed);
    if (failed) {
      close(c);
      return;
    }
    if (c.outSent < c.out.size()) return;  // the next edge comes when it drains
  }
  while (c.outSent < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.outSent, c.out.size() - c.outSent, MSG_NOSIGNAL);
    if (n > 0) {
      c.outSent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && wouldBlock(errno)) return;  // the next edge comes when it drains
    close(c);
    return;
  }
  std::string().swap(c.out);  // a large response's copy is not kept
  c.outSent = 0;
  responseSent(c, !c.closeAfterWrite);
}

// The whole response is with the socket: the exchange goes back to the pool, and the
// connection closes or waits for (or parses) its next request.
void HttpLoop::Impl::responseSent(Conn& c, bool keepAlive) {
  release(std::move(c.ex));
  if (!keepAlive) {
    close(c);
    return;
  }
  c.phase = Conn::Phase::Idle;
  c.deadline = Clock::now() + limits.idleTimeout;
  pump(c);  // bytes already here (pipelined, or arrived meanwhile); a no-op inside pump()
}

ssize_t HttpLoop::Impl::receive(Conn& c) {
  if (c.ssl) return tlsReceive(c);
  return ::recv(c.fd, scratch.data(), scratch.size(), 0);
}

// The TLS read, handshake first. OpenSSL's "want read" is a drained socket (EAGAIN);
// "want write" waits for EPOLLOUT; anything else (a failed handshake: plain HTTP, a
// client that does not trust us) closes the connection without an answer.
ssize_t HttpLoop::Impl::tlsReceive(Conn& c) {
  c.tlsWantsWrite = false;
  auto blocked = [&](int error) -> ssize_t {
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      c.tlsWantsWrite = error == SSL_ERROR_WANT_WRITE;
      errno = EAGAIN;
    } else {
      ERR_clear_error();
      errno = ECONNRESET;
    }
    return -1;
  };
  if (c.handshaking) {
    const int r = SSL_do_handshake(c.ssl);
    if (r != 1) return blocked(SSL_get_error(c.ssl, r));
    c.handshaking = false;
  }
  const int n = SSL_read(c.ssl, scratch.data(), static_cast<int>(scratch.size()));
  if (n > 0) return n;
  const int error = SSL_get_error(c.ssl, n);
  if (error == SSL_ERROR_ZERO_RETURN) return 0;  // close_notify, or a plain FIN (SSL_OP_IGNORE_UNEXPECTED_EOF)
  return blocked(error);
}

std::size_t HttpLoop::Impl::tlsSend(Conn& c, std::string_view data, bool* failed) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const int n =
        SSL_write(c.ssl, data.data() + sent, static_cast<int>(std::min<std::size_t>(data.size() - sent, 1 << 30)));
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    const int error = SSL_get_error(c.ssl, n);
    if (error != SSL_ERROR_WANT_WRITE && error != SSL_ERROR_WANT_READ) {
      ERR_clear_error();
      *failed = true;
    }
    break;
  }
  return sent;
}

}  // namespace cx::proxy
