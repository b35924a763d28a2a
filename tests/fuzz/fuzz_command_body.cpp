// Fuzzing of the POST /v1/cmd body parser and the JSON helpers beside it
// (proxy/reply_json.h). Properties: parseCommandBody() never crashes or throws on any body,
// gives a non-empty argv or an error message (then an empty argv), and an argv it gave
// comes back the same when re-sent as {"base64": ...} objects; base64 round-trips; a JSON string
// written by appendJsonString() parses back to the same bytes (valid UTF-8) and is
// always valid JSON.
#include <boost/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/api/reply_json.h"

namespace {

using namespace cx::proxy;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_command_body: %s\n", what);
  std::abort();
}

void checkBody(std::string_view body) {
  std::vector<std::string> argv{"left over"};
  const auto error = parseCommandBody(body, argv);
  if (error) {
    if (!argv.empty()) fail("an error left arguments behind");
    if (error->empty()) fail("an empty error message");
    return;
  }
  if (argv.empty()) fail("accepted without arguments");
  std::string again = "[";
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (i != 0) again += ',';
    again += "{\"base64\":\"";
    appendBase64(again, argv[i]);
    again += "\"}";
  }
  again += ']';
  std::vector<std::string> back;
  if (parseCommandBody(again, back) || back != argv) fail("arguments do not survive base64");
}

void checkStrings(std::string_view bytes) {
  std::string b64;
  appendBase64(b64, bytes);
  const auto decoded = decodeBase64(b64);
  if (!decoded || *decoded != bytes) fail("base64 does not round-trip");
  // decodeBase64 is lenient where RFC 4648 allows (padding optional, unused bits not
  // checked): whatever it accepts only has to survive being encoded again.
  if (const auto d = decodeBase64(bytes)) {
    std::string again;
    appendBase64(again, *d);
    if (decodeBase64(again) != d) fail("decoded base64 does not survive encoding");
  }

  std::string json;
  appendJsonString(json, bytes);
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(json, ec);
  if (ec || !v.is_string()) fail("appendJsonString wrote invalid JSON");
  if (isValidUtf8(bytes) && std::string_view(v.get_string()) != bytes) fail("a UTF-8 string does not survive JSON");
  if (!isValidUtf8(std::string_view(v.get_string()))) fail("appendJsonString wrote invalid UTF-8");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  checkBody(input);
  checkStrings(input);
  return 0;
}
