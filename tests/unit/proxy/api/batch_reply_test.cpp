// Unit tests for batch answers: pipelines keep every outcome in its place, transactions
// answer EXEC's results, or say why nothing was applied.
#include "proxy/api/batch_reply.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/support/resp_values.h"

namespace cx::proxy {
namespace {

using backends::RespValue;
using testing::array;
using testing::bulk;
using testing::integer;
using testing::status;

TEST(BatchReply, PipelineRepliesInOrderWithErrorsInTheirPlace) {
  const std::vector<RespValue> replies{status("OK"), RespValue::makeError("ERR not an integer"), bulk("v"),
                                       RespValue{}};
  const BatchAnswer native = renderBatch(replies, BatchKind::Pipeline, ReplyStyle::Native);
  EXPECT_EQ(native.kind, BatchAnswer::Kind::Ok);
  EXPECT_EQ(native.body, R"([{"result":"OK"},{"error":"ERR not an integer"},{"result":"v"},{"result":null}])");
  EXPECT_EQ(renderBatch(replies, BatchKind::Pipeline, ReplyStyle::UpstashBase64).body,
            R"([{"result":"T0s="},{"error":"ERR not an integer"},{"result":"dg=="},{"result":null}])");
  const std::vector<RespValue> binary{bulk(std::string("\xff", 1))};
  EXPECT_EQ(renderBatch(binary, BatchKind::Pipeline, ReplyStyle::Native).body, R"([{"result":{"base64":"/w=="}}])");
}

TEST(BatchReply, MultiAnswersExecsResults) {
  const std::vector<RespValue> replies{
      status("OK"), status("QUEUED"), status("QUEUED"),
      array({status("OK"), RespValue::makeError("WRONGTYPE Operation against a key")})};
  const BatchAnswer answer = renderBatch(replies, BatchKind::Multi, ReplyStyle::UpstashPlain);
  EXPECT_EQ(answer.kind, BatchAnswer::Kind::Ok);
  EXPECT_EQ(answer.body, R"([{"result":"OK"},{"error":"WRONGTYPE Operation against a key"}])");
}

TEST(BatchReply, AnAbortedTransactionSaysWhichCommandWasRefused) {
  const std::vector<RespValue> replies{
      status("OK"), status("QUEUED"), RespValue::makeError("ERR unknown command 'X'"),
      RespValue::makeError("EXECABORT Transaction discarded because of previous errors.")};
  const BatchAnswer answer = renderBatch(replies, BatchKind::Multi, ReplyStyle::Native);
  EXPECT_EQ(answer.kind, BatchAnswer::Kind::TransactionAborted);
  EXPECT_NE(answer.message.find("EXECABORT"), std::string::npos);
  EXPECT_NE(answer.message.find("Command 2 was refused: ERR unknown command 'X'"), std::string::npos);
  EXPECT_NE(answer.message.find("Nothing was applied"), std::string::npos);

  const std::vector<RespValue> nil{status("OK"), status("QUEUED"), RespValue{}};
  EXPECT_EQ(renderBatch(nil, BatchKind::Multi, ReplyStyle::Native).kind, BatchAnswer::Kind::TransactionAborted);
}

TEST(BatchReply, AFailedMultiOrExecIsARedisError) {
  const std::vector<RespValue> nested{RespValue::makeError("ERR MULTI calls can not be nested"), status("QUEUED"),
                                      RespValue::makeError("ERR EXEC without MULTI")};
  const BatchAnswer answer = renderBatch(nested, BatchKind::Multi, ReplyStyle::Native);
  EXPECT_EQ(answer.kind, BatchAnswer::Kind::RedisError);
  EXPECT_EQ(answer.message, "ERR MULTI calls can not be nested");
  const std::vector<RespValue> oom{status("OK"), status("QUEUED"), RespValue::makeError("OOM command not allowed")};
  EXPECT_EQ(renderBatch(oom, BatchKind::Multi, ReplyStyle::Native).message, "OOM command not allowed");
}

}  // namespace
}  // namespace cx::proxy
