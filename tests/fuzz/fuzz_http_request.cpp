// Differential fuzzing of the request parser (proxy/http_request.h) against Beast's
// http::request_parser on the same bytes, message after message (pipelining).
//
// The property: where ours accepts a request, Beast accepts it too, with the same method,
// target, version, fields (names, values, order among those of a name), keep-alive (when
// there is at most one Connection field: see below), decoded body and, above
// all, the same message boundary (bytes used). Ours may reject what Beast accepts: it is
// stricter on purpose (README "Hostile clients"): obs-fold, bare LF, a Transfer-Encoding
// other than exactly "chunked", HTTP/1.0 with Transfer-Encoding, Content-Length together
// with Transfer-Encoding, a repeated Content-Length, a missing or repeated Host. A
// difference in where a message ends is what request smuggling is made of, so it aborts.
//
// Ours also runs twice on every input: whole, and fed in pieces of a size taken from the
// first input byte the way the server buffers a connection; both runs must agree (on
// what they accept; a refusal's reason may differ).
#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/http/request.h"

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using cx::proxy::ParseStatus;
using cx::proxy::Request;
using cx::proxy::RequestParser;

constexpr std::size_t kHeaderLimit = 8 * 1024;
constexpr std::uint64_t kBodyLimit = 64 * 1024;
constexpr int kMaxMessages = 4;

enum class Outcome { Accepted, NeedMore, Rejected };

struct Parsed {
  Outcome outcome = Outcome::NeedMore;
  ParseStatus status = ParseStatus::NeedMore;  // ours only
  std::size_t used = 0;                        // bytes of the input this message took
  std::string method;
  std::string target;
  unsigned version = 0;
  bool keepAlive = false;
  std::vector<std::pair<std::string, std::string>> fields;  // the header's, not trailers
  std::string body;
};

[[noreturn]] void fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "fuzz_http_request: %s\ninput (%zu bytes): ", what, input.size());
  for (unsigned char c : input) {
    if (c >= 0x20 && c < 0x7f && c != '\\')
      std::fputc(c, stderr);
    else
      std::fprintf(stderr, "\\x%02x", c);
  }
  std::fputc('\n', stderr);
  std::abort();
}

// One message with our parser, fed `piece` bytes at a time (0: all at once); unused
// bytes stay buffered and are offered again with the next piece, as in the server.
Parsed runOurs(RequestParser& parser, const Request& req, std::string_view input, std::size_t piece) {
  Parsed out;
  parser.reset();
  std::string buffered;
  std::size_t offered = 0;
  std::size_t used = 0;
  for (;;) {
    const std::size_t n = piece == 0 ? input.size() - offered : std::min(piece, input.size() - offered);
    buffered.append(input.substr(offered, n));
    offered += n;
    for (;;) {
      if (parser.done()) {
        out.outcome = Outcome::Accepted;
        out.status = ParseStatus::Ok;
        out.used = used;
        out.method = std::string(req.method_string());
        out.target = std::string(req.target());
        out.version = req.version();
        out.keepAlive = req.keep_alive();
        for (const auto& f : req) out.fields.emplace_back(f.name_string(), f.value());
        out.body = req.body();
        return out;
      }
      const auto r = parser.headerDone() ? parser.parseBody(buffered) : parser.parseHeader(buffered);
      if (r.used > buffered.size()) fail("ours used more bytes than it was given", input);
      buffered.erase(0, r.used);
      used += r.used;
      if (r.status == ParseStatus::NeedMore) break;
      if (r.status != ParseStatus::Ok) {
        out.outcome = Outcome::Rejected;
        out.status = r.status;
        return out;
      }
    }
    if (offered == input.size()) return out;  // NeedMore
  }
}

