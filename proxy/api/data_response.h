// The answers of a data request once Redis has spoken: a reply becomes the response
// (README "HTTP API": value, 204, 404 or the /v1/cmd JSON), a failed backend call
// becomes the error that says whether the operation may have happened.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "backends/connection.h"
#include "backends/resp.h"
#include "proxy/api/request_parse.h"
#include "proxy/http/errors.h"
#include "proxy/http/response.h"

namespace cx::proxy {

// Makes `res` the answer to a request that is not a batch given Redis's reply (an error
// reply: redis_error, in Upstash's shape for Upstash's protocol).
void setReply(Response& res, const DataRequestSpec& spec, const backends::RespValue& reply);

// The answer to a batch (isBatch()) from its replies (batch_reply.h): 200 with every
// command's outcome, or transaction_aborted / redis_error for a transaction that ran nothing.
void setBatchReply(Response& res, const DataRequestSpec& spec, std::span<const backends::RespValue> replies);

// The error for a backend call that failed with `error` on the backend `name` (the
// primary when `primary`; `primaryError` is the primary connection's last error). For a
// write, the message says that its outcome is unknown unless nothing was sent.
ApiError backendCallError(backends::BackendError error, const std::string& name, bool primary, bool isWrite,
                          std::string_view primaryError);

}  // namespace cx::proxy
