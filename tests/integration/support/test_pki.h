// Certificates for TLS tests, made with the openssl command line in a temp directory: a
// CA, a second unrelated CA, and leaf certificates (server and client use) signed by
// either, valid now or expired.
#pragma once

#include <filesystem>
#include <string>

#include "tests/integration/support/process.h"

namespace cx::testing {

struct CertFiles {
  std::filesystem::path cert;  // PEM certificate
  std::filesystem::path key;   // PEM private key (unencrypted)
};

class TestPki {
 public:
  // Creates the CA and the other CA. Throws std::runtime_error with openssl's output on failure.
  TestPki();

  const std::filesystem::path& caFile() const { return ca_.cert; }
  const std::filesystem::path& otherCaFile() const { return otherCa_.cert; }
  const std::filesystem::path& dir() const { return dir_.path(); }

  enum class Issuer { Ca, OtherCa };
  enum class Validity { Current, Expired };
  // A certificate for `name` (its file stem and CN) with subjectAltName `sans`
  // ("IP:127.0.0.1,DNS:redis.test"), usable for server and client authentication.
  CertFiles issue(const std::string& name, const std::string& sans, Issuer issuer = Issuer::Ca,
                  Validity validity = Validity::Current);

 private:
  void run(const std::vector<std::string>& args);
  CertFiles makeCa(const std::string& name);

  TempDir dir_{"cxproxy-pki"};
  std::string openssl_;
  CertFiles ca_;
  CertFiles otherCa_;
};

}  // namespace cx::testing
