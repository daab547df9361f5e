// The ratio band's arithmetic (hs/scaler/ratio_band.h), shared by the policy, the Controller
// and the router's gate: band 0 must be exactly today's whole units.
#include "hs/scaler/ratio_band.h"

#include <cstdint>

#include <gtest/gtest.h>

#include "hs/scaler/policy.h"
#include "test_util.h"

namespace hs::scaler {
namespace {

TEST(RatioBand, ZeroIsTheFixedRatio) {
  Ratio r{2, 3};
  for (uint32_t u = 0; u < 20; ++u) {
    PrefillBand b = prefill_band(u, r, 0);
    EXPECT_EQ(b.lo, u * 2);
    EXPECT_EQ(b.hi, u * 2);
    EXPECT_EQ(prefill_at_scale(u, r, 0, 1.7), u * 2);
  }
  // The fewest units holding both roles, and what prefill alone carries: whole units.
  EXPECT_EQ(group_units(5, 3, r, 0), 3u);  // 5 prefill need 3 units of 2
  EXPECT_EQ(group_units(2, 7, r, 0), 3u);  // 7 decode need 3 units of 3
  EXPECT_EQ(units_carried_by_prefill(5, r, 0), 2u);
}

TEST(RatioBand, EdgesAndScale) {
  Ratio r{1, 2};
  // 4 units of 1:2 at a band of 1: from half to twice the calibrated 4; whole-number edges
  // stay inside.
  EXPECT_EQ(prefill_band(4, r, 1).lo, 2u);
  EXPECT_EQ(prefill_band(4, r, 1).hi, 8u);
  EXPECT_EQ(prefill_band(4, r, 0.5).lo, 3u);  // ceil(2.67)
  EXPECT_EQ(prefill_band(4, r, 0.5).hi, 6u);
  // Never below one instance; a band too narrow to move by one keeps the calibrated count.
  EXPECT_EQ(prefill_band(1, r, 1).lo, 1u);
  EXPECT_EQ(prefill_band(1, r, 1).hi, 2u);
  EXPECT_EQ(prefill_band(3, r, 0.2).lo, 3u);  // ceil(2.5)
  EXPECT_EQ(prefill_band(3, r, 0.2).hi, 3u);  // floor(3.6)
  EXPECT_EQ(prefill_at_scale(4, r, 1, 1.25), 5u);
  EXPECT_EQ(prefill_at_scale(4, r, 1, 9.0), 8u);  // clamped to the band
  EXPECT_EQ(prefill_at_scale(4, r, 1, 0.0), 2u);
  EXPECT_TRUE(prefill_band(4, r, 1).holds(8));
  EXPECT_FALSE(prefill_band(4, r, 1).holds(9));
  EXPECT_FALSE(prefill_band(4, r, 1).holds(1));
  // 7 prefill beside 8 decode: 4 units hold 8 decode but at most 6 prefill at 0.5, so 5 units.
  EXPECT_EQ(group_units(7, 8, r, 0.5), 5u);
  EXPECT_EQ(group_units(6, 8, r, 0.5), 4u);
  // 3 running prefill carry up to 4 units at 0.5 (lo(4) = 3, lo(5) = 4).
  EXPECT_EQ(units_carried_by_prefill(3, r, 0.5), 4u);
  EXPECT_EQ(units_carried_by_prefill(0, r, 0.5), 0u);
}

// units_carried_by_prefill's closed form against the definition, the largest u with lo(u) <= p.
TEST(RatioBand, UnitsCarriedIsTheLargestWhoseFloorFits) {
  for (double band : {0.0, 0.3, 1.0, 3.0})
    for (Ratio r : {Ratio{1, 1}, Ratio{2, 3}, Ratio{3, 1}})
      for (uint32_t p = 0; p < 60; ++p) {
        uint32_t u = 0;
        while (prefill_band(u + 1, r, band).lo <= p) ++u;
        EXPECT_EQ(units_carried_by_prefill(p, r, band), u) << p << " band " << band;
      }
}

// Every (prefill, decode) a group can be in: group_units gives units whose band holds the
// prefill, and one unit fewer could not hold both roles.
TEST(RatioBand, GroupUnitsIsTheFewestThatHold) {
  for (double band : {0.0, 0.25, 0.5, 1.0, 3.0})
    for (Ratio r : {Ratio{1, 1}, Ratio{1, 2}, Ratio{2, 3}, Ratio{3, 1}})
      for (uint32_t p = 0; p < 40; ++p)
        for (uint32_t d = 0; d < 40; ++d) {
          uint32_t u = group_units(p, d, r, band);
          EXPECT_GE(u * r.decode, d);
          EXPECT_LE(p, prefill_band(u, r, band).hi);
          if (u > 0) {
            EXPECT_TRUE((u - 1) * r.decode < d || p > prefill_band(u - 1, r, band).hi)
                << p << ":" << d << " band " << band;
          }
        }
}

}  // namespace
}  // namespace hs::scaler
