// Unit tests for the RESP2 encoder and the incremental reply decoder: every reply type,
// nesting, binary payloads, replies split at every byte, several replies in one read,
// and protocol errors.
#include "backends/resp.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace cx::backends {
namespace {

using namespace std::string_literals;

// Feeds `wire` in pieces of `chunk` bytes and collects every complete reply.
std::vector<RespValue> decode(std::string_view wire, std::size_t chunk, bool* protocolError = nullptr) {
  RespReader reader;
  std::vector<RespValue> out;
  for (std::size_t at = 0; at < wire.size(); at += chunk) {
    const auto piece = wire.substr(at, chunk);
    reader.feed(piece.data(), piece.size());
    for (;;) {
      RespValue v;
      const auto status = reader.next(v);
      if (status == RespReader::Status::NeedMore) break;
      if (status == RespReader::Status::ProtocolError) {
        if (protocolError) *protocolError = true;
        return out;
      }
      out.push_back(std::move(v));
    }
  }
  return out;
}

const std::string kWire =
    "+OK\r\n"
    "-ERR wrong type\r\n"
    ":-42\r\n"
    "$5\r\nhello\r\n"
    "$-1\r\n"
    "$0\r\n\r\n"
    "$6\r\na\r\n\0b\xff\r\n"s
    "*-1\r\n"
    "*0\r\n"
    "*3\r\n$6\r\nmaster\r\n:3129\r\n*2\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n7380\r\n$4\r\n3129\r\n*0\r\n"
    "*2\r\n$1\r\nx\r\n$-1\r\n";

void expectDecoded(const std::vector<RespValue>& v) {
  ASSERT_EQ(v.size(), 11u);
  EXPECT_EQ(v[0].type, RespType::Status);
  EXPECT_EQ(v[0].str, "OK");
  EXPECT_TRUE(v[1].isError());
  EXPECT_EQ(v[1].str, "ERR wrong type");
  EXPECT_EQ(v[2].type, RespType::Integer);
  EXPECT_EQ(v[2].integer, -42);
  EXPECT_EQ(v[3].type, RespType::Bulk);
  EXPECT_EQ(v[3].str, "hello");
  EXPECT_TRUE(v[4].isNil());
  EXPECT_EQ(v[5].type, RespType::Bulk);
  EXPECT_EQ(v[5].str, "");
  EXPECT_EQ(v[6].str, "a\r\n\0b\xff"s);
  EXPECT_TRUE(v[7].isNil());
  EXPECT_EQ(v[8].type, RespType::Array);
  EXPECT_TRUE(v[8].elements.empty());
  const RespValue& role = v[9];
  ASSERT_EQ(role.type, RespType::Array);
  ASSERT_EQ(role.elements.size(), 3u);
  EXPECT_EQ(role.elements[0].str, "master");
  EXPECT_EQ(role.elements[1].integer, 3129);
  ASSERT_EQ(role.elements[2].elements.size(), 2u);
  ASSERT_EQ(role.elements[2].elements[0].elements.size(), 3u);
  EXPECT_EQ(role.elements[2].elements[0].elements[0].str, "127.0.0.1");
  EXPECT_EQ(role.elements[2].elements[0].elements[2].str, "3129");
  EXPECT_EQ(role.elements[2].elements[1].type, RespType::Array);
  EXPECT_TRUE(role.elements[2].elements[1].elements.empty());
  ASSERT_EQ(v[10].elements.size(), 2u);
  EXPECT_EQ(v[10].elements[0].str, "x");
  EXPECT_TRUE(v[10].elements[1].isNil());
}

TEST(RespReader, DecodesEveryReplyTypeFedAtOnce) { expectDecoded(decode(kWire, kWire.size())); }

TEST(RespReader, DecodesRepliesSplitAtEveryByte) {
  for (std::size_t chunk : {1u, 2u, 3u, 7u, 16u}) {
    SCOPED_TRACE(chunk);
    expectDecoded(decode(kWire, chunk));
  }
}

TEST(RespReader, ALargeBulkArrivesWhole) {
  const std::string big(200000, 'v');
  const auto v = decode("$" + std::to_string(big.size()) + "\r\n" + big + "\r\n", 4096);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].str, big);
}

TEST(RespReader, ReportsBytesThatAreNotResp) {
  for (std::string_view wire : {"?what\r\n", "$abc\r\nxyz\r\n", ":12a\r\n"}) {
    bool error = false;
    const auto v = decode(wire, wire.size(), &error);
    EXPECT_TRUE(error) << wire;
    EXPECT_TRUE(v.empty()) << wire;
  }
}

TEST(RespReader, RepliesBeforeGarbageAreStillDelivered) {
  bool error = false;
  const auto v = decode("+OK\r\n:1\r\n!bad\r\n", 64, &error);
  EXPECT_TRUE(error);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1].integer, 1);
}

TEST(RespEncoder, EncodesArgumentsAsBulkStrings) {
  const std::array<std::string_view, 3> argv{"SET", "k\r\n", std::string_view("\0v", 2)};
  EXPECT_EQ(encodeCommand(argv), "*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$2\r\n\0v\r\n"s);
  std::string out = "prefix";
  const std::array<std::string_view, 1> role{"ROLE"};
  appendCommand(out, role);
  EXPECT_EQ(out, "prefix*1\r\n$4\r\nROLE\r\n");
}

}  // namespace
}  // namespace cx::backends
