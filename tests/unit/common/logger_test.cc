#include "hs/common/logger.h"

#include <gtest/gtest.h>

#include <vector>

namespace hs {
namespace {

TEST(Logger, FiltersByLevelAndNamesComponent) {
  std::vector<std::string> lines;
  Logger log("scaler", LogLevel::kInfo,
             [&](LogLevel, std::string_view l) { lines.emplace_back(l); });
  log.debug("hidden");
  log.info("tick 1");
  log.child("slurm").warning("slurmctld down");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find(" info scaler: tick 1"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find(" warning scaler.slurm: slurmctld down"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[0][4], '-');  // ISO date first
}

TEST(Logger, OffLogsNothing) {
  int n = 0;
  Logger log("x", LogLevel::kOff, [&](LogLevel, std::string_view) { ++n; });
  log.error("nope");
  EXPECT_EQ(n, 0);
}

TEST(LogLevel, ParseIsStrict) {
  EXPECT_EQ(*parse_log_level("warning"), LogLevel::kWarning);
  EXPECT_FALSE(parse_log_level("WARN").ok());
  EXPECT_FALSE(parse_log_level("").ok());
}

}  // namespace
}  // namespace hs
