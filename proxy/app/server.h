// The server: data workers (one io_context and thread each; one data listener),
// the admin listener, the command-table loader and graceful shutdown.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <thread>
#include <vector>

#include "proxy/app/worker.h"

namespace cx::proxy {

class Server {
 public:
  // Binds both listeners (throws std::runtime_error naming the address on failure).
  explicit Server(SharedState& shared);
  ~Server();

  // Runs until SIGTERM/SIGINT, then drains (limits.drain_timeout) and returns.
  void run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cx::proxy
