// Unit tests for what a config reload may change in place and what waits for a restart
// (README "Hot reload"): sections compared field by field, running values kept.
#include "proxy/app/reload.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/config/config.h"

namespace cx::proxy {
namespace {

const std::string kBase =
    "redis:\n  primary: {name: primary, address: 127.0.0.1:6379}\n"
    "  replicas: [{name: replica-1, address: 127.0.0.1:6380}]\n";

TEST(Reload, RuleChangesNeedNoRestart) {
  const Config running = parseConfig(kBase);
  const Config loaded = parseConfig(kBase + "consistency:\n  default: {level: eventual}\n");
  EXPECT_TRUE(restartOnlyChanges(running, loaded).empty());
}

TEST(Reload, ReplicaStickinessIsARedisSettingThatNeedsARestart) {
  const Config running = parseConfig(kBase);
  const Config loaded = parseConfig(kBase + "  replica_stickiness: 0\n");
  EXPECT_EQ(restartOnlyChanges(running, loaded), std::vector<std::string>{"redis"});
  // Until then the running value stays.
  EXPECT_EQ(mergeReloadable(running, loaded).redis.replicaStickiness, 64u);
}

}  // namespace
}  // namespace cx::proxy
