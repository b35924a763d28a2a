// RESP2 command encoding and reply decoding on top of hiredis's redisReader.
#include "backends/resp.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <charconv>

namespace cx::backends {
namespace {

void appendLength(std::string& out, char prefix, std::size_t n) {
  char buf[24];
  buf[0] = prefix;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof(buf) - 2, n);
  (void)ec;
  *end++ = '\r';
  *end++ = '\n';
  out.append(buf, static_cast<std::size_t>(end - buf));
}

RespValue convert(const redisReply* reply) {
  RespValue v;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      v.type = RespType::Bulk;
      v.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_STATUS:
      v.type = RespType::Status;
      v.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ERROR:
      v.type = RespType::Error;
      v.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_INTEGER:
      v.type = RespType::Integer;
      v.integer = reply->integer;
      break;
    case REDIS_REPLY_ARRAY:
      v.type = RespType::Array;
      v.elements.reserve(reply->elements);
      for (std::size_t i = 0; i < reply->elements; ++i) v.elements.push_back(convert(reply->element[i]));
      break;
    default:
      v.type = RespType::Nil;
      break;
  }
  return v;
}

}  // namespace

void appendCommand(std::string& out, std::span<const std::string_view> argv) {
  std::size_t size = out.size() + 16;  // one allocation: "$<len>\r\n" + arg + "\r\n" per arg
  for (std::string_view arg : argv) size += arg.size() + 16;
  out.reserve(size);
  appendLength(out, '*', argv.size());
  for (std::string_view arg : argv) {
    appendLength(out, '$', arg.size());
    out.append(arg);
    out.append("\r\n", 2);
  }
}

std::string encodeCommand(std::span<const std::string_view> argv) {
  std::string out;
  appendCommand(out, argv);
  return out;
}

RespReader::RespReader() : reader_(redisReaderCreate()) {
  // Keep hiredis from shrinking and regrowing its buffer on every reply.
  reader_->maxbuf = 0;
}

RespReader::~RespReader() { redisReaderFree(reader_); }

void RespReader::feed(const char* data, std::size_t size) { redisReaderFeed(reader_, data, size); }

RespReader::Status RespReader::next(RespValue& out) {
  void* reply = nullptr;
  if (redisReaderGetReply(reader_, &reply) != REDIS_OK) return Status::ProtocolError;
  if (reply == nullptr) return Status::NeedMore;
  out = convert(static_cast<redisReply*>(reply));
  freeReplyObject(reply);
  return Status::Reply;
}

}  // namespace cx::backends
