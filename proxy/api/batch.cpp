// Batch bodies and batch plans (see batch.h).
#include "proxy/api/batch.h"

#include <boost/json.hpp>

#include <charconv>
#include <cmath>

#include "backends/text.h"
#include "proxy/api/reply_json.h"
#include "routing/router.h"
#include "routing/rules.h"

namespace cx::proxy {

namespace {

constexpr std::string_view kBatchExample = R"([["SET", "a", "1"], ["GET", "a"]])";

// JSON's text for a number a JavaScript client sent: integers as they are, others the
// way JavaScript prints them (plain digits from 1e-6 up to 1e21, an exponent otherwise).
std::string numberText(double value) {
  char buffer[64];
  const double magnitude = std::fabs(value);
  const auto format = magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e21) ? std::chars_format::fixed
                                                                                : std::chars_format::scientific;
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, format);
  return std::string(buffer, result.ptr);
}

// "the command" or "command 3 of the batch", for messages.
std::string commandName(std::size_t position) {
  return position == 0 ? std::string("the command") : "command " + std::to_string(position) + " of the batch";
}

std::string elementError(std::size_t position, std::size_t index, std::string_view problem) {
  return "element " + std::to_string(index) + " of " + commandName(position) + " " + std::string(problem);
}

bool isScript(std::string_view lowerName) {
  return lowerName == "eval" || lowerName == "evalsha" || lowerName == "eval_ro" || lowerName == "evalsha_ro" ||
         lowerName == "fcall" || lowerName == "fcall_ro";
}

std::string notJson(const boost::system::error_code& ec, std::string_view example) {
  return "the body is not valid JSON (" + ec.message() + "); send " + std::string(example);
}

}  // namespace

bool isCursorCommand(std::string_view name) {
  return name == "scan" || name == "hscan" || name == "sscan" || name == "zscan";
}

std::optional<std::string> argvFromJson(const boost::json::value& command, std::size_t position, Argv& argv) {
  argv.clear();
  const boost::json::array* elements = command.if_array();
  if (elements == nullptr || elements->empty()) {
    return commandName(position) + " must be a non-empty JSON array such as [\"GET\", \"key\"]";
  }
  argv.reserve(elements->size());
  for (std::size_t i = 0; i < elements->size(); ++i) {
    const boost::json::value& element = (*elements)[i];
    switch (element.kind()) {
      case boost::json::kind::string: {
        const boost::json::string& s = element.get_string();
        argv.emplace_back(s.data(), s.size());
        break;
      }
      case boost::json::kind::int64: argv.push_back(std::to_string(element.get_int64())); break;
      case boost::json::kind::uint64: argv.push_back(std::to_string(element.get_uint64())); break;
      case boost::json::kind::double_: argv.push_back(numberText(element.get_double())); break;
      case boost::json::kind::bool_: argv.emplace_back(element.get_bool() ? "true" : "false"); break;
      case boost::json::kind::object: {
        const boost::json::object& object = element.get_object();
        const boost::json::value* encoded = object.if_contains("base64");
        if (object.size() != 1 || encoded == nullptr || !encoded->is_string()) {
          argv.clear();
          return elementError(position, i, "is an object; the only object allowed is {\"base64\": \"...\"}");
        }
        const boost::json::string& text = encoded->get_string();
        auto decoded = decodeBase64(std::string_view(text.data(), text.size()));
        if (!decoded) {
          argv.clear();
          return elementError(position, i, "is not valid standard base64");
        }
        argv.push_back(std::move(*decoded));
        break;
      }
      case boost::json::kind::array:
        argv.clear();
        return elementError(position, i,
                            "is an array; arguments are strings, numbers, booleans or {\"base64\": \"...\"}");
      case boost::json::kind::null:
        argv.clear();
        return elementError(position, i, "is null; arguments are strings, numbers, booleans or {\"base64\": \"...\"}");
    }
  }
  return std::nullopt;
}

std::variant<Argv, BodyError> parseCommandJson(std::string_view body) {
  // A request's JSON is short-lived: an arena with a stack buffer saves an allocation per value.
  unsigned char buffer[4096];
  boost::json::monotonic_resource resource(buffer, sizeof buffer);
  boost::system::error_code ec;
  const boost::json::value parsed = boost::json::parse(body, ec, &resource);
  if (ec) return BodyError{false, notJson(ec, R"(a JSON array such as ["GET", "key"])")};
  Argv argv;
  if (auto error = argvFromJson(parsed, 0, argv)) return BodyError{false, std::move(*error)};
  return argv;
}

