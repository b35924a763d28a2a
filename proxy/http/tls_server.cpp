// A listener's server-side TLS context (see tls_server.h).
#include "proxy/http/tls_server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdexcept>
#include <system_error>

#include "backends/tls_client.h"

namespace cx::proxy {

using backends::opensslError;

TlsServerContext::TlsServerContext(std::string certFile, std::string keyFile)
    : certFile_(std::move(certFile)), keyFile_(std::move(keyFile)) {
  loaded_ = stamp();
  current_.store(build(certFile_, keyFile_));
}

std::shared_ptr<ssl_ctx_st> TlsServerContext::build(const std::string& certFile, const std::string& keyFile) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) throw std::runtime_error("TLS: cannot create a context: " + opensslError());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // A client that closes without close_notify has ended its requests, not attacked us:
  // it reads as end of stream, as on plain TCP.
  SSL_CTX_set_options(ctx.get(),
                      SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Responses are written from buffers that may move between retries of one write.
  SSL_CTX_set_mode(ctx.get(),
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), certFile.c_str()) != 1) {
    throw std::runtime_error("cert_file " + certFile + ": " + opensslError());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), keyFile.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw std::runtime_error("key_file " + keyFile + ": " + opensslError());
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    ERR_clear_error();
    throw std::runtime_error("key_file " + keyFile + " does not match cert_file " + certFile);
  }
  return ctx;
}

TlsServerContext::Stamp TlsServerContext::stamp() const {
  Stamp s;
  std::error_code ec;
  s.certWrite = std::filesystem::last_write_time(certFile_, ec);
  s.certSize = ec ? 0 : std::filesystem::file_size(certFile_, ec);
  s.keyWrite = std::filesystem::last_write_time(keyFile_, ec);
  s.keySize = ec ? 0 : std::filesystem::file_size(keyFile_, ec);
  return s;
}

TlsServerContext::Reload TlsServerContext::reload(bool force, std::string* error) {
  const Stamp now = stamp();
  if (!force && now == loaded_) return Reload::Unchanged;
  // Remembered even when the load fails: a half-written pair is tried again when it
  // changes again (or on SIGHUP), not every second.
  loaded_ = now;
  try {
    current_.store(build(certFile_, keyFile_), std::memory_order_release);
  } catch (const std::exception& e) {
    *error = e.what();
    return Reload::Failed;
  }
  return Reload::Reloaded;
}

}  // namespace cx::proxy
