// HTTPS on a listener (README "Security"): the server certificate and key of one
// listener, as an OpenSSL context that new connections take, replaced whole when the
// files change (cert-manager rotations need no restart). Connections already open keep
// the context they started with.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

struct ssl_ctx_st;

namespace cx::proxy {

struct TlsListenerConfig;

class TlsServerContext {
 public:
  // Loads the files; throws std::runtime_error naming the file and what is wrong with it.
  TlsServerContext(std::string certFile, std::string keyFile);

  // The context for a new connection. Safe from any thread; the SSL made from it keeps
  // its own reference, so a reload never frees one in use.
  std::shared_ptr<ssl_ctx_st> current() const { return current_.load(std::memory_order_acquire); }

  enum class Reload { Unchanged, Reloaded, Failed };
  // Re-reads the files when their modification time or size changed since the last
  // load (or always with `force`). On failure the running context stays and *error
  // says why (no key material in it). Call from one thread.
  Reload reload(bool force, std::string* error);

  const std::string& certFile() const { return certFile_; }

 private:
  struct Stamp {
    std::filesystem::file_time_type certWrite{}, keyWrite{};
    std::uintmax_t certSize = 0, keySize = 0;
    bool operator==(const Stamp&) const = default;
  };
  static std::shared_ptr<ssl_ctx_st> build(const std::string& certFile, const std::string& keyFile);
  Stamp stamp() const;

  std::string certFile_;
  std::string keyFile_;
  Stamp loaded_;
  std::atomic<std::shared_ptr<ssl_ctx_st>> current_;
};

}  // namespace cx::proxy
