// Client-side TLS for Redis connections (see tls_client.h).
#include "backends/tls_client.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <stdexcept>

namespace cx::backends {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

std::string opensslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

TlsClientContext::TlsClientContext(TlsClientSettings settings)
    : settings_(std::move(settings)), context_(ssl::context::tls_client) {
  SSL_CTX* ctx = context_.native_handle();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    throw std::runtime_error("redis.tls: cannot set TLS 1.2 as the minimum: " + opensslError());
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  if (!settings_.caFile.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, settings_.caFile.c_str(), nullptr) != 1) {
      throw std::runtime_error("redis.tls.ca_file: cannot load " + settings_.caFile + ": " + opensslError());
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    throw std::runtime_error("redis.tls: cannot load the system's CA store: " + opensslError());
  }
  if (!settings_.certFile.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, settings_.certFile.c_str()) != 1) {
      throw std::runtime_error("redis.tls.cert_file: cannot load " + settings_.certFile + ": " + opensslError());
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, settings_.keyFile.c_str(), SSL_FILETYPE_PEM) != 1) {
      throw std::runtime_error("redis.tls.key_file: cannot load " + settings_.keyFile + ": " + opensslError());
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      throw std::runtime_error("redis.tls.key_file: " + settings_.keyFile + " does not match " + settings_.certFile);
    }
  }
  SSL_CTX_set_verify(ctx, settings_.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
}

bool prepareClientHandshake(TlsStream& stream, const TlsClientContext& tls, const std::string& host,
                            std::string* error) {
  SSL* ssl = stream.native_handle();
  const std::string& name = tls.settings().serverName.empty() ? host : tls.settings().serverName;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(name, ec);
  const bool isAddress = !ec;
  // RFC 6066: SNI carries host names only, never a literal address.
  if (!isAddress && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) {
    *error = "TLS: server name " + name + " refused: " + opensslError();
    return false;
  }
  if (!tls.settings().verify) return true;
  if (isAddress) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), address.to_string().c_str()) != 1) {
      *error = "TLS: address " + name + " refused: " + opensslError();
      return false;
    }
  } else {
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, name.c_str()) != 1) {
      *error = "TLS: host name " + name + " refused: " + opensslError();
      return false;
    }
  }
  return true;
}

std::string describeHandshakeFailure(TlsStream& stream, const boost::system::error_code& ec,
                                     const std::string& expectedName) {
  const long result = SSL_get_verify_result(stream.native_handle());
  ERR_clear_error();
  if (result == X509_V_ERR_HOSTNAME_MISMATCH || result == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    return "TLS handshake: host name mismatch: the certificate is not for " + expectedName;
  }
  if (result != X509_V_OK) {
    return std::string("TLS handshake: certificate verify failed: ") + X509_verify_cert_error_string(result);
  }
  if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
    return "TLS handshake: connection closed by server (is it a TLS port?)";
  }
  return "TLS handshake: " + ec.message();
}

}  // namespace cx::backends
