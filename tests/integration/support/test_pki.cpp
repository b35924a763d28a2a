// Test certificates through the openssl command line (see test_pki.h).
#include "tests/integration/support/test_pki.h"

#include <stdexcept>

namespace cx::testing {

namespace {

// Only what `req` and `ca` need: no dependency on the system's openssl.cnf.
constexpr const char* kConfig = R"([req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ca]
default_ca = test_ca
[test_ca]
database = {dir}/index.txt
new_certs_dir = {dir}/issued
serial = {dir}/serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
)";

}  // namespace

TestPki::TestPki() : openssl_(findExecutable("openssl")) {
  std::string config = kConfig;
  for (auto pos = config.find("{dir}"); pos != std::string::npos; pos = config.find("{dir}")) {
    config.replace(pos, 5, dir().string());
  }
  writeFile(dir() / "openssl.cnf", config);
  writeFile(dir() / "index.txt", "");
  writeFile(dir() / "serial", "1000\n");
  std::filesystem::create_directories(dir() / "issued");
  ca_ = makeCa("ca");
  otherCa_ = makeCa("other-ca");
}

void TestPki::run(const std::vector<std::string>& args) {
  std::vector<std::string> argv{openssl_};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto log = dir() / "openssl.log";
  ChildProcess process;
  process.start(argv, log, {{"OPENSSL_CONF", (dir() / "openssl.cnf").string()}});
  const auto status = process.waitExit(60s);
  if (!status || *status != 0) {
    if (!status) process.kill();
    std::string command;
    for (const auto& a : args) command += " " + a;
    throw std::runtime_error("openssl" + command + " failed:\n" + tailFile(log, 20));
  }
}

CertFiles TestPki::makeCa(const std::string& name) {
  CertFiles out{dir() / (name + ".pem"), dir() / (name + ".key")};
  run({"req", "-config", (dir() / "openssl.cnf").string(), "-x509", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", out.key.string(), "-out", out.cert.string(), "-days", "30",
       "-subj", "/CN=cxproxy test " + name, "-extensions", "ca_ext"});
  return out;
}

CertFiles TestPki::issue(const std::string& name, const std::string& sans, Issuer issuer, Validity validity) {
  CertFiles out{dir() / (name + ".pem"), dir() / (name + ".key")};
  const auto csr = dir() / (name + ".csr");
  const auto ext = dir() / (name + ".ext");
  writeFile(ext,
            "[leaf]\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage = serverAuth,clientAuth\nsubjectAltName = " +
                sans + "\n");
  run({"req", "-config", (dir() / "openssl.cnf").string(), "-new", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", out.key.string(), "-out", csr.string(), "-subj",
       "/CN=" + name});
  const CertFiles& signer = issuer == Issuer::Ca ? ca_ : otherCa_;
  // `openssl ca` because it can set dates in the past (x509 -req cannot in OpenSSL 3.0).
  std::vector<std::string> args{"ca",
                                "-config",
                                (dir() / "openssl.cnf").string(),
                                "-batch",
                                "-notext",
                                "-in",
                                csr.string(),
                                "-out",
                                out.cert.string(),
                                "-cert",
                                signer.cert.string(),
                                "-keyfile",
                                signer.key.string(),
                                "-extfile",
                                ext.string(),
                                "-extensions",
                                "leaf"};
  if (validity == Validity::Expired) {
    args.insert(args.end(), {"-startdate", "20200101000000Z", "-enddate", "20200201000000Z"});
  } else {
    args.insert(args.end(), {"-days", "30"});
  }
  run(args);
  return out;
}

}  // namespace cx::testing
