#include "hs/scaler/signals.h"

#include <gtest/gtest.h>

#include "hs/common/router_metrics.h"
#include "hs/scaler/engine_metrics.h"
#include "test_util.h"

namespace hs::scaler {
namespace {

using testing::at;
using testing::latency_hist;

// Offered load from the routers' text as hs-router writes it (common/router_metrics.h),
// summed over two routers; one stale router makes it unknown rather than half the demand.
TEST(Signals, OfferedLoadSummedOverRoutersUnknownWhenOneIsStale) {
  auto sample = [](double t, double reqs, double prompt, double decode, double backlog) {
    std::string text =
        std::string(router_metrics::kOfferedRequests) + " " + std::to_string(reqs) + "\n" +
        std::string(router_metrics::kOfferedPromptTokens) + " " + std::to_string(prompt) + "\n" +
        std::string(router_metrics::kOfferedDecodeTokens) + " " + std::to_string(decode) + "\n" +
        std::string(router_metrics::kBacklogPromptTokens) + " " + std::to_string(backlog) + "\n" +
        std::string(router_metrics::kBacklogRequests) + " 2\n";
    auto s = prom::parse(text, "router");
    EXPECT_TRUE(s.ok());
    return *router_offered(*s, at(t));
  };
  ServiceConfig c = testing::service();
  MetricsWindow w;
  w.offered.resize(2);
  for (int i = 0; i <= 4; ++i) {
    double t = 940 + 15 * i;
    w.offered[0].samples.push_back(sample(t, 10 * i, 1000 * i, 300 * i, 500));
    w.offered[1].samples.push_back(sample(t, 5 * i, 500 * i, 150 * i, 100));
  }
  Signals s = compute_signals(w, c, at(1000), {});
  ASSERT_TRUE(s.offered.known);
  EXPECT_NEAR(s.offered.rps, 15.0 / 15, 1e-9);
  EXPECT_NEAR(s.offered.prompt_tps, 1500.0 / 15, 1e-9);
  EXPECT_NEAR(s.offered.decode_tps, 450.0 / 15, 1e-9);
  EXPECT_EQ(s.offered.backlog_prompt_tokens, 600);
  EXPECT_EQ(s.offered.backlog_requests, 4);
  w.offered[1].samples.resize(1);  // the second router's newest sample is 60 s old
  w.offered[1].samples[0].t = at(840);
  EXPECT_FALSE(compute_signals(w, c, at(1000), {}).offered.known);
  auto none = prom::parse("hs_router_ready 1\n", "old router");
  EXPECT_FALSE(router_offered(*none, at(0)).has_value());
}

TEST(Signals, CounterIncreaseIsResetSafe) {
  struct Case {
    std::vector<double> values;
    double want;
  } cases[] = {
      {{100, 150, 250}, 150},
      {{100, 150, 20, 70}, 50 + 20 + 50},  // restart after 150: 20 counts from zero
      {{100, kMissing, 200}, 100},         // a gap is skipped
      {{100}, kMissing},
      {{kMissing, kMissing}, kMissing},
  };
  for (const auto& c : cases) {
    std::vector<std::pair<TimePoint, double>> s;
    for (size_t i = 0; i < c.values.size(); ++i)
      s.push_back({at(static_cast<double>(i)), c.values[i]});
    double got = counter_increase(s);
    if (missing(c.want))
      EXPECT_TRUE(missing(got));
    else
      EXPECT_DOUBLE_EQ(got, c.want);
  }
}

TEST(Signals, QuantilesFromBucketsLikePrometheus) {
  Histogram h;
  h.upper_bounds = {0.1, 0.2, 0.4, INFINITY};
  h.cumulative = {50, 90, 99, 100};  // no _count: deltas must work from the buckets
  EXPECT_NEAR(histogram_quantile(0.5, h), 0.1, 1e-9);
  EXPECT_NEAR(histogram_quantile(0.7, h), 0.15, 1e-9);   // half-way into (0.1, 0.2]
  EXPECT_NEAR(histogram_quantile(0.995, h), 0.4, 1e-9);  // +Inf bucket: last finite bound
  EXPECT_NEAR(fraction_above(h, 0.2), 0.10, 1e-9);
  EXPECT_NEAR(fraction_above(h, 0.4), 0.01, 1e-9);
  Histogram later = h;
  for (auto& c : later.cumulative) c += 10;
  later.count += 10;
  Histogram d = histogram_delta(h, later);
  EXPECT_EQ(d.cumulative.back(), 10);
  Histogram reset = latency_hist(0.3, 5, {0.1, 0.2, 0.4});
  EXPECT_EQ(histogram_delta(h, reset).cumulative.back(), 5);  // fewer than before: restarted
}

MetricsWindow steady(double tps_per_decode, int decodes, double ttft, double tbt, double t0,
                     double t1, double step = 5) {
  MetricsWindow w;
  for (int i = 0; i < decodes; ++i) {
    InstanceSeries s{"d" + std::to_string(i), Role::kDecode, "g1", 1000, {}};
    for (double t = t0; t <= t1; t += step) {
      InstanceSample x;
      x.t = at(t);
      x.generation_tokens = tps_per_decode * (t - t0) + 1000;
      x.waiting = 0;
      x.gpu_util = 0.9;
      s.samples.push_back(x);
    }
    w.instances.push_back(s);
  }
  GroupSeries g{"g1", {}};
  double n = 0;
  for (double t = t0; t <= t1; t += step, n += 10) {
    GroupLatencySample x;
    x.t = at(t);
    x.ttft = latency_hist(ttft, n);
    x.tbt = latency_hist(tbt, n);
    g.samples.push_back(x);
  }
  w.groups.push_back(g);
  return w;
}

TEST(Signals, DecodeRateCoverageAndStaleness) {
  ServiceConfig c = testing::service();
  MetricsWindow w = steady(800, 3, 0.3, 0.04, 0, 120);
  // d2 stops reporting 100 s before "now": stale.
  w.instances[2].samples.resize(4);
  auto s = compute_signals(w, c, at(120), {"d0", "d1", "d2"});
  EXPECT_NEAR(s.decode_tps, 1600, 1e-6);
  EXPECT_EQ(s.decode_reporting, 2u);
  EXPECT_EQ(s.decode_expected, 3u);
  EXPECT_NEAR(s.coverage, 2.0 / 3, 1e-9);
  EXPECT_FALSE(s.decode_known);  // 0.67 < min_coverage 0.75
  EXPECT_NEAR(s.decode_capacity_missing, 1000, 1e-9);
  ASSERT_FALSE(s.notes.empty());
  EXPECT_NE(s.notes[0].find("instance d2 stale"), std::string::npos);
  auto all = compute_signals(steady(800, 3, 0.3, 0.04, 0, 120), c, at(120), {"d0", "d1", "d2"});
  EXPECT_TRUE(all.decode_known);
  EXPECT_NEAR(all.decode_tps, 2400, 1e-6);
  EXPECT_NEAR(all.decode_gpu_util, 0.9, 1e-9);
}

TEST(Signals, LatencyTiersOnBucketEdges) {
  ServiceConfig c = testing::service();
  c.slo.ttft_s = 0.5;
  c.slo.tbt_s = 0.05;
  // Every TTFT observation at 0.7 s: above 1.0 x SLO (edge 0.5) but not 1.2 x SLO (edge 1.0).
  auto s = compute_signals(steady(800, 2, 0.7, 0.04, 0, 60), c, at(60), {"d0", "d1"});
  ASSERT_TRUE(s.ttft.known);
  EXPECT_EQ(s.ttft.tier, 0);
  EXPECT_DOUBLE_EQ(s.ttft.tier_edge_s[0], 0.5);
  EXPECT_DOUBLE_EQ(s.ttft.tier_edge_s[1], 1.0);
  EXPECT_EQ(s.tbt.tier, -1);
  auto s2 = compute_signals(steady(800, 2, 1.5, 0.04, 0, 60), c, at(60), {"d0", "d1"});
  EXPECT_EQ(s2.ttft.tier, 1);
}

TEST(Signals, RisingTtftAndGrowingPrefillQueue) {
  ServiceConfig c = testing::service();
  c.slo.ttft_s = 2.0;
  MetricsWindow w = steady(800, 2, 0.1, 0.04, 0, 60);
  // Late half of the window: every new observation is slow (1.5 s, above half the SLO).
  GroupSeries& g = w.groups[0];
  for (auto& x : g.samples) {
    double t = to_seconds(x.t - at(0));
    if (t > 30) {
      double early_n = 60, late_n = (t - 30) / 5 * 10;
      Histogram h = latency_hist(0.1, early_n);
      Histogram late = latency_hist(1.5, late_n);
      histogram_add(h, late);
      x.ttft = h;
    }
  }
  InstanceSeries p{"p0", Role::kPrefill, "g1", 0, {}};
  for (double t = 0; t <= 60; t += 5) {
    InstanceSample x;
    x.t = at(t);
    x.prompt_tokens = 5000 * t;
    x.waiting = t < 30 ? 1 : 1 + (t - 30);
    p.samples.push_back(x);
  }
  w.instances.push_back(p);
  auto s = compute_signals(w, c, at(60), {"d0", "d1"});
  EXPECT_TRUE(s.ttft.rising) << s.ttft.early_quantile_s << " -> " << s.ttft.late_quantile_s;
  EXPECT_TRUE(s.prefill_queue_growing);
  EXPECT_NEAR(s.prefill_tps, 5000, 1e-6);
  auto flat = compute_signals(steady(800, 2, 0.1, 0.04, 0, 60), c, at(60), {"d0", "d1"});
  EXPECT_FALSE(flat.ttft.rising);
  // A rise far below the SLO (0.04 -> 0.06 s against 2 s) is not "rising".
  MetricsWindow small = steady(800, 2, 0.04, 0.04, 0, 60);
  for (auto& x : small.groups[0].samples) {
    double t = to_seconds(x.t - at(0));
    if (t > 30) {
      Histogram h = latency_hist(0.04, 60);
      histogram_add(h, latency_hist(0.06, (t - 30) / 5 * 10));
      x.ttft = h;
    }
  }
  EXPECT_FALSE(compute_signals(small, c, at(60), {"d0", "d1"}).ttft.rising);
  EXPECT_FALSE(flat.prefill_queue_growing);
}

}  // namespace
}  // namespace hs::scaler
