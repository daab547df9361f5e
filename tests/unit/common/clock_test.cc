#include "hs/common/clock.h"

#include <gtest/gtest.h>

namespace hs {
namespace {

TEST(ManualClock, MovesOnlyForwardAndOnlyWhenTold) {
  ManualClock c;
  TimePoint t0 = c.now();
  EXPECT_EQ(c.now(), t0);
  c.advance(std::chrono::seconds(5));
  EXPECT_EQ(c.now() - t0, std::chrono::seconds(5));
  c.advance(std::chrono::seconds(-3));  // ignored: monotonic
  EXPECT_EQ(c.now() - t0, std::chrono::seconds(5));
  c.set(t0 + std::chrono::seconds(2));  // backwards: ignored
  EXPECT_EQ(c.now() - t0, std::chrono::seconds(5));
  c.set(t0 + std::chrono::seconds(60));
  EXPECT_EQ(c.now() - t0, std::chrono::seconds(60));
}

TEST(SteadyClock, IsMonotonic) {
  SteadyClock c;
  TimePoint a = c.now();
  TimePoint b = c.now();
  EXPECT_LE(a, b);
}

TEST(Seconds, RoundTrip) {
  EXPECT_DOUBLE_EQ(to_seconds(from_seconds(1.25)), 1.25);
  EXPECT_EQ(from_seconds(0.001), std::chrono::milliseconds(1));
}

}  // namespace
}  // namespace hs
