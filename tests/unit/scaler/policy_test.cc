// The HeteroScale pipeline stage by stage, in the style of Kubernetes' replica-calculator
// tests: one case struct, one runner, each scenario a row. The service is 1:2 with 1000
// decode tokens/s per decode instance, i.e. 2000 tokens/s per ratio unit, 1..16 units.
#include "hs/scaler/policy.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>

#include "test_util.h"

namespace hs::scaler {
namespace {

using testing::at;

struct Case {
  const char* name;
  uint32_t cur = 4;  // current units
  double tps = kMissing;
  bool known = true;
  double coverage = 1.0;
  double missing_capacity = 0;
  int ttft_tier = -1, tbt_tier = -1;
  bool ttft_rising = false, queue_growing = false;
  uint32_t starting = 0;
  double ready_age = 86400;
  double prefill_waiting = 0;
  std::optional<double> last_out_ago = std::nullopt, last_in_ago = std::nullopt;
  std::vector<std::pair<double, uint32_t>> recs = {};  // (seconds ago, units)
  std::function<void(ServiceConfig&)> tweak = nullptr;
  int64_t wall = 1700000000;  // 2023-11-14 22:13 UTC, a Tuesday
  double decode_waiting = 0;
  double ttft_q = kMissing, tbt_q = kMissing;  // the window's quantiles (tier 1 edge: 0.5 s)
  bool paper = false;                          // the published policy, without safety
  double decode_running = kMissing;
  std::function<void(Signals&)> signals = nullptr;  // e.g. the routers' offered load
  uint32_t want = 0;
  const char* by = "";
  const char* reason = "";
};

// The routers' offered load: decode and prompt tokens/s arriving, prompt tokens in backlog.
void offer(Signals& s, double decode_tps, double prompt_tps, double backlog) {
  s.offered.known = true;
  s.offered.rps = 10;
  s.offered.decode_tps = decode_tps;
  s.offered.prompt_tps = prompt_tps;
  s.offered.backlog_prompt_tokens = backlog;
  s.offered.backlog_requests = backlog > 0 ? 1 : 0;
}

void run(const Case& c) {
  SCOPED_TRACE(c.name);
  ServiceConfig cfg = testing::service();
  if (c.tweak) c.tweak(cfg);
  Signals s;
  s.now = at(1000);
  s.decode_known = c.known;
  s.decode_tps = c.tps;
  s.coverage = c.coverage;
  s.decode_reporting = c.known ? c.cur * 2 : 0;
  s.decode_expected = c.cur * 2;
  s.decode_capacity_missing = c.missing_capacity;
  for (LatencySignal* l : {&s.ttft, &s.tbt}) {
    l->known = true;
    l->tier_edge_s = {0.5, 1.0};
    l->tier_breached = {false, false};
  }
  s.ttft.tier = c.ttft_tier;
  s.tbt.tier = c.tbt_tier;
  s.ttft.rising = c.ttft_rising;
  s.prefill_queue_growing = c.queue_growing;
  s.prefill_waiting = c.prefill_waiting;
  s.decode_waiting = c.decode_waiting;
  s.ttft.quantile_s = c.ttft_q;
  s.tbt.quantile_s = c.tbt_q;
  s.decode_running = c.decode_running;
  if (c.signals) c.signals(s);
  PoolState pool{c.cur, c.cur * 2, c.cur, c.cur * 2, c.starting, 0, from_seconds(c.ready_age)};
  PolicyMemory mem;
  if (c.last_out_ago) mem.last_out = at(1000 - *c.last_out_ago);
  if (c.last_in_ago) mem.last_in = at(1000 - *c.last_in_ago);
  for (auto [ago, u] : c.recs) mem.recs.push_back({at(1000 - ago), u, u * 2});
  PolicyMemory mem2 = mem;
  HeteroScalePolicy p(c.paper);
  Decision d = p.decide(cfg, s, pool, at(1000), c.wall, mem);
  EXPECT_EQ(d.desired_decode, c.want * 2) << d.to_log_line();
  EXPECT_EQ(d.desired_prefill * 2, d.desired_decode) << "P and D keep the ratio";
  EXPECT_EQ(d.deciding_stage().stage, c.by) << d.to_log_line();
  EXPECT_NE(d.deciding_stage().reason.find(c.reason), std::string::npos)
      << d.deciding_stage().reason;
  Decision again = p.decide(cfg, s, pool, at(1000), c.wall, mem2);
  EXPECT_EQ(again.to_log_line(), d.to_log_line()) << "same input, same decision";
}

TEST(HeteroScalePolicy, Stages) {
  std::vector<Case> cases = {
      {.name = "steady load holds",
       .cur = 4,
       .tps = 8000,
       .want = 4,
       .by = "coordinate",
       .reason = "prefill 4->4"},
      {.name = "proportional scale-out",
       .cur = 4,
       .tps = 12000,
       .want = 6,
       .by = "proportional",
       .reason = "ceil(12000.0 / 2000.0"},
      {.name = "inside the out tolerance",
       .cur = 10,
       .tps = 21000,
       .want = 10,
       .by = "tolerance",
       .reason = "within [1-0.20, 1+0.10]"},
      {.name = "inside the in tolerance",
       .cur = 10,
       .tps = 16500,
       .want = 10,
       .by = "tolerance",
       .reason = "ratio 0.90"},
      {.name = "scale-in held by stabilization",
       .cur = 10,
       .tps = 12000,
       .recs = {{100, 10}},
       .want = 10,
       .by = "stabilization",
       .reason = "highest recommendation over 300 s: 10"},
      {.name = "scale-in after the window, one step",
       .cur = 10,
       .tps = 12000,
       .recs = {{400, 10}},
       .want = 9,
       .by = "step_limit",
       .reason = "scale-in limited to -1 units"},
      {.name = "scale-in cooldown after a scale-out",
       .cur = 10,
       .tps = 12000,
       .last_out_ago = 100.0,
       .want = 10,
       .by = "cooldown",
       .reason = "scale-in cooldown"},
      // Safety (the default, not the paper's policy): a breach without load pressure is
      // "not a capacity problem" for the guard, but no scale-in happens under it.
      {.name = "a breach without load pressure refuses a scale-in",
       .cur = 10,
       .tps = 6000,
       .ttft_tier = 1,
       .recs = {{400, 10}},
       .want = 10,
       .by = "safety",
       .reason = "scale-in refused: latency tier 2 breached"},
      {.name = "  ... which the paper's policy makes",
       .cur = 10,
       .tps = 6000,
       .ttft_tier = 1,
       .recs = {{400, 10}},
       .paper = true,
       .want = 9,
       .by = "step_limit",
       .reason = "scale-in limited to -1 units"},
      {.name = "requests waiting for decode refuse a scale-in",
       .cur = 10,
       .tps = 12000,
       .recs = {{400, 10}},
       .decode_waiting = 3,
       .want = 10,
       .by = "safety",
       .reason = "decode_waiting 3"},
      {.name = "a survivors' TBT forecast past tier 1 refuses a scale-in",
       .cur = 10,
       .tps = 12000,
       .recs = {{400, 10}},
       .tbt_q = 0.48,
       .want = 10,
       .by = "safety",
       .reason = "TBT 0.533 s vs tier 1 0.500 s"},
      {.name = "a scale-in the forecast allows says what it forecast",
       .cur = 10,
       .tps = 12000,
       .recs = {{400, 10}},
       .tbt_q = 0.3,
       .want = 9,
       .by = "step_limit",
       .reason = "scale-in limited to -1 units"},
      {.name = "scale-out cooldown",
       .cur = 4,
       .tps = 12000,
       .last_out_ago = 30.0,
       .want = 4,
       .by = "cooldown",
       .reason = "scale-out cooldown: last scale-out 30 s ago < 60 s"},
      {.name = "scale-out step limit",
       .cur = 4,
       .tps = 40000,
       .want = 8,
       .by = "step_limit",
       .reason = "+4 units"},
      {.name = "max bound",
       .cur = 14,
       .tps = 40000,
       .want = 16,
       .by = "bounds",
       .reason = "clamped to [1, 16]"},
      {.name = "min bound",
       .cur = 1,
       .tps = 0,
       .want = 1,
       .by = "bounds",
       .reason = "clamped to [1, 16]"},
      {.name = "no metrics: hold",
       .cur = 6,
       .known = false,
       .want = 6,
       .by = "coordinate",
       .reason = "prefill 6->6"},
      // 6000 tok/s observed from 80% of 12 decode instances: scale-out would read 3 units, but
      // the silent ones count as fully loaded (+2000) for scale-in, so 4.
      {.name = "silent instances count as loaded for scale-in",
       .cur = 6,
       .tps = 6000,
       .coverage = 0.8,
       .missing_capacity = 2000,
       .recs = {{400, 6}},
       .tweak = [](ServiceConfig& c) { c.scaling.max_step_in_fraction = 1; },
       .want = 4,
       .by = "proportional",
       .reason = "= 4 units"},
      {.name = "guard tier 1: +10%",
       .cur = 10,
       .tps = 20000,
       .ttft_tier = 0,
       .want = 11,
       .by = "latency_guard",
       .reason = "TTFT p99 above 0.500 s (tier 1): +10%"},
      {.name = "guard tier 2: +20%",
       .cur = 10,
       .tps = 20000,
       .tbt_tier = 1,
       .want = 12,
       .by = "latency_guard",
       .reason = "TBT p99 above 1.000 s (tier 2): +20%"},
      {.name = "guard beats a scale-in",
       .cur = 10,
       .tps = 12000,
       .tbt_tier = 0,
       .want = 11,
       .by = "latency_guard",
       .reason = "+10%"},
      {.name = "rising TTFT vetoes scale-in",
       .cur = 10,
       .tps = 12000,
       .ttft_rising = true,
       .want = 10,
       .by = "latency_guard",
       .reason = "scale-in vetoed: TTFT rising"},
      {.name = "growing prefill queue vetoes scale-in",
       .cur = 10,
       .tps = 12000,
       .queue_growing = true,
       .want = 10,
       .by = "latency_guard",
       .reason = "prefill queue growing"},
      {.name = "no new action while starting",
       .cur = 4,
       .tps = 12000,
       .starting = 2,
       .want = 4,
       .by = "in_flight",
       .reason = "2 instance(s) still starting"},
      {.name = "schedule floor",
       .cur = 4,
       .tps = 8000,
       .tweak =
           [](ServiceConfig& c) {
             c.schedule = {{0x7f, 0, 8, ""}};
           },
       .want = 8,
       .by = "schedule",
       .reason = "floor 8 units"},
      {.name = "exact schedule, stepped",
       .cur = 4,
       .tps = 20000,
       .tweak =
           [](ServiceConfig& c) {
             c.schedule = {{0x7f, 0, 2, ""}};
             c.schedule_mode = ScheduleMode::kExact;
           },
       .want = 3,
       .by = "step_limit",
       .reason = "-1 units"},
      // The demand stage (not in `paper`): offered load and queues, not only what is served.
      {.name = "offered decode above served: deficit-sized, through the out-cooldown",
       .tps = 7000,
       .last_out_ago = 10,
       .signals = [](Signals& s) { offer(s, 16000, 0, 0); },
       .want = 8,
       .by = "demand",
       .reason = "decode 16000 tok/s -> 8 units"},
      {.name = "the paper sizes on served tokens only",
       .tps = 7000,
       .last_out_ago = 10,
       .paper = true,
       .signals = [](Signals& s) { offer(s, 16000, 0, 0); },
       .want = 4,
       .by = "coordinate"},
      {.name = "requests queued at decode: served x (running + waiting) / running",
       .tps = 7000,
       .decode_waiting = 100,
       .decode_running = 100,
       .want = 7,
       .by = "demand",
       .reason = "decode 14000 tok/s -> 7 units"},
      {.name = "prefill backlog to clear within the TTFT SLO",
       .tps = 7000,
       .tweak = [](ServiceConfig& c) { c.variants[0].prefill_tps_per_instance = 10000; },
       .signals = [](Signals& s) { offer(s, 7000, 30000, 100000); },
       .want = 5,
       .by = "demand",
       .reason = "backlog 100000 tokens / 2.0 s = 50000 -> 5 units"},
      {.name = "scale-in only as far as both roles agree",
       .tps = 2000,
       .tweak = [](ServiceConfig& c) { c.variants[0].prefill_tps_per_instance = 10000; },
       .signals =
           [](Signals& s) {
             offer(s, 2000, 30000, 0);
             s.prefill_tps = 30000;
           },
       .want = 3,
       .by = "demand",
       .reason = "-> 3 units at 10000 tok/s per unit"},
      {.name = "served below offered: scale-in refused",
       .tps = 2000,
       .signals =
           [](Signals& s) {
             offer(s, 2000, 30000, 0);
             s.prefill_tps = 10000;
           },
       .want = 4,
       .by = "safety",
       .reason = "served below offered load"},
      {.name = "router backlog slow to clear: scale-in refused",
       .tps = 2000,
       .signals =
           [](Signals& s) {
             offer(s, 2000, 10000, 20000);
             s.prefill_tps = 10000;
           },
       .want = 4,
       .by = "safety",
       .reason = "takes 2.00 s to clear"},
      {.name = "empty pool starts at min",
       .cur = 0,
       .known = false,
       .want = 1,
       .by = "bounds",
       .reason = "clamped"},
  };
  for (const auto& c : cases) run(c);
}

TEST(HeteroScalePolicy, ScheduleEntryInForce) {
  ServiceConfig c = testing::service();
  c.schedule = {{0x1f, 8 * 60, 3, ""},
                {0x7f, 20 * 60, 1, ""}};  // weekdays 08:00 -> 3; every day 20:00 -> 1
  // 2023-11-14 (Tuesday) 10:00 UTC = 1699956000.
  EXPECT_EQ(active_schedule_entry(c, 1699956000)->units, 3u);
  EXPECT_EQ(active_schedule_entry(c, 1699956000 + 11 * 3600)->units, 1u);  // 21:00
  EXPECT_EQ(active_schedule_entry(c, 1699956000 - 4 * 3600)->units,
            1u);  // 06:00: yesterday's 20:00 entry
  EXPECT_EQ(active_schedule_entry(c, 1699956000 + 4 * 86400)->units, 1u);  // Saturday 10:00
}

TEST(HeteroScalePolicy, LogLineHasInputsAndEveryStage) {
  ServiceConfig cfg = testing::service();
  Signals s;
  s.decode_known = true;
  s.decode_tps = 12000;
  s.coverage = 1;
  PolicyMemory mem;
  Decision d = HeteroScalePolicy().decide(cfg, s, {4, 8, 4, 8, 0, 0}, at(0), 0, mem);
  std::string l = d.to_log_line();
  for (const char* k : {"service=chat", "policy=heteroscale", "decision=scale_out", "prefill=4->6",
                        "decode=8->12", "decode_tps=12000.0", "by=proportional", "signal=",
                        "proportional=6/12:", "latency_guard=", "tolerance=", "stabilization=",
                        "cooldown=", "step_limit=", "bounds=", "in_flight=", "coordinate="}) {
    EXPECT_NE(l.find(k), std::string::npos) << k << "\n" << l;
  }
}

TEST(Baselines, HpaScalesEachPoolOnItsOwnSignal) {
  ServiceConfig cfg = testing::service();
  Signals neutral;
  neutral.prefill_gpu_util = neutral.decode_gpu_util = 0.7;
  PolicyMemory mem;
  HpaUtilizationPolicy hpa(0.7);
  EXPECT_EQ(hpa.decide(cfg, neutral, {4, 8, 4, 8, 0, 0}, at(0), 0, mem).desired_prefill, 4u);
  Signals s;
  s.prefill_gpu_util = 0.35;  // half the 0.7 target
  s.decode_gpu_util = 0.95;   // memory-bound decode reads busy
  Decision d = hpa.decide(cfg, s, {4, 8, 4, 8, 0, 0}, at(100), 0, mem);
  EXPECT_EQ(d.desired_decode, 11u);  // ceil(8 * 0.95 / 0.7)
  EXPECT_EQ(d.desired_prefill, 4u);  // scale-down held: the window still holds t=0's 4
  // 301 s after that 4, with the same signal, the prefill pool shrinks: the ratio drifts.
  Decision d2 = hpa.decide(cfg, s, {4, 11, 4, 11, 0, 0}, at(301), 0, mem);
  EXPECT_EQ(d2.desired_prefill, 2u);
  Signals q;
  q.prefill_waiting = 30;
  q.decode_waiting = 0;
  PolicyMemory m2;
  Decision dq = HpaQueuePolicy(2.0).decide(cfg, q, {4, 8, 4, 8, 0, 0}, at(0), 0, m2);
  EXPECT_EQ(dq.desired_prefill, 8u);  // min(ceil(30 / 2), max(2x, +4))
  Decision st = StaticPolicy(5).decide(cfg, q, {4, 8, 4, 8, 0, 0}, at(0), 0, m2);
  EXPECT_EQ(st.desired_prefill, 5u);
  EXPECT_EQ(st.desired_decode, 10u);
  EXPECT_EQ(make_policy("nope"), nullptr);
  EXPECT_EQ(make_policy("hpa-queue")->name(), "hpa-queue");
}

}  // namespace
}  // namespace hs::scaler

