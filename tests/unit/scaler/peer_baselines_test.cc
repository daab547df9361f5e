// The peers' control laws as hs-sim baselines, on hand-made signals: llm-d's SLO-aware law
// (thresholds, credit, HPA behaviour) and Dynamo's load-based regression.
#include <gtest/gtest.h>

#include <cstdint>

#include "hs/scaler/policy.h"
#include "test_util.h"

namespace hs::scaler {
namespace {

using testing::at;

// P90 TTFT and TPOT as the SLO-aware law reads them (SLOs 2 s and 0.1 s by default).
Signals latency(double ttft_p90, double tpot_p90) {
  Signals s;
  s.decode_known = true;
  s.decode_tps = 1000;
  for (LatencySignal* l : {&s.ttft, &s.tbt}) l->known = true;
  s.ttft.p90_s = ttft_p90;
  s.tbt.p90_s = tpot_p90;
  return s;
}

PoolState pool(uint32_t p, uint32_t d, uint32_t rp, uint32_t rd) {
  PoolState x;
  x.prefill = p, x.decode = d, x.ready_prefill = rp, x.ready_decode = rd;
  return x;
}

TEST(LlmdSlo, ScalesUpByTheFormulaWithCreditAndDownOneAtATime) {
  ServiceConfig c = testing::service(1, 2, 1000, 32);
  // s = 1.1 (TTFT 2.2 s / 2 s): d = n + ceil(n (1.1 / 0.55 - 1)) = 2n, both pools (one s).
  PolicyMemory mem;
  Decision d = LlmdSloPolicy(false).decide(c, latency(2.2, 0.01), pool(4, 8, 4, 8), at(0), 0, mem);
  EXPECT_EQ(d.desired_prefill, 8u) << d.to_log_line();
  EXPECT_EQ(d.desired_decode, 16u) << d.to_log_line();
  // The same s per role: TTFT drives prefill only, TPOT (0.01 / 0.1 = 0.1 < 0.40) decode down.
  PolicyMemory role;
  d = LlmdSloPolicy(true).decide(c, latency(2.2, 0.01), pool(4, 8, 4, 8), at(0), 0, role);
  EXPECT_EQ(d.desired_prefill, 8u) << d.to_log_line();
  EXPECT_EQ(d.desired_decode, 7u) << "down walks one instance: " << d.to_log_line();
  // Credit: with half the decode pool still starting, s x 0.5 / 0.55 < 1: no further ask.
  PolicyMemory credit;
  d = LlmdSloPolicy(true).decide(c, latency(0.1, 0.11), pool(4, 8, 4, 4), at(0), 0, credit);
  EXPECT_EQ(d.desired_decode, 8u) << d.to_log_line();
  // Up at most once per 60 s: the next tick holds even at the same s.
  d = LlmdSloPolicy(false).decide(c, latency(2.2, 0.01), pool(8, 16, 8, 16), at(15), 0, mem);
  EXPECT_EQ(d.desired_prefill, 8u) << d.to_log_line();
  // Inside the 0.40-0.55 band: hold (the 45 s average of 1.1, 1.1 and 0.45 is above; a fresh
  // memory at 0.45 holds).
  PolicyMemory band;
  d = LlmdSloPolicy(false).decide(c, latency(0.9, 0.01), pool(4, 8, 4, 8), at(0), 0, band);
  EXPECT_EQ(d.direction, Direction::kHold) << d.to_log_line();
}

TEST(DynamoLoad, RegressionPredictsTheSloAndTheSurvivorsLoad) {
  ServiceConfig c = testing::service(1, 2, 1000, 32);
  DynamoLoadPolicy pol;
  PolicyMemory mem;
  // TBT rises 0.01 s per 100 tok/s per decode instance: 0.02 + 0.0001 x.
  Decision d;
  for (int i = 0; i < 6; ++i) {
    Signals s;
    double per = 400 + 100 * i;  // tok/s per decode instance
    s.decode_known = true;
    s.decode_tps = per * 8;
    s.tbt.known = true;
    s.tbt.quantile_s = 0.02 + 0.0001 * per;
    d = pol.decide(c, s, pool(4, 8, 4, 8), at(15 * i), 0, mem);
    if (i < 4) {
      EXPECT_EQ(d.desired_decode, 8u) << "fewer than 5 observations: " << d.to_log_line();
    }
  }
  // Last load 900/instance: predicted 0.11 s > 0.1 s: +1.
  EXPECT_EQ(d.desired_decode, 9u) << d.to_log_line();
  // At 300 per instance the survivors (x 8/7) would see 0.054 s < 80% of 0.1 s: -1.
  Signals low;
  low.decode_known = true;
  low.decode_tps = 300 * 8;
  low.tbt.known = true;
  low.tbt.quantile_s = 0.05;
  d = pol.decide(c, low, pool(4, 8, 4, 8), at(200), 0, mem);
  EXPECT_EQ(d.desired_decode, 7u) << d.to_log_line();
}

}  // namespace
}  // namespace hs::scaler
