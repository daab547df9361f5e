// The shortage stage's arithmetic (scaler/src/shortage.h): who gives how many units to whom.
#include "hs/scaler/shortage.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace hs::scaler {
namespace {

ServiceConfig svc(const char* name, int priority, const char* decode_gpu = "l40s") {
  ServiceConfig s = testing::service(1, 1, 100, 8);
  s.name = name;
  s.priority = priority;
  s.variants[0].decode_gpu = decode_gpu;
  return s;
}

TEST(Shortage, LowerPriorityOnTheSameGpusGivesTheShortfall) {
  ServiceConfig hi = svc("hi", 10), lo = svc("lo", 0), other = svc("other", 0, "a100");
  std::map<std::string, DonorState> donors = {
      {"hi", {&hi, 2, false}}, {"lo", {&lo, 5, false}}, {"other", {&other, 5, false}}};
  PlacementResult pr;
  pr.placed_units["hi"] = 1;  // asked 3, placed 1
  std::map<std::string, Yield> y;
  update_yields(y, {{&hi, 3}}, pr, donors);
  ASSERT_EQ(y.count("lo"), 1u);
  EXPECT_EQ(y.at("lo").to, "hi");
  EXPECT_EQ(y.at("lo").cap_units, 3u) << y.at("lo").why;
  EXPECT_NE(y.at("lo").why.find("lo (priority 0) gives 2 unit(s) to hi (priority 10)"),
            std::string::npos)
      << y.at("lo").why;
  // "other" shares the h100 prefill type: asked too only if lo did not cover it.
  EXPECT_EQ(y.count("other"), 0u);
  EXPECT_EQ(y.count("hi"), 0u) << "a service never gives to itself";

  // In transit: lo still holds more than its cap (its drains have not ended): not asked again.
  update_yields(y, {{&hi, 2}}, pr, donors);
  EXPECT_EQ(y.at("lo").cap_units, 3u);
  // Given and drained, hi still short: lo gives more, never below its min.
  donors["lo"].units = 3;
  pr.placed_units["hi"] = 0;
  update_yields(y, {{&hi, 9}}, pr, donors);
  EXPECT_EQ(y.at("lo").cap_units, lo.min_units()) << y.at("lo").why;
  // hi placed in full: every yield to it ends.
  pr.placed_units["hi"] = 2;
  update_yields(y, {{&hi, 2}}, pr, donors);
  EXPECT_TRUE(y.empty());
}

TEST(Shortage, EqualOrHigherPriorityAndOtherGpusNeverGive) {
  ServiceConfig hi = svc("hi", 10), peer = svc("peer", 10), far = svc("far", 0, "a100");
  far.variants[0].prefill_gpu = "a100";
  std::map<std::string, DonorState> donors = {
      {"hi", {&hi, 2, false}}, {"peer", {&peer, 5, false}}, {"far", {&far, 5, false}}};
  PlacementResult pr;
  std::map<std::string, Yield> y;
  update_yields(y, {{&hi, 3}}, pr, donors);
  EXPECT_TRUE(y.empty());
}

TEST(Shortage, AYieldCapsTheDonorsDecision) {
  ServiceConfig lo = svc("lo", 0);
  Decision d;
  d.desired_prefill = d.desired_decode = 5;
  PoolState pool{5, 5, 5, 5, 0, 0};
  Yield y{"hi", 3, "shortage: lo gives 2"};
  EXPECT_TRUE(apply_yield(y, lo, pool, d));
  EXPECT_EQ(d.desired_decode, 3u);
  EXPECT_EQ(d.desired_prefill, 3u);
  EXPECT_EQ(d.direction, Direction::kIn);
  EXPECT_EQ(d.deciding_stage().stage, "shortage");
  // Already at or under the cap: untouched.
  Decision small;
  small.desired_prefill = small.desired_decode = 2;
  EXPECT_FALSE(apply_yield(y, lo, pool, small));
  EXPECT_EQ(small.desired_decode, 2u);
}

}  // namespace
}  // namespace hs::scaler
