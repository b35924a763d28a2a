// The data worker (see worker.h): construction and the entry of a data request.
#include "proxy/app/worker.h"

#include "proxy/api/data_request.h"

#include <random>

namespace cx::proxy {

Worker::Worker(SharedState& shared, std::size_t index)
    : shared_(shared),
      index_(index),
      pool_(io_.get_executor(), *shared.config.load(), shared.password, shared.redisTls, index),
      requestMetrics_(*shared.metrics),
      rng_((std::random_device{}() | 1ull) * 0x9E3779B97F4A7C15ull + index) {
  if (rng_ == 0) rng_ = 1;
}

void Worker::handle(const Request& request, Response& response, Responder done) {
  DataRequest::run(std::make_unique<DataRequest>(*this, request, response, done));
}

}  // namespace cx::proxy
