// Fuzzing of the RESP reply reader (backends/resp.h): the bytes a Redis node (or anything
// between it and us) sends. Properties: no crash and no unbounded allocation on any
// input; the same replies whether the bytes come at once or in pieces (size from the
// first input byte); every reply renders as JSON (proxy/reply_json.h) and the command
// encoder's output reads back as the array of bulk strings it encoded.
#include <boost/json/parse.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "backends/resp.h"
#include "proxy/api/reply_json.h"

namespace {

using cx::backends::RespReader;
using cx::backends::RespType;
using cx::backends::RespValue;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_resp_reader: %s\n", what);
  std::abort();
}

bool equal(const RespValue& a, const RespValue& b) {
  if (a.type != b.type || a.str != b.str || a.integer != b.integer || a.elements.size() != b.elements.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.elements.size(); ++i) {
    if (!equal(a.elements[i], b.elements[i])) return false;
  }
  return true;
}

struct Read {
  std::vector<RespValue> replies;
  bool protocolError = false;
};

Read readAll(std::string_view input, std::size_t piece) {
  Read out;
  RespReader reader;
  std::size_t offered = 0;
  do {
    const std::size_t n = piece == 0 ? input.size() - offered : std::min(piece, input.size() - offered);
    reader.feed(input.data() + offered, n);
    offered += n;
    for (;;) {
      RespValue v;
      const auto status = reader.next(v);
      if (status == RespReader::Status::NeedMore) break;
      if (status == RespReader::Status::ProtocolError) {
        out.protocolError = true;
        return out;
      }
      out.replies.push_back(std::move(v));
    }
  } while (offered < input.size());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = data[0] % 8;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  const Read whole = readAll(input, 0);
  const Read pieces = readAll(input, piece);
  if (whole.protocolError != pieces.protocolError || whole.replies.size() != pieces.replies.size()) {
    fail("different replies when fed in pieces");
  }
  for (std::size_t i = 0; i < whole.replies.size(); ++i) {
    if (!equal(whole.replies[i], pieces.replies[i])) fail("a different reply when fed in pieces");
    std::string json;
    cx::proxy::appendReplyJson(json, whole.replies[i]);
    boost::system::error_code ec;
    boost::json::parse(json, ec);
    if (ec) fail("a reply renders as invalid JSON");
  }

  // The input split at NULs as a command: encoded, it reads back as bulk strings.
  std::vector<std::string_view> argv;
  for (std::string_view rest = input;;) {
    const auto nul = rest.find('\0');
    argv.push_back(rest.substr(0, nul));
    if (nul == std::string_view::npos) break;
    rest.remove_prefix(nul + 1);
  }
  const std::string encoded = cx::backends::encodeCommand(argv);
  const Read back = readAll(encoded, 0);
  if (back.protocolError || back.replies.size() != 1) fail("an encoded command does not read back");
  const RespValue& array = back.replies[0];
  if (array.type != RespType::Array || array.elements.size() != argv.size())
    fail("an encoded command is not its array");
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (array.elements[i].type != RespType::Bulk || array.elements[i].str != argv[i]) {
      fail("an encoded argument reads back differently");
    }
  }
  return 0;
}