Parsed runBeast(std::string_view input) {
  Parsed out;
  bhttp::request_parser<bhttp::string_body> p;
  p.header_limit(1 << 20);  // ours has the tighter limits: only its refusals may come of them
  p.body_limit(std::uint64_t{1} << 20);
  p.eager(false);
  beast::error_code ec;
  std::size_t used = 0;
  bool snapshot = false;
  while (!p.is_done()) {
    const std::size_t n = p.put(boost::asio::buffer(input.data() + used, input.size() - used), ec);
    used += n;
    if (ec == bhttp::error::need_more) return out;
    if (ec) {
      out.outcome = Outcome::Rejected;
      return out;
    }
    if (p.is_header_done() && !snapshot) {  // the header's fields, before any trailer joins them
      snapshot = true;
      for (const auto& f : p.get()) out.fields.emplace_back(f.name_string(), f.value());
      p.eager(true);
    }
    if (n == 0 && !p.is_done()) return out;
  }
  const auto& m = p.get();
  out.outcome = Outcome::Accepted;
  out.used = used;
  out.method = std::string(m.method_string());
  out.target = std::string(m.target());
  out.version = m.version();
  out.keepAlive = m.keep_alive();
  out.body = m.body();
  return out;
}

// Beast's fields keep a field next to the others of its name (in arrival order among
// them), so fields are compared grouped by name.
std::vector<std::pair<std::string, std::string>> grouped(std::vector<std::pair<std::string, std::string>> fields) {
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  std::stable_sort(fields.begin(), fields.end(),
                   [&](const auto& a, const auto& b) { return lower(a.first) < lower(b.first); });
  return fields;
}

bool sameAcceptance(const Parsed& a, const Parsed& b) {
  return a.outcome == b.outcome && a.used == b.used && a.method == b.method && a.target == b.target &&
         a.version == b.version && a.keepAlive == b.keepAlive && a.fields == b.fields && a.body == b.body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = data[0] % 16;  // 0: the whole input at once
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  static Request whole;  // reused across inputs, as the server reuses its Requests
  static RequestParser wholeParser(whole, kHeaderLimit, kBodyLimit);
  static Request pieces;
  static RequestParser piecesParser(pieces, kHeaderLimit, kBodyLimit);

  const std::string_view all = input;
  for (int message = 0; message < kMaxMessages && !input.empty(); ++message) {
    const Parsed ours = runOurs(wholeParser, whole, input, 0);
    const Parsed oursInPieces = runOurs(piecesParser, pieces, input, piece);
    // Refusals may differ in their reason: a piece can show a bare LF before the whole
    // block shows a bad field.
    if (ours.outcome != oursInPieces.outcome ||
        (ours.outcome == Outcome::Accepted && !sameAcceptance(ours, oursInPieces))) {
      fail("ours parsed differently when fed in pieces", all);
    }
    if (ours.outcome == Outcome::Rejected) return 0;  // stricter than Beast is allowed

    const Parsed theirs = runBeast(input);
    if (ours.outcome == Outcome::NeedMore) {
      // Ours waits for more where Beast saw a whole message: they disagree on where the
      // message ends (unless the bytes run out for both).
      if (theirs.outcome == Outcome::Accepted) fail("Beast saw a complete message where ours wants more", all);
      return 0;
    }
    if (theirs.outcome != Outcome::Accepted) fail("ours accepted a message Beast does not", all);
    if (ours.used != theirs.used) fail("ours and Beast end the message at different bytes", all);
    if (ours.method != theirs.method) fail("different method", all);
    if (ours.target != theirs.target) fail("different target", all);
    if (ours.version != theirs.version) fail("different version", all);
    // Beast's keep_alive() reads only the first Connection field; RFC 9110 §5.3 makes
    // several one list, which is what ours reads. With one field they must agree.
    const auto connectionFields = std::count_if(theirs.fields.begin(), theirs.fields.end(), [](const auto& f) {
      return f.first.size() == 10 && std::equal(f.first.begin(), f.first.end(), "connection", [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) == b;
             });
    });
    if (connectionFields <= 1 && ours.keepAlive != theirs.keepAlive) fail("different keep-alive", all);
    if (grouped(ours.fields) != grouped(theirs.fields)) {
      for (const auto& [n, v] : ours.fields) std::fprintf(stderr, "ours:  [%s] [%s]\n", n.c_str(), v.c_str());
      for (const auto& [n, v] : theirs.fields) std::fprintf(stderr, "Beast: [%s] [%s]\n", n.c_str(), v.c_str());
      fail("different header fields", all);
    }
    if (ours.body != theirs.body) fail("different body", all);
    input.remove_prefix(ours.used);
  }
  return 0;
}
