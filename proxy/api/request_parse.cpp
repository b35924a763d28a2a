// Data request parsing (see request_parse.h).
#include "proxy/api/request_parse.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "backends/text.h"
#include "proxy/api/reply_json.h"
#include "proxy/api/upstash.h"
#include "proxy/config/values.h"

namespace cx::proxy {

namespace {

constexpr std::array<std::string_view, 9> kOpNames = {
    "get", "put", "delete", "cmd", "pipeline", "multi", "upstash", "upstash_pipeline", "upstash_multi"};

ApiError badRequest(std::string message) { return {ErrorCode::BadRequest, std::move(message), {}, {}}; }

ApiError bodyError(BodyError error) {
  const ErrorCode code = !error.allow.empty()    ? ErrorCode::MethodNotAllowed
                         : error.tooManyCommands ? ErrorCode::BodyTooLarge
                                                 : ErrorCode::BadRequest;
  return {code, std::move(error.message), {}, error.allow};
}

// Upstash's endpoints (upstash.h): the op, and the command of a path-style request.
std::optional<ApiError> parseUpstash(const Request& req, const RequestLimits& limits, DataRequestSpec& spec) {
  spec.upstash = true;
  auto target = parseUpstashTarget(req.method_string(), req.target(), req.body());
  if (auto* error = std::get_if<BodyError>(&target)) return bodyError(std::move(*error));
  auto& upstash = std::get<UpstashTarget>(target);
  switch (upstash.endpoint) {
    case UpstashEndpoint::Command: {
      spec.op = Op::Upstash;
      if (!upstash.pathCommand.empty()) {
        spec.argv = std::move(upstash.pathCommand);
        return std::nullopt;
      }
      auto argv = parseCommandJson(req.body());
      if (auto* error = std::get_if<BodyError>(&argv)) return bodyError(std::move(*error));
      spec.argv = std::move(std::get<Argv>(argv));
      return std::nullopt;
    }
    case UpstashEndpoint::Pipeline:
    case UpstashEndpoint::MultiExec: {
      spec.op = upstash.endpoint == UpstashEndpoint::Pipeline ? Op::UpstashPipeline : Op::UpstashMulti;
      auto batch = parseBatchJson(req.body(), limits.maxBatchCommands);
      if (auto* error = std::get_if<BodyError>(&batch)) return bodyError(std::move(*error));
      spec.batch = std::move(std::get<std::vector<Argv>>(batch));
      return std::nullopt;
    }
  }
  return std::nullopt;
}

// The path and method, the key and ?ttl_ms=. Nullopt when they are valid.
std::optional<ApiError> parseTarget(const Request& req, const RequestLimits& limits, DataRequestSpec& spec) {
  std::string_view target = req.target();
  std::string_view path = target;
  std::string_view query;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
  const auto method = req.method();
  if (path == "/v1/cmd" || path == "/v1/pipeline" || path == "/v1/multi") {
    if (method != http::verb::post) {
      return ApiError{
          ErrorCode::MethodNotAllowed, std::string(path) + " takes POST with a JSON array body", {}, "POST"};
    }
    spec.op = path == "/v1/cmd" ? Op::Cmd : path == "/v1/pipeline" ? Op::Pipeline : Op::Multi;
    return std::nullopt;
  }
  constexpr std::string_view kKv = "/v1/kv/";
  if (path.substr(0, kKv.size()) != kKv) {
    return ApiError{
        ErrorCode::NotFound, "unknown path; the data API is /v1/kv/{key}, /v1/cmd, /v1/pipeline and /v1/multi", {}, {}};
  }
  switch (method) {
    case http::verb::get: spec.op = Op::Get; break;
    case http::verb::put: spec.op = Op::Put; break;
    case http::verb::delete_: spec.op = Op::Delete; break;
    default:
      return ApiError{ErrorCode::MethodNotAllowed, "/v1/kv/{key} takes GET, PUT or DELETE", {}, "GET, PUT, DELETE"};
  }
  spec.isWrite = spec.op != Op::Get;
  auto decoded = percentDecode(path.substr(kKv.size()));
  if (!decoded) return badRequest("the key is not valid percent-encoding");
  spec.key = std::move(*decoded);
  if (spec.key.empty()) return badRequest("the key is empty");
  if (spec.key.size() > limits.maxKeyBytes) {
    return badRequest("the key is " + std::to_string(spec.key.size()) + " bytes; the limit is " +
                      std::to_string(limits.maxKeyBytes) + " (limits.max_key_bytes)");
  }
  if (auto ttl = queryParam(query, "ttl_ms")) {
    auto v = parseDecimal(*ttl);
    if (spec.op != Op::Put || !v || *v == 0) {
      return badRequest("ttl_ms must be a positive whole number of milliseconds, on PUT only");
    }
    spec.ttlMs = *ttl;
  }
  return std::nullopt;
}

// The three headers a data request reads, in one pass over the fields.
std::optional<ApiError> parseHeaders(const Request& req, DataRequestSpec& spec) {
  std::optional<std::string_view> consistency;
  std::optional<std::string_view> staleness;
  for (const auto& field : req) {
    const std::string_view name = field.name_string();
    if (name.size() == 13 && text::iequals(name, "X-Consistency")) {
      if (!consistency) consistency = field.value();
    } else if (name.size() == 15 && text::iequals(name, "X-Max-Staleness")) {
      if (!staleness) staleness = field.value();
    } else if (name.size() == 15 && text::iequals(name, "X-Session-Token")) {
      if (!spec.sessionToken) spec.sessionToken = field.value();
    } else if (name.size() == 18 && text::iequals(name, "upstash-sync-token")) {
      if (!spec.syncToken) spec.syncToken = field.value();
    } else if (name.size() == 16 && text::iequals(name, "Upstash-Encoding")) {
      spec.base64 = text::iequals(text::trim(field.value()), "base64");
    } else if (name.size() == 13 && text::iequals(name, "Authorization")) {
      const std::string_view value = text::trim(field.value());
      if (!spec.bearerToken && value.size() > 7 && text::iequals(value.substr(0, 7), "Bearer ")) {
        spec.bearerToken = text::trim(value.substr(7));
      }
    }
  }
  if (consistency) {
    spec.requested = routing::parseLevel(*consistency);
    if (!spec.requested) {
      return ApiError{ErrorCode::InvalidConsistency,
                      "X-Consistency must be one of strong, linearizable, bounded, session, prefix, eventual",
                      {},
                      {}};
    }
  }
  if (staleness) {
    spec.maxStaleness = parseStalenessHeader(*staleness);
    if (!spec.maxStaleness) {
      return ApiError{ErrorCode::InvalidConsistency,
                      "X-Max-Staleness must be a duration such as 250ms, 2s, or a number of ms",
                      {},
                      {}};
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view toString(Op op) { return kOpNames[static_cast<std::size_t>(op)]; }

bool isUpstashTarget(std::string_view target) { return target.substr(0, 4) != "/v1/" && target != "/v1"; }

ParsedRequest parseDataRequest(const Request& request, const RequestLimits& limits) {
  DataRequestSpec spec;
  if (isUpstashTarget(request.target())) {
    if (auto error = parseUpstash(request, limits, spec)) return std::move(*error);
  } else if (auto error = parseTarget(request, limits, spec)) {
    return std::move(*error);
  }
  if (auto error = parseHeaders(request, spec)) return std::move(*error);
  if (spec.op == Op::Cmd) {
    if (auto error = parseCommandBody(request.body(), spec.argv)) return badRequest(std::move(*error));
  } else if (spec.op == Op::Pipeline || spec.op == Op::Multi) {
    auto batch = parseBatchJson(request.body(), limits.maxBatchCommands);
    if (auto* error = std::get_if<BodyError>(&batch)) return bodyError(std::move(*error));
    spec.batch = std::move(std::get<std::vector<Argv>>(batch));
  }
  return spec;
}

std::optional<ApiError> checkCommand(DataRequestSpec& spec, const backends::CommandPolicy& policy) {
  const std::vector<std::string_view> argv(spec.argv.begin(), spec.argv.end());
  auto decision = policy.check(argv);
  if (!decision.allowed()) {
    const bool refused = decision.verdict == backends::CommandVerdict::NotAllowed;
    return ApiError{refused ? ErrorCode::CommandNotAllowed : ErrorCode::BadRequest,
                    backends::refusalMessage(decision, argv),
                    {},
                    {}};
  }
  spec.isWrite = decision.isWrite;
  spec.commandName = text::upperCopy(spec.argv[0]);
  if (auto k = backends::firstKey(*decision.command, argv)) spec.key = std::string(*k);
  spec.needsPrimary = isCursorCommand(decision.command->name);
  return std::nullopt;
}

std::variant<BatchPlan, ApiError> checkBatch(DataRequestSpec& spec, const backends::CommandPolicy& policy) {
  auto planned = planBatch(spec.batch, isMulti(spec.op) ? BatchKind::Multi : BatchKind::Pipeline, policy);
  if (auto* refused = std::get_if<BatchRefusal>(&planned)) {
    return ApiError{refused->notAllowed ? ErrorCode::CommandNotAllowed : ErrorCode::BadRequest,
                    std::move(refused->message),
                    {},
                    {}};
  }
  auto& plan = std::get<BatchPlan>(planned);
  spec.isWrite = plan.isWrite || isMulti(spec.op);
  spec.needsPrimary = plan.needsPrimary;
  for (const auto& command : plan.commands) {
    if (command.keys.empty()) continue;
    spec.key = std::string(command.keys.front());
    break;
  }
  return std::move(plan);
}

std::optional<std::string> percentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  // Runs without an escape are copied whole (most keys have none).
  for (std::size_t i = 0; i < in.size();) {
    const std::size_t escape = std::min(in.find('%', i), in.size());
    out.append(in.substr(i, escape - i));
    i = escape;
    if (i == in.size()) break;
    if (i + 2 >= in.size()) return std::nullopt;
    const int hi = text::hexValue(in[i + 1]);
    const int lo = text::hexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 3;
  }
  return out;
}

std::optional<std::string_view> queryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto eq = pair.find('=');
    std::string_view k = pair.substr(0, eq);
    if (k == name) return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parseDecimal(std::string_view text) {
  if (text.empty()) return std::nullopt;  // from_chars reports overflow itself
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<std::chrono::milliseconds> parseStalenessHeader(std::string_view value) {
  value = text::trim(value);
  if (value.empty()) return std::nullopt;
  return parseDuration(value);
}

}  // namespace cx::proxy