namespace hs::scaler {
namespace {

// The ratio band: 1:2, 1000 decode tokens/s per decode instance, 10000 prompt tokens/s per
// prefill instance, 4 units running `prefill` prefill instances beside 8 decode.
Decision band_decide(double band, uint32_t prefill, double prompt_tps,
                     const std::function<void(Signals&)>& more = nullptr) {
  ServiceConfig cfg = testing::service();
  cfg.variants[0].prefill_tps_per_instance = 10000;
  cfg.ratio_band = band;
  Signals s;
  s.now = testing::at(1000);
  s.decode_known = true;
  s.decode_tps = 7000;
  s.coverage = 1;
  s.decode_reporting = s.decode_expected = 8;
  for (LatencySignal* l : {&s.ttft, &s.tbt}) {
    l->known = true;
    l->tier_edge_s = {0.5, 1.0};
    l->tier_breached = {false, false};
  }
  s.prefill_waiting = s.decode_waiting = 0;
  offer(s, 7000, prompt_tps, 0);
  s.prefill_tps = prompt_tps;
  if (more) more(s);
  PoolState pool{prefill, 8, prefill, 8, 0, 8000, std::chrono::hours(1), prefill * 10000.0};
  PolicyMemory mem;
  return HeteroScalePolicy().decide(cfg, s, pool, testing::at(1000), 1700000000, mem);
}

TEST(HeteroScalePolicy, RatioBandSizesPrefillByItsOwnDemand) {
  // 55000 prompt tokens/s need 6 prefill instances; decode (7000 of 8000) needs no more units.
  Decision d = band_decide(0.5, 4, 55000);
  EXPECT_EQ(d.desired_prefill, 6u) << d.to_log_line();
  EXPECT_EQ(d.desired_decode, 8u) << "decode is not grown for prefill's demand";
  EXPECT_EQ(d.direction, Direction::kOut);
  EXPECT_EQ(d.deciding_stage().stage, "ratio_band") << d.to_log_line();
  EXPECT_DOUBLE_EQ(d.prefill_scale, 1.5);
  EXPECT_NE(d.to_log_line().find("prefill_scale=1.50"), std::string::npos);
  // The same load without a band: whole units, so decode grows with prefill (the paper's way).
  Decision fixed = band_decide(0, 4, 55000);
  EXPECT_EQ(fixed.desired_prefill, 6u) << fixed.to_log_line();
  EXPECT_EQ(fixed.desired_decode, 12u);
  // Past the band's top the service grows units, prefill at the top of the new band.
  Decision past = band_decide(0.5, 4, 75000);
  EXPECT_EQ(past.desired_decode, 10u) << past.to_log_line();
  EXPECT_EQ(past.desired_prefill, 7u) << "8 needed, 5 units hold at most 7";
}

TEST(HeteroScalePolicy, RatioBandCutsPrefillOnlyWhenNothingForbidsIt) {
  // 6 prefill for 15000 prompt tokens/s: 2 needed; cut as a scale-in is, one at a time.
  Decision cut = band_decide(0.5, 6, 15000);
  EXPECT_EQ(cut.desired_prefill, 5u) << cut.to_log_line();
  EXPECT_EQ(cut.desired_decode, 8u);
  EXPECT_EQ(cut.direction, Direction::kIn);
  // Requests waiting for prefill: the cut is refused.
  Decision waiting = band_decide(0.5, 6, 15000, [](Signals& s) { s.prefill_waiting = 3; });
  EXPECT_EQ(waiting.desired_prefill, 6u) << waiting.to_log_line();
  EXPECT_EQ(waiting.direction, Direction::kHold);
  bool refused = false;
  for (const auto& st : waiting.stages)
    refused |= st.stage == "ratio_band" && st.reason.find("cut refused") != std::string::npos;
  EXPECT_TRUE(refused) << waiting.to_log_line();
  // A breached TTFT tier, or one the survivors would breach: refused too.
  Decision breach = band_decide(0.5, 6, 15000, [](Signals& s) { s.ttft.tier = 0; });
  EXPECT_GE(breach.desired_prefill, 6u) << breach.to_log_line();
  Decision near = band_decide(0.5, 6, 15000, [](Signals& s) { s.ttft.quantile_s = 0.45; });
  EXPECT_EQ(near.desired_prefill, 6u) << near.to_log_line();
  Decision far = band_decide(0.5, 6, 15000, [](Signals& s) { s.ttft.quantile_s = 0.2; });
  EXPECT_EQ(far.desired_prefill, 5u) << far.to_log_line();
  // `paper` never leaves the ratio, whatever the band says.
  ServiceConfig cfg = testing::service();
  cfg.ratio_band = 0.5;
  cfg.variants[0].prefill_tps_per_instance = 10000;
  Signals s;
  s.decode_known = true;
  s.decode_tps = 7000;
  s.coverage = 1;
  s.decode_reporting = s.decode_expected = 8;
  offer(s, 7000, 55000, 0);
  PoolState pool{4, 8, 4, 8, 0, 8000, std::chrono::hours(1), 40000};
  PolicyMemory mem;
  Decision paper = HeteroScalePolicy(true).decide(cfg, s, pool, testing::at(1000), 1700000000, mem);
  EXPECT_EQ(paper.desired_prefill * 2, paper.desired_decode) << paper.to_log_line();
}

}  // namespace
}  // namespace hs::scaler
