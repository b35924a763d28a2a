// The request parser (see request.h for why it exists and how strict it is).
#include "proxy/http/request.h"

#include <boost/beast/core/string.hpp>

#include <array>
#include <bit>
#include <cstring>
#include <limits>

namespace cx::proxy {

namespace {

using boost::beast::iequals;
constexpr std::string_view kCrlf = "\r\n";
// A chunk-size line (with its extensions) longer than this is refused, so a client cannot
// make the server buffer without end while it looks for the line's end.
constexpr std::size_t kMaxChunkLine = 4096;

// RFC 9110 §5.6.2 tchar: the characters of a method and of a field name.
constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

// Field values: HTAB, SP, VCHAR and obs-text; never another control character (a bare CR
// or LF inside a value is how requests get smuggled).
constexpr std::array<bool, 256> kValueChars = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x100; ++c) t[static_cast<std::size_t>(c)] = c != 0x7f;
  t['\t'] = true;
  return t;
}();

// The characters of a Host value (RFC 9112 §3.2: uri-host [ ":" port ]): a reg-name's
// unreserved, sub-delims and pct-encoded, an IP literal's brackets and colons.
constexpr std::array<bool, 256> kHostChars = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("-._~!$&'()*+,;=%:[]")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool allOf(std::string_view s, const std::array<bool, 256>& table) {
  for (char c : s) {
    if (!table[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// The first byte at or after `p` that is a control character (below 0x20) or DEL, eight
// bytes at a time: in a field value that is the CR ending the line, a tab, or an error.
// The block ends with "\r\n\r\n", so the search stops before `end`.
const char* findControl(const char* p, const char* end) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  constexpr std::uint64_t kHigh = 0x8080808080808080ull;
  while (end - p >= 8) {
    std::uint64_t x;
    std::memcpy(&x, p, 8);
    const std::uint64_t below20 = (x - kOnes * 0x20) & ~x & kHigh;  // exact for the lowest byte flagged
    const std::uint64_t del = ((x ^ (kOnes * 0x7f)) - kOnes) & ~(x ^ (kOnes * 0x7f)) & kHigh;
    if (const std::uint64_t hit = below20 | del) return p + std::countr_zero(hit) / 8;  // little-endian
    p += 8;
  }
  while (p < end && static_cast<unsigned char>(*p) >= 0x20 && *p != 0x7f) ++p;
  return p;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// `name` against a lower-case constant.
bool equalsLower(std::string_view name, std::string_view lowerConstant) {
  if (name.size() != lowerConstant.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (lower(name[i]) != lowerConstant[i]) return false;
  }
  return true;
}

std::string_view trimWhitespace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ) (RFC 9112
// §7.1.1), names and values tokens or quoted strings. Extensions are ignored, but one the
// grammar does not allow is refused: another parser on the path might read it otherwise.
bool validChunkExtensions(std::string_view ext) {
  std::size_t i = 0;
  auto skipBws = [&] {
    while (i < ext.size() && (ext[i] == ' ' || ext[i] == '\t')) ++i;
  };
  auto token = [&] {
    const std::size_t from = i;
    while (i < ext.size() && kTokenChars[static_cast<unsigned char>(ext[i])]) ++i;
    return i > from;
  };
  // BWS only ever precedes a ";" or an "=": whitespace before the end of the line is
  // outside the grammar (and Beast refuses it).
  for (;;) {
    const std::size_t beforeBws = i;
    skipBws();
    if (i == ext.size()) return i == beforeBws;
    if (ext[i] != ';') return false;
    ++i;
    skipBws();
    if (!token()) return false;
    const std::size_t afterName = i;
    skipBws();
    if (i == ext.size()) return i == afterName;
    if (ext[i] != '=') continue;
    ++i;
    skipBws();
    if (i < ext.size() && ext[i] == '"') {
      // quoted-string: qdtext / quoted-pair, up to the closing DQUOTE.
      for (++i;; ++i) {
        if (i == ext.size()) return false;
        const auto c = static_cast<unsigned char>(ext[i]);
        if (c == '"') break;
        if (c == '\\') {
          if (++i == ext.size()) return false;
          const auto q = static_cast<unsigned char>(ext[i]);
          if (q != '\t' && (q < 0x20 || q == 0x7f)) return false;
        } else if (c != '\t' && (c < 0x20 || c == 0x7f)) {
          return false;
        }
      }
      ++i;
    } else if (!token()) {
      return false;
    }
  }
}

// A comma-separated list of tokens (empty elements allowed, RFC 9110 §5.6.1).
bool tokenList(std::string_view value) {
  for (;;) {
    const auto comma = value.find(',');
    if (!allOf(trimWhitespace(value.substr(0, comma)), kTokenChars)) return false;
    if (comma == std::string_view::npos) return true;
    value.remove_prefix(comma + 1);
  }
}

// "name: value" (a trailer field line). Trailers are dropped, but one that would change
// the framing (Content-Length, Transfer-Encoding) or a Connection that is no token list
// is refused: a parser that reads trailers into the header (as Beast does) refuses those.
bool validTrailerLine(std::string_view line) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = line.substr(colon + 1);
  if (!allOf(name, kTokenChars) || !allOf(value, kValueChars)) return false;
  if (equalsLower(name, "content-length") || equalsLower(name, "transfer-encoding")) return false;
  return !equalsLower(name, "connection") || tokenList(value);
}

}  // namespace

std::string_view describe(ParseStatus status) {
  switch (status) {
    case ParseStatus::Ok: return "ok";
    case ParseStatus::NeedMore: return "incomplete request";
    case ParseStatus::HeaderTooLarge: return "the header is too large";
    case ParseStatus::BodyTooLarge: return "the body is too large";
    case ParseStatus::BadRequestLine: return "bad request line";
    case ParseStatus::BadVersion: return "unsupported HTTP version (HTTP/1.0 and HTTP/1.1 are served)";
    case ParseStatus::BadField: return "bad header field";
    case ParseStatus::BadContentLength: return "bad Content-Length";
    case ParseStatus::BadTransferEncoding: return "unsupported Transfer-Encoding (only chunked is accepted)";
    case ParseStatus::LengthAndEncoding: return "a request must not carry both Content-Length and Transfer-Encoding";
    case ParseStatus::EncodingInHttp10:
      return "Transfer-Encoding in an HTTP/1.0 request (its framing cannot be trusted)";
    case ParseStatus::BadHost: return "an HTTP/1.1 request needs exactly one valid Host field";
    case ParseStatus::BadChunk: return "bad chunked encoding";
    case ParseStatus::BareLineFeed: return "bad line ending (lines end with CRLF)";
    case ParseStatus::PartialMessage: return "the connection closed in the middle of a request";
  }
  return "unknown";
}

std::string_view Request::operator[](std::string_view name) const {
  for (const auto& f : fields_) {
    if (iequals(f.name_string(), name)) return f.value();
  }
  return {};
}

void Request::clear() {
  // A Request is reused: its buffers keep their capacity, unless an unusually large body
  // would otherwise stay allocated for as long as the Request lives.
  constexpr std::size_t kKeepBody = 64 * 1024;
  head_.clear();
  if (body_.capacity() > kKeepBody) {
    std::string().swap(body_);
  } else {
    body_.clear();
  }
  fields_.clear();
  method_ = http::verb::unknown;
  methodText_ = {};
  target_ = {};
  version_ = 11;
  keepAlive_ = true;
}

void RequestParser::reset() {
  req_.clear();
  state_ = State::Header;
  scanned_ = 0;
  remaining_ = 0;
  trailerBytes_ = 0;
  gotSome_ = false;
  expectContinue_ = false;
  hasLength_ = false;
  hasEncoding_ = false;
  chunked_ = false;
  close_ = false;
  keepAliveToken_ = false;
  hosts_ = 0;
  length_ = 0;
}

RequestParser::Result RequestParser::parseHeader(std::string_view data) {
  if (state_ != State::Header) return {ParseStatus::Ok, 0};
  gotSome_ = gotSome_ || !data.empty();
  // Resume the search for the blank line where the last one stopped (minus the three
  // bytes that could start a "\r\n\r\n" cut by the previous read).
  const std::size_t from = scanned_ >= 3 ? scanned_ - 3 : 0;
  const auto end = data.find("\r\n\r\n", from);
  if (end == std::string_view::npos) {
    // A client ending lines with LF alone would otherwise wait out the header deadline
    // for a blank line that never comes: refuse it as soon as such a line arrives.
    for (auto lf = data.find('\n', scanned_); lf != std::string_view::npos; lf = data.find('\n', lf + 1)) {
      if (lf == 0 || data[lf - 1] != '\r') return {ParseStatus::BareLineFeed, 0};
    }
    scanned_ = data.size();
    if (data.size() > headerLimit_) return {ParseStatus::HeaderTooLarge, 0};
    return {ParseStatus::NeedMore, 0};
  }
  const std::size_t headerBytes = end + 4;
  if (headerBytes > headerLimit_) return {ParseStatus::HeaderTooLarge, 0};
  req_.head_.assign(data.data(), headerBytes);
  if (auto status = parseHead(); status != ParseStatus::Ok) return {status, 0};

  if (hasEncoding_ && req_.version_ == 10) return {ParseStatus::EncodingInHttp10, 0};
  if (hasLength_ && hasEncoding_) return {ParseStatus::LengthAndEncoding, 0};
  if (hasEncoding_ && !chunked_) return {ParseStatus::BadTransferEncoding, 0};
  if (chunked_) {
    state_ = State::ChunkSize;
  } else if (length_ > 0) {
    if (length_ > bodyLimit_) return {ParseStatus::BodyTooLarge, 0};
    req_.body_.reserve(static_cast<std::size_t>(length_));
    remaining_ = length_;
    state_ = State::Length;
  } else {
    state_ = State::Done;
  }
  return {ParseStatus::Ok, headerBytes};
}

ParseStatus RequestParser::parseHead() {
  const std::string_view head = req_.head_;  // ends with "\r\n\r\n"
  // request-line = method SP request-target SP HTTP-version CRLF
  const auto lineEnd = head.find(kCrlf);
  const std::string_view line = head.substr(0, lineEnd);
  const auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return ParseStatus::BadRequestLine;
  const auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return ParseStatus::BadRequestLine;
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!allOf(method, kTokenChars)) return ParseStatus::BadRequestLine;
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return ParseStatus::BadRequestLine;
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return ParseStatus::BadRequestLine;
  }
  // HTTP/1.0 and HTTP/1.1 only. RFC 9110 §2.5 would have a later 1.x served as 1.1, but no
  // client sends one, and Beast (as other parsers) refuses it: a request that one parser
  // on the path refuses and another serves is how requests get smuggled.
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) return ParseStatus::BadVersion;
  req_.version_ = version[7] == '0' ? 10 : 11;
  req_.methodText_ = method;
  req_.method_ = http::string_to_verb(method);
  req_.target_ = target;

  // field-line = field-name ":" OWS field-value OWS CRLF, up to the blank line. One pass:
  // the name up to its colon, then the value up to the first control character, which
  // must be the CR of the line's CRLF (tabs are allowed and skipped).
  const char* p = head.data() + lineEnd + 2;
  const char* const end = head.data() + head.size();
  while (*p != '\r') {  // the block ends with a blank line, so this stops (checked below)
    const char* nameStart = p;
    while (kTokenChars[static_cast<unsigned char>(*p)]) ++p;        // stops at ':' or worse
    if (*p != ':' || p == nameStart) return ParseStatus::BadField;  // also obs-fold, "name :"
    const std::string_view name(nameStart, static_cast<std::size_t>(p - nameStart));
    ++p;
    const char* valueStart = p;
    for (;;) {
      p = findControl(p, end);
      if (*p != '\t') break;
      ++p;
    }
    if (p[0] != '\r' || p[1] != '\n') return ParseStatus::BadField;
    const std::string_view value =
        trimWhitespace(std::string_view(valueStart, static_cast<std::size_t>(p - valueStart)));
    p += 2;
    req_.fields_.emplace_back(name, value);
    if (auto status = onField(name, value); status != ParseStatus::Ok) return status;
  }
  // The loop stops at the first line that starts with CR: only the blank line ending the
  // block may. A bare CR starting a line would otherwise hide every field after it.
  if (p + 2 != end) return ParseStatus::BadField;
  if (hosts_ > 1 || (hosts_ == 0 && req_.version_ == 11)) return ParseStatus::BadHost;
  req_.keepAlive_ = req_.version_ == 11 ? !close_ : keepAliveToken_ && !close_;
  return ParseStatus::Ok;
}