std::variant<std::vector<Argv>, BodyError> parseBatchJson(std::string_view body, std::size_t maxCommands) {
  unsigned char buffer[8192];
  boost::json::monotonic_resource resource(buffer, sizeof buffer);
  boost::system::error_code ec;
  const boost::json::value parsed = boost::json::parse(body, ec, &resource);
  if (ec) return BodyError{false, notJson(ec, "a JSON array of commands such as " + std::string(kBatchExample))};
  const boost::json::array* commands = parsed.if_array();
  if (commands == nullptr || commands->empty()) {
    return BodyError{false,
                     "the body must be a non-empty JSON array of commands such as " + std::string(kBatchExample)};
  }
  if (commands->size() > maxCommands) {
    return BodyError{true, "the batch has " + std::to_string(commands->size()) + " commands; the limit is " +
                               std::to_string(maxCommands) + " (limits.max_batch_commands): split it"};
  }
  std::vector<Argv> out(commands->size());
  for (std::size_t i = 0; i < commands->size(); ++i) {
    if (!(*commands)[i].is_array()) {
      return BodyError{false, commandName(i + 1) + " is not an array; send " + std::string(kBatchExample)};
    }
    if (auto error = argvFromJson((*commands)[i], i + 1, out[i])) return BodyError{false, std::move(*error)};
  }
  return out;
}

std::variant<BatchPlan, BatchRefusal> planBatch(std::span<const Argv> commands, BatchKind kind,
                                                const backends::CommandPolicy& policy) {
  BatchPlan plan;
  plan.commands.reserve(commands.size());
  std::vector<std::string_view> views;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    const Argv& argv = commands[i];
    views.assign(argv.begin(), argv.end());
    const auto decision = policy.check(views);
    auto prefix = [i] { return commandName(i + 1) + ": "; };
    if (!decision.allowed()) {
      return BatchRefusal{i, decision.verdict == backends::CommandVerdict::NotAllowed,
                          prefix() + backends::refusalMessage(decision, views)};
    }
    const backends::CommandInfo& info = *decision.command;
    const std::string_view container = std::string_view(info.name).substr(0, info.name.find('|'));
    if (kind == BatchKind::Multi && (info.inTransactionCategory || info.isNoMulti)) {
      return BatchRefusal{i, true, prefix() + "'" + text::upperCopy(info.name) + "' cannot run inside MULTI ... EXEC"};
    }
    PlannedCommand command;
    command.name = text::upperCopy(argv[0]);
    command.isWrite = decision.isWrite;
    // keyArguments() returns views into `views`, whose elements view `argv`'s strings.
    command.keys = backends::keyArguments(info, views);
    plan.isWrite = plan.isWrite || decision.isWrite;
    plan.needsPrimary = plan.needsPrimary || isCursorCommand(container);
    plan.hasScript = plan.hasScript || isScript(container);
    plan.commands.push_back(std::move(command));
  }
  return plan;
}

BatchPolicy batchPolicy(const BatchPlan& plan, const routing::RuleList& rules, const routing::Policy& defaultPolicy,
                        std::optional<routing::Level> requested) {
  BatchPolicy out;
  bool first = true;
  auto consider = [&](std::string_view key, const PlannedCommand& command) {
    const routing::Rule* rule = routing::matchRule(rules, key, "POST", command.name, command.isWrite);
    const routing::Policy& policy = rule ? rule->policy : defaultPolicy;
    const auto choice = routing::chooseLevel(policy, requested);
    out.headerOverridden = out.headerOverridden || choice.headerOverridden;
    if (first || routing::isStronger(choice.level, out.level)) {
      const auto maxStaleness = out.policy.maxStaleness;
      const bool downgrade = first || out.policy.downgradeEnabled;
      const auto floor = out.policy.floor;
      out.policy = policy;
      out.policy.maxStaleness = first ? policy.maxStaleness : maxStaleness;
      out.policy.downgradeEnabled = downgrade;
      out.policy.floor = first ? policy.floor : floor;
      out.rule = rule;
      out.level = choice.level;
    }
    if (policy.maxStaleness && (!out.policy.maxStaleness || *policy.maxStaleness < *out.policy.maxStaleness)) {
      out.policy.maxStaleness = policy.maxStaleness;
    }
    out.policy.downgradeEnabled = out.policy.downgradeEnabled && policy.downgradeEnabled;
    if (routing::isStronger(policy.floor, out.policy.floor)) out.policy.floor = policy.floor;
    first = false;
  };
  for (const PlannedCommand& command : plan.commands) {
    if (command.keys.empty()) consider({}, command);
    for (std::string_view key : command.keys) consider(key, command);
  }
  out.policy.level = out.level;
  return out;
}

}  // namespace cx::proxy
