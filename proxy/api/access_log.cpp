// The access log's line and its key hash (see access_log.h).
#include "proxy/api/access_log.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>

#include "backends/text.h"
#include "proxy/app/log.h"

namespace cx::proxy {

std::string accessKeyHash(std::string_view key) {
  static const std::array<unsigned char, 16> salt = [] {
    std::array<unsigned char, 16> s{};
    RAND_bytes(s.data(), static_cast<int>(s.size()));
    return s;
  }();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, salt.data(), salt.size());
  EVP_DigestUpdate(ctx, key.data(), key.size());
  EVP_DigestFinal_ex(ctx, digest, &length);
  EVP_MD_CTX_free(ctx);
  std::string out;
  text::appendHex(out, digest, std::min(8u, length));
  return out;
}

void logAccess(const AccessLogLine& line) {
  log(LogLevel::Info, "access",
      {{"method", line.method},
       {"op", line.op},
       {"key_hash", line.key.empty() ? std::string("-") : accessKeyHash(line.key)},
       {"requested", line.requested},
       {"served", line.served},
       {"backend", line.backend},
       {"role", line.role},
       {"status", std::to_string(line.status)},
       {"duration_us", std::to_string(line.duration.count())},
       {"token", line.token.empty() ? std::string_view("-") : line.token}});
}

}  // namespace cx::proxy
