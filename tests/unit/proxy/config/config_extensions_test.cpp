// Config keys added after the first loader: load.*.error_rate and log.access.
#include <gtest/gtest.h>

#include "proxy/app/load_monitor.h"
#include "proxy/config/config.h"

namespace cx::proxy {
namespace {

TEST(ConfigExtensions, ErrorRateWatermarksReachTheLoadController) {
  auto config = parseConfig("load:\n  high: {error_rate: 0.25}\n  low: {error_rate: 0.05}\n");
  EXPECT_DOUBLE_EQ(config.load.high.errorRate, 0.25);
  EXPECT_DOUBLE_EQ(config.load.low.errorRate, 0.05);
  auto options = loadOptions(config.load);
  EXPECT_DOUBLE_EQ(options.high.errorRate, 0.25);
  EXPECT_DOUBLE_EQ(options.low.errorRate, 0.05);
}

TEST(ConfigExtensions, ErrorRateIsOffByDefault) {
  auto config = parseConfig("");
  EXPECT_DOUBLE_EQ(config.load.high.errorRate, 0.0);
  EXPECT_FALSE(config.log.access);
}

TEST(ConfigExtensions, BadErrorRatesNameTheKeyAndLine) {
  try {
    parseConfig("load:\n  high: {error_rate: 1.5}\n", "cx.yaml");
    FAIL() << "an error rate above 1 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("cx.yaml:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("error_rate"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parseConfig("load:\n  high: {error_rate: lots}\n"), ConfigError);
  EXPECT_THROW(parseConfig("load:\n  high: {error_rate: 0.1}\n  low: {error_rate: 0.2}\n"), ConfigError);
}

TEST(ConfigExtensions, AccessLogSwitch) {
  EXPECT_TRUE(parseConfig("log: {access: true}\n").log.access);
  EXPECT_THROW(parseConfig("log: {access: maybe}\n"), ConfigError);
}

}  // namespace
}  // namespace cx::proxy
