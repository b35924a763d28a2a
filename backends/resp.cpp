// RESP2 command encoding and reply decoding on top of hiredis's redisReader.
#include "backends/resp.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <algorithm>
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

// hiredis builds the reply through these callbacks straight into RespValues: the root is
// RespReader::root_ (through privdata), every child is constructed in its slot of the
// parent's elements. No redisReply tree to allocate, convert and free.
RespValue* slotFor(const redisReadTask* task) {
  if (task->parent != nullptr) {
    // Children arrive in order: each is appended. Only the last child of each open array
    // is being built while its parent grows, so no pointer hiredis holds moves.
    auto* parent = static_cast<RespValue*>(task->parent->obj);
    parent->elements.emplace_back();
    return &parent->elements.back();
  }
  auto* root = static_cast<RespValue*>(task->privdata);
  *root = RespValue{};
  return root;
}

void* createString(const redisReadTask* task, char* str, std::size_t len) {
  RespValue* v = slotFor(task);
  v->type = task->type == REDIS_REPLY_ERROR    ? RespType::Error
            : task->type == REDIS_REPLY_STATUS ? RespType::Status
                                               : RespType::Bulk;
  v->str.assign(str, len);
  return v;
}

void* createArray(const redisReadTask* task, int elements) {
  RespValue* v = slotFor(task);
  v->type = RespType::Array;
  // Room for what the header announces, up to a bound: the count is the peer's word, and
  // "*2147483647\r\n" must not allocate 150 GB before a single element has arrived
  // (found by tests/fuzz/fuzz_resp_reader). Beyond it the vector grows as elements come.
  constexpr int kReserveAtMost = 1024;
  v->elements.reserve(static_cast<std::size_t>(std::min(elements, kReserveAtMost)));
  return v;
}

void* createInteger(const redisReadTask* task, long long value) {
  RespValue* v = slotFor(task);
  v->type = RespType::Integer;
  v->integer = value;
  return v;
}

void* createNil(const redisReadTask* task) {
  RespValue* v = slotFor(task);
  v->type = RespType::Nil;
  return v;
}

void freeObject(void*) {}  // every value lives in RespReader::root_

redisReplyObjectFunctions kBuildRespValues{createString, createArray, createInteger, createNil, freeObject};

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

RespReader::RespReader() : reader_(redisReaderCreateWithFunctions(&kBuildRespValues)) {
  // Keep hiredis from shrinking and regrowing its buffer on every reply.
  reader_->maxbuf = 0;
  reader_->privdata = &root_;
}

RespReader::~RespReader() { redisReaderFree(reader_); }

void RespReader::feed(const char* data, std::size_t size) { redisReaderFeed(reader_, data, size); }

RespReader::Status RespReader::next(RespValue& out) {
  void* reply = nullptr;
  if (redisReaderGetReply(reader_, &reply) != REDIS_OK) return Status::ProtocolError;
  if (reply == nullptr) return Status::NeedMore;
  out = std::move(root_);
  return Status::Reply;
}

}  // namespace cx::backends
