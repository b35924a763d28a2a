// A fault-injecting HTTP forwarder in front of cxproxy, in-process, for cxproxy-verify's
// tests: it can make a correct deployment behave like a broken one (a client library that
// loses its session token and reads at `eventual` while claiming the level it was asked).
#pragma once

#include <atomic>
#include <memory>
#include <thread>

namespace cx::testing {

struct FaultShimOptions {
  // Forward requests without X-Session-Token, with X-Consistency: eventual, and answer
  // with X-Consistency set to the level the client asked for (no X-Consistency-Downgraded).
  // false: forward everything unchanged.
  bool lie = true;
};

// Listens on a loopback port of its own and forwards each connection to cxproxy on
// 127.0.0.1:upstreamPort over a connection of its own (keep-alive both sides). One
// thread; the destructor stops it and drops every connection.
class FaultShim {
 public:
  FaultShim(int upstreamPort, FaultShimOptions options);
  ~FaultShim();
  FaultShim(const FaultShim&) = delete;
  FaultShim& operator=(const FaultShim&) = delete;

  int port() const { return port_; }
  // Requests forwarded so far.
  long forwarded() const { return forwarded_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::atomic<long> forwarded_{0};
  std::thread thread_;
};

}  // namespace cx::testing