ParseStatus RequestParser::onField(std::string_view name, std::string_view value) {
  switch (name.size()) {
    case 14:
      if (equalsLower(name, "content-length")) {
        // Digits only, in one field: a list ("5, 5"), a sign or a second field (even
        // with the same value, which RFC 9112 §6.3 lets a recipient accept) is refused.
        if (value.empty() || value.size() > 19) return ParseStatus::BadContentLength;
        std::uint64_t n = 0;
        for (char c : value) {
          if (c < '0' || c > '9') return ParseStatus::BadContentLength;
          n = n * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (hasLength_) return ParseStatus::BadContentLength;
        hasLength_ = true;
        length_ = n;
      }
      break;
    case 17:
      if (equalsLower(name, "transfer-encoding")) {
        if (hasEncoding_)
          chunked_ = false;  // a second field makes "chunked, chunked" or worse
        else
          chunked_ = iequals(value, "chunked");
        hasEncoding_ = true;
      }
      break;
    case 10:
      if (equalsLower(name, "connection")) {
        // connection = #connection-option (tokens): anything else is refused, as Beast
        // and other parsers in front of us refuse it.
        if (!tokenList(value)) return ParseStatus::BadField;
        std::string_view rest = value;
        while (!rest.empty()) {
          const auto comma = rest.find(',');
          const auto option = trimWhitespace(rest.substr(0, comma));
          if (iequals(option, "close")) close_ = true;
          if (iequals(option, "keep-alive")) keepAliveToken_ = true;
          if (comma == std::string_view::npos) break;
          rest.remove_prefix(comma + 1);
        }
      }
      break;
    case 4:
      if (equalsLower(name, "host")) {
        ++hosts_;
        if (!allOf(value, kHostChars)) return ParseStatus::BadHost;
      }
      break;
    case 6:
      if (equalsLower(name, "expect") && iequals(value, "100-continue")) expectContinue_ = true;
      break;
    default: break;
  }
  return ParseStatus::Ok;
}

RequestParser::Result RequestParser::parseBody(std::string_view data) {
  std::size_t used = 0;
  auto& body = req_.body_;
  while (state_ != State::Done) {
    const std::string_view rest = data.substr(used);
    switch (state_) {
      case State::Header: return {ParseStatus::Ok, used};  // parseHeader first
      case State::Length:
      case State::ChunkData: {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, rest.size()));
        body.append(rest.data(), n);
        used += n;
        remaining_ -= n;
        if (remaining_ > 0) return {ParseStatus::NeedMore, used};
        state_ = state_ == State::Length ? State::Done : State::ChunkEnd;
        break;
      }
      case State::ChunkSize: {
        // chunk-size [ chunk-ext ] CRLF; extensions are allowed and ignored.
        const auto eol = rest.find(kCrlf);
        if (eol == std::string_view::npos) {
          if (rest.size() > kMaxChunkLine) return {ParseStatus::BadChunk, used};
          if (rest.find('\n') != std::string_view::npos) return {ParseStatus::BareLineFeed, used};
          return {ParseStatus::NeedMore, used};
        }
        const std::string_view line = rest.substr(0, eol);
        std::size_t i = 0;
        std::uint64_t size = 0;
        for (; i < line.size() && hexDigit(line[i]) >= 0; ++i) {
          if (size > (std::numeric_limits<std::uint64_t>::max() >> 4)) return {ParseStatus::BadChunk, used};
          size = size * 16 + static_cast<std::uint64_t>(hexDigit(line[i]));
        }
        if (i == 0) return {ParseStatus::BadChunk, used};
        if (!validChunkExtensions(line.substr(i))) return {ParseStatus::BadChunk, used};
        used += eol + 2;
        if (size == 0) {
          state_ = State::Trailers;
        } else {
          if (size > bodyLimit_ - body.size()) return {ParseStatus::BodyTooLarge, used};
          remaining_ = size;
          state_ = State::ChunkData;
        }
        break;
      }
      case State::ChunkEnd:
        if (rest.size() < 2) return {ParseStatus::NeedMore, used};
        if (rest.substr(0, 2) != kCrlf) return {ParseStatus::BadChunk, used};
        used += 2;
        state_ = State::ChunkSize;
        break;
      case State::Trailers: {
        // Trailer fields are read and dropped; they count against the header limit.
        const auto eol = rest.find(kCrlf);
        if (eol == std::string_view::npos) {
          if (trailerBytes_ + rest.size() > headerLimit_) return {ParseStatus::HeaderTooLarge, used};
          if (rest.find('\n') != std::string_view::npos) return {ParseStatus::BareLineFeed, used};
          return {ParseStatus::NeedMore, used};
        }
        trailerBytes_ += eol + 2;
        if (trailerBytes_ > headerLimit_) return {ParseStatus::HeaderTooLarge, used};
        const std::string_view line = rest.substr(0, eol);
        if (!line.empty() && !validTrailerLine(line)) return {ParseStatus::BadField, used};
        used += eol + 2;
        if (line.empty()) state_ = State::Done;
        break;
      }
      case State::Done: break;
    }
  }
  return {ParseStatus::Ok, used};
}

}  // namespace cx::proxy
