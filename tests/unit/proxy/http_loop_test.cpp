// serializeHead: the status line and fields the server writes before a response body.
#include "proxy/http_loop.h"

#include <gtest/gtest.h>

#include <string>

namespace cx::proxy {
namespace {

Response make(unsigned status, std::string body) {
  Response res;
  res.result(status);
  res.set("Content-Type", "application/json");
  res.body() = std::move(body);
  return res;
}

TEST(SerializeHeadTest, StatusLineFieldsLengthAndBlankLine) {
  std::string out = "left over from the previous response";
  serializeHead(make(200, "{\"a\":1}"), 11, true, out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n");
}

TEST(SerializeHeadTest, NoContentLengthFor204And304) {
  std::string out;
  serializeHead(make(204, ""), 11, true, out);
  EXPECT_EQ(out, "HTTP/1.1 204 No Content\r\nContent-Type: application/json\r\n\r\n");
  serializeHead(make(304, ""), 11, true, out);
  EXPECT_EQ(out, "HTTP/1.1 304 Not Modified\r\nContent-Type: application/json\r\n\r\n");
}

TEST(SerializeHeadTest, ConnectionFieldOnlyWhereTheVersionsDefaultDiffers) {
  std::string out;
  serializeHead(make(404, "x"), 11, false, out);  // HTTP/1.1 keeps alive unless told
  EXPECT_EQ(out,
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 1\r\n"
            "Connection: close\r\n\r\n");
  serializeHead(make(404, "x"), 10, true, out);  // HTTP/1.0 closes unless told
  EXPECT_EQ(out,
            "HTTP/1.0 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 1\r\n"
            "Connection: keep-alive\r\n\r\n");
  serializeHead(make(503, "xy"), 10, false, out);
  EXPECT_EQ(out,
            "HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n");
}

TEST(SerializeHeadTest, LargeBodyLength) {
  std::string out;
  serializeHead(make(200, std::string(1234567, 'v')), 11, true, out);
  EXPECT_NE(out.find("\r\nContent-Length: 1234567\r\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace cx::proxy
