// TLS to Redis (README "Security"): the client-side OpenSSL context every connection to
// every node shares, and how one connection's handshake is set up and its failure named.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <memory>
#include <string>

namespace cx::backends {

struct TlsClientSettings {
  std::string caFile;      // trusted CAs (PEM); empty: the system's default store
  std::string certFile;    // client certificate (PEM), when the server asks for one
  std::string keyFile;     // its private key
  std::string serverName;  // the name every node is verified against; empty: each node's own host
  bool verify = true;      // false only for tests
};

// Immutable once built, so one instance serves every connection on every thread
// (OpenSSL's SSL_CTX is safe to share for creating connections).
class TlsClientContext {
 public:
  // Reads the files; throws std::runtime_error naming the file that could not be used.
  explicit TlsClientContext(TlsClientSettings settings);

  boost::asio::ssl::context& context() { return context_; }
  const TlsClientSettings& settings() const { return settings_; }

 private:
  TlsClientSettings settings_;
  boost::asio::ssl::context context_;
};

using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>;

// Prepares `stream` for a handshake with `host`: with a DNS name (or server_name), SNI and
// a host-name check; with an IP address, a check of the certificate's IP SANs and no SNI.
// Returns false (with *error set) if OpenSSL refuses the name.
bool prepareClientHandshake(TlsStream& stream, const TlsClientContext& tls, const std::string& host,
                            std::string* error);

// The thread's oldest OpenSSL error as text ("unknown OpenSSL error" when none), and
// the thread's error queue cleared. Shared by the client and server TLS sides.
std::string opensslError();

// Names a failed handshake for lastError: "certificate verify failed: <reason>",
// "host name mismatch: ...", or the TLS error itself.
std::string describeHandshakeFailure(TlsStream& stream, const boost::system::error_code& ec,
                                     const std::string& expectedName);

}  // namespace cx::backends
