// DataRequest (see data_request.h), before anything is sent: authorization, parsing, the
// session token, the rule and level, and the command as it will be sent (scripts
// rewritten, batches planned).
#include "proxy/api/data_request.h"

#include "backends/text.h"
#include "proxy/api/scripts.h"
#include "routing/rules.h"

namespace cx::proxy {

using routing::Level;

bool DataRequest::prepare() {
  // Before anything else about the request: only framing errors (the loop's) come first.
  apiTokens_ = worker_.apiTokens();
  auth_ = authorize(req_, apiTokens_.get());
  upstash_ = isUpstashTarget(req_.target());
  if (!auth_.ok()) {
    setUnauthorized(res_, auth_);
    return false;
  }
  const auto& limits = config_->limits;
  auto parsed = parseDataRequest(req_, RequestLimits{limits.maxKeyBytes, limits.maxBatchCommands});
  if (auto* error = std::get_if<ApiError>(&parsed)) {
    if (upstash_) spec_.op = Op::Upstash;  // its metrics label, though the request named no endpoint
    fail(*error);
    return false;
  }
  spec_ = std::move(std::get<DataRequestSpec>(parsed));
  // Auth hook (README "Security"): spec_.bearerToken is where the auth feature checks
  // `Authorization: Bearer`, here, before anything else, on both protocols.
  if (upstash_ && !spec_.sessionToken && spec_.syncToken && !text::trim(*spec_.syncToken).empty()) {
    // Upstash clients send whatever token they were given (users may set any string):
    // one that verifies is a session token, any other is no token.
    auto verified = verifySessionTokens(*spec_.syncToken, *shared_.keys, worker_.verifiedTokens(), *shared_.metrics);
    if (auto* tokens = std::get_if<TokenList>(&verified)) {
      tokens_ = std::move(*tokens);
      spec_.sessionToken = spec_.syncToken;
    }
  } else if (spec_.sessionToken) {
    auto verified = verifySessionTokens(*spec_.sessionToken, *shared_.keys, worker_.verifiedTokens(), *shared_.metrics);
    if (auto* error = std::get_if<ApiError>(&verified)) {
      fail(*error);
      return false;
    }
    tokens_ = std::move(std::get<TokenList>(verified));
  }
  if (isCommand(spec_.op) || isBatch(spec_.op)) {
    auto policy = shared_.commands.load(std::memory_order_acquire);
    if (!policy) {
      fail(ErrorCode::PrimaryUnavailable, "the Redis command table has not been loaded yet; retry shortly");
      return false;
    }
    if (isCommand(spec_.op)) {
      if (auto error = checkCommand(spec_, *policy)) {
        fail(*error);
        return false;
      }
      rewriteScripts(spec_.argv);
      argvViews_.assign(spec_.argv.begin(), spec_.argv.end());
    } else {
      auto planned = checkBatch(spec_, *policy);
      if (auto* error = std::get_if<ApiError>(&planned)) {
        fail(*error);
        return false;
      }
      plan_ = std::move(std::get<BatchPlan>(planned));
      // After planning: the plan's key views point into other arguments than these.
      for (Argv& argv : spec_.batch) rewriteScripts(argv);
      mainReplies_ = spec_.batch.size() + (isMulti(spec_.op) ? 2 : 0);
    }
  }
  if (auth_.readOnly && writesForReadOnlyToken(spec_.isWrite, spec_.commandName)) {
    fail(readOnlyTokenError());
    return false;
  }
  const auto& consistency = config_->consistency;
  // Upstash's clients know read-your-writes (their sync token) and nothing stronger: a
  // request no rule covers is served at the session level unless X-Consistency says.
  const routing::Policy* defaultPolicy = &consistency.defaultPolicy;
  if (upstash_) {
    upstashDefault_ = consistency.defaultPolicy;
    upstashDefault_.level = Level::Session;
    defaultPolicy = &upstashDefault_;
  }
  const routing::Rule* rule = nullptr;
  bool headerOverridden = false;
  if (isBatch(spec_.op)) {
    batchPolicy_ = batchPolicy(plan_, consistency.rules, *defaultPolicy, spec_.requested);
    rule = batchPolicy_.rule;
    policy_ = &batchPolicy_.policy;
    level_ = batchPolicy_.level;
    headerOverridden = batchPolicy_.headerOverridden;
  } else {
    std::string_view method = req_.method_string();
    rule = routing::matchRule(consistency.rules, spec_.key, method, spec_.commandName, spec_.isWrite);
    policy_ = rule ? &rule->policy : defaultPolicy;
    auto choice = routing::chooseLevel(*policy_, spec_.requested);
    level_ = choice.level;
    headerOverridden = choice.headerOverridden;
  }
  ruleName_ = rule ? std::string_view(rule->name) : std::string_view("default");
  res_.set("X-Consistency-Rule", ruleName_);
  if (headerOverridden) {
    // override: stronger/none kept the rule's level: say so rather than serve silently.
    res_.set("X-Consistency-Overridden", std::string(toString(*spec_.requested)) + "->" +
                                             std::string(toString(level_)) +
                                             "; rule=" + (rule ? rule->name : std::string("default")));
  }

  adoptTopology(worker_.topology());
  return true;
}

void DataRequest::appendMainCommand(std::string& out) const {
  switch (spec_.op) {
    case Op::Get: {
      const std::array<std::string_view, 2> argv{"GET", spec_.key};
      backends::appendCommand(out, argv);
      break;
    }
    case Op::Put: {
      if (spec_.ttlMs.empty()) {
        const std::array<std::string_view, 3> argv{"SET", spec_.key, req_.body()};
        backends::appendCommand(out, argv);
      } else {
        const std::array<std::string_view, 5> argv{"SET", spec_.key, req_.body(), "PX", spec_.ttlMs};
        backends::appendCommand(out, argv);
      }
      break;
    }
    case Op::Delete: {
      const std::array<std::string_view, 2> argv{"DEL", spec_.key};
      backends::appendCommand(out, argv);
      break;
    }
    case Op::Cmd:
    case Op::Upstash: backends::appendCommand(out, argvViews_); break;
    case Op::Pipeline:
    case Op::Multi:
    case Op::UpstashPipeline:
    case Op::UpstashMulti: {
      static constexpr std::array<std::string_view, 1> kMulti{"MULTI"};
      static constexpr std::array<std::string_view, 1> kExec{"EXEC"};
      const bool transaction = isMulti(spec_.op);
      // One buffer, one submit: the connection writes it whole, never interleaved with
      // another call's commands, so MULTI ... EXEC reaches Redis as one block.
      if (transaction) backends::appendCommand(out, kMulti);
      std::vector<std::string_view> views;
      for (const Argv& argv : spec_.batch) {
        views.assign(argv.begin(), argv.end());
        backends::appendCommand(out, views);
      }
      if (transaction) backends::appendCommand(out, kExec);
      break;
    }
  }
}

void DataRequest::rewriteScripts(Argv& argv) {
  if (argv.size() < 2) return;
  const std::string_view name = argv[0];
  auto is = [&](std::string_view candidate) { return text::iequals(name, candidate); };
  if (is("EVAL") || is("EVAL_RO") || (is("SCRIPT") && argv.size() >= 3 && text::iequals(argv[1], "LOAD"))) {
    std::string& script = is("SCRIPT") ? argv[2] : argv[1];
    if (auto stripped = stripUpstashScriptFlags(script)) {
      worker_.scriptAliases().remember(script, *stripped);
      script = std::move(*stripped);
    }
  } else if (is("EVALSHA") || is("EVALSHA_RO")) {
    if (auto alias = worker_.scriptAliases().aliasOf(argv[1])) argv[1] = std::move(*alias);
  }
}

bool DataRequest::sessionSettledBySnapshot() {
  if (tokens().empty()) return true;
  session_ = routing::mergeTokens(tokens(), topology_->primary(), topology_->lineage);
  return session_.status == routing::SessionRequirement::Status::Ok;
}

}  // namespace cx::proxy
