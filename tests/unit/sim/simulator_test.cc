// Sanity checks of the simulator with known answers, and that it runs the scaler's code.
#include "hs/sim/simulator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "hs/sim/calibrate.h"
#include "hs/sim/feasibility.h"

namespace hs::sim {
namespace {

using workload::Request;

// `rate` requests/s for `seconds`, all with the same lengths, evenly spaced.
std::vector<Request> constant(double rate, double seconds, uint32_t in, uint32_t out,
                              double from = 0) {
  std::vector<Request> v;
  for (double t = from; t < from + seconds; t += 1.0 / rate)
    v.push_back({v.size(), t, in, out, {}});
  return v;
}

scaler::ServiceConfig service(double target, uint32_t p = 1, uint32_t d = 1,
                              uint32_t max_units = 32) {
  scaler::ServiceConfig s;
  s.name = "t";
  s.where = "test";
  s.variants = {{"h100-h100", "h100", "h100", {p, d}, target, 0, 1, 1}};
  s.min_prefill = p;
  s.min_decode = d;
  s.max_prefill = p * max_units;
  s.max_decode = d * max_units;
  s.affinity = scaler::Affinity::kAny;
  return s;
}

Cluster cluster(uint32_t nodes = 16) {
  ClusterSpec spec;
  spec.leaves = {{"leaf1", "spine1", nodes, "h100", 8}};
  return *build_cluster(spec);
}

const workload::ProfileSet& profiles() { return workload::default_profiles(); }

TEST(Simulator, ConstantLoadGivesTheAnalyticCountsAndUtilization) {
  // 20 req/s x 175 output tokens = 3500 decode tok/s; target 1000 per decode instance:
  // ceil(3.5) = 4 instances at 87.5% of their target.
  auto reqs = constant(20, 3600, 500, 175);
  auto svc = service(1000, 1, 1);
  scaler::HeteroScalePolicy pol;
  auto settled = [](const PolicyResult& r, uint32_t* lo, uint32_t* hi, double* tps) {
    *lo = 1000, *hi = 0;
    double sum = 0;
    int n = 0;
    for (const auto& p : r.series)
      if (p.t > 2400 && p.t < 3600)
        *lo = std::min(*lo, p.decode), *hi = std::max(*hi, p.decode), sum += p.decode_tps, ++n;
    *tps = sum / n;
  };
  // Started at the right size it stays there.
  SimOptions o;
  o.initial_units = 4;
  auto r = simulate(reqs, svc, cluster(), profiles(), pol, o);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  uint32_t lo, hi;
  double tps;
  settled(*r, &lo, &hi, &tps);
  EXPECT_EQ(lo, 4u);
  EXPECT_EQ(hi, 4u);
  EXPECT_NEAR(tps, 3500, 3500 * 0.03);  // served = offered
  EXPECT_NEAR(tps / (4 * 1000), 0.875, 0.03);
  EXPECT_EQ(r->unfinished, 0u);
  EXPECT_EQ(r->completed, reqs.size());
  // Started from one unit it ends inside the hysteresis band: 4 <= D <= floor(4 / (1 - 0.2)).
  o.initial_units = 1;
  auto r1 = simulate(reqs, svc, cluster(), profiles(), pol, o);
  ASSERT_TRUE(r1.ok());
  settled(*r1, &lo, &hi, &tps);
  EXPECT_GE(lo, 4u);
  EXPECT_LE(hi, 5u);
  EXPECT_NEAR(tps, 3500, 3500 * 0.03);
}

TEST(Simulator, StepInLoadScalesOutAfterTheConfiguredDelay) {
  auto reqs = constant(5, 1800, 500, 200);
  auto more = constant(25, 1800, 500, 200, 1800);
  reqs.insert(reqs.end(), more.begin(), more.end());
  auto svc = service(1000);
  SimOptions o;
  scaler::HeteroScalePolicy pol;
  auto r = simulate(reqs, svc, cluster(), profiles(), pol, o);
  ASSERT_TRUE(r.ok());
  double first_out = -1;
  for (const auto& p : r->series)
    if (p.t > 1800 && p.decision == "scale_out" && first_out < 0) first_out = p.t - 1800;
  ASSERT_GT(first_out, 0) << "never scaled out";
  // The signal needs part of its window to see the step, then one tick: well under the
  // window (60 s) plus two ticks.
  EXPECT_LE(first_out, to_seconds(svc.scaling.window) + 2 * o.tick_s);
  uint32_t final_decode = r->series.back().decode;
  EXPECT_GE(final_decode, 5u);  // ceil(25 x 200 / 1000)
}

TEST(Simulator, InfiniteCapacityAndZeroStartupMeetTheSloForEveryPolicy) {
  auto reqs = constant(10, 1200, 500, 100);
  auto svc = service(1000, 1, 1, 64);
  svc.min_prefill = svc.min_decode = 64;  // far more than the load needs
  SimOptions o;
  o.zero_startup = true;
  scaler::HeteroScalePolicy hs;
  scaler::HpaUtilizationPolicy hu;
  scaler::HpaQueuePolicy hq;
  scaler::StaticPolicy st(64);
  for (const scaler::Policy* p : std::initializer_list<const scaler::Policy*>{&hs, &hu, &hq, &st}) {
    auto r = simulate(reqs, svc, cluster(), profiles(), *p, o);
    ASSERT_TRUE(r.ok()) << p->name();
    EXPECT_EQ(r->slo_both, 1.0) << p->name();
    EXPECT_EQ(r->unfinished, 0u) << p->name();
  }
}

TEST(Simulator, ChangingAPolicyConstantChangesTheSimulatedDecisions) {
  auto reqs = constant(5, 900, 500, 200);
  auto more = constant(15, 900, 500, 200, 900);
  reqs.insert(reqs.end(), more.begin(), more.end());
  SimOptions o;
  o.keep_decisions = 1000;
  scaler::HeteroScalePolicy pol;
  auto svc = service(1000);
  auto a = simulate(reqs, svc, cluster(), profiles(), pol, o);
  svc.scaling.tolerance_out = 5.0;  // nothing short of 6x may scale out
  auto b = simulate(reqs, svc, cluster(), profiles(), pol, o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_GT(a->scaling_actions, 0u);
  EXPECT_NE(a->series.back().decode, b->series.back().decode);
  EXPECT_NE(a->decisions, b->decisions);
}

// The fleet is what the daemon makes of the decisions on a simulated Slurm: a scale-in is
// throttles lowered, drain marks and, once the drained instances are idle past the soft
// grace, cancels; nothing in flight is lost on the way.
TEST(Simulator, ScalingGoesThroughTheDaemonsActionsOnSimulatedSlurm) {
  auto reqs = constant(20, 1200, 500, 175);
  auto less = constant(2, 1800, 500, 175, 1200);
  reqs.insert(reqs.end(), less.begin(), less.end());
  auto svc = service(1000);
  SimOptions o;
  o.initial_units = 4;
  o.keep_decisions = 100000;
  scaler::HeteroScalePolicy pol;
  auto r = simulate(reqs, svc, cluster(), profiles(), pol, o);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  auto has = [&](const std::string& needle) {
    for (const auto& d : r->decisions)
      if (d.find(needle) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("action throttle")) << ::testing::PrintToString(r->decisions);
  EXPECT_TRUE(has("action drain"));
  EXPECT_TRUE(has("action cancel"));
  EXPECT_GT(r->slurm_actions, 0u);
  EXPECT_EQ(r->slurm_action_failures, 0u);
  EXPECT_EQ(r->lost, 0u);
  EXPECT_GT(r->scaling_actions, 0u);
  EXPECT_LT(r->series.back().decode, 4u);
  EXPECT_EQ(r->completed, reqs.size());
  // The scale-ins are counted over the whole run, as the decision lines show them.
  size_t ins = 0;
  for (const auto& d : r->decisions) ins += d.find(" decision=scale_in ") != std::string::npos;
  EXPECT_GT(r->scale_ins.total, 0u);
  EXPECT_EQ(r->scale_ins.total, ins);
  EXPECT_EQ(r->scale_ins.under_breach, 0u);
}

TEST(Simulator, SameSeedSameResult) {
  auto reqs = constant(8, 600, 800, 150);
  SimOptions o;
  scaler::HeteroScalePolicy pol;
  auto svc = service(800);
  auto a = simulate(reqs, svc, cluster(), profiles(), pol, o);
  auto b = simulate(reqs, svc, cluster(), profiles(), pol, o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->gpu_hours, b->gpu_hours);
  EXPECT_EQ(a->ttft_p99_s, b->ttft_p99_s);
  EXPECT_EQ(a->scaling_actions, b->scaling_actions);
}

TEST(Simulator, OracleIsALowerBoundOnGpuHours) {
  auto reqs = constant(5, 900, 500, 200);
  auto more = constant(20, 900, 500, 200, 900);
  reqs.insert(reqs.end(), more.begin(), more.end());
  auto svc = service(1000);
  SimOptions o;
  scaler::HeteroScalePolicy pol;
  auto r = simulate(reqs, svc, cluster(), profiles(), pol, o);
  auto orc = oracle(reqs, svc, profiles(), o);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(orc.ok());
  EXPECT_LT(orc->gpu_hours, r->gpu_hours);
  EXPECT_GT(orc->gpu_hours, 0);
}

// oracle-split sizes each role on its own: never more than whole units, and less when one
// role's demand is off the calibrated ratio (long prompts here, at a 1:1 ratio).
TEST(Simulator, OracleSplitIsTheLowerBoundBelowWholeUnits) {
  auto reqs = constant(20, 900, 6000, 50);
  auto svc = service(1000);
  SimOptions o;
  auto units = oracle(reqs, svc, profiles(), o);
  auto split = oracle(reqs, svc, profiles(), o, OracleMode::kSplit);
  ASSERT_TRUE(units.ok());
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->policy, "oracle-split");
  EXPECT_LT(split->gpu_hours, units->gpu_hours);
  EXPECT_NEAR(split->gpu_hours_by_role["prefill"], units->gpu_hours_by_role["prefill"], 1e-9)
      << "prefill is the binding role: the same in both";
  EXPECT_LT(split->gpu_hours_by_role["decode"], units->gpu_hours_by_role["decode"]);
}

// docs/simulator.md, Feasibility: prompt + output over the context, or a prefill alone at
// batch 1 on the fastest prefill profile over the TTFT SLO.
TEST(Feasibility, ContextOrPrefillAloneOverTheTtftSlo) {
  auto svc = service(1000);
  svc.slo.ttft_s = 2.0;
  const auto* h100 = profiles().find("h100", "llama-8b");
  ASSERT_NE(h100, nullptr);
  Feasibility f(svc, profiles(), "llama-8b");
  uint32_t n = f.longest_feasible_prompt();
  EXPECT_LE(h100->prefill_s(n), 2.0);
  EXPECT_GT(h100->prefill_s(n + 1.0), 2.0);
  EXPECT_EQ(f.check(n, 1), Infeasible::kNo);
  EXPECT_EQ(f.check(n + 1, 1),
            n + 2 > h100->max_context ? Infeasible::kContext : Infeasible::kPrefillAlone);
  EXPECT_EQ(f.check(h100->max_context, 1), Infeasible::kContext);
  // A second, faster prefill variant admits longer prompts: the fastest decides.
  auto two = svc;
  two.variants.push_back(two.variants[0]);
  two.variants[1].prefill_gpu = "a100";
  Feasibility g(two, profiles(), "llama-8b");
  EXPECT_EQ(g.longest_feasible_prompt(), n) << "the H100 is the faster of the two";
  // In a run: a prompt too long to prefill within the SLO is a miss in the plain figure and
  // outside the feasible one.
  std::vector<workload::Request> reqs = constant(2, 300, 500, 50);
  reqs.push_back({reqs.size(), 100.0, std::min(n + 500, h100->max_context - 100), 50, {}});
  SimOptions o;
  scaler::StaticPolicy pol(4);
  auto r = simulate(reqs, svc, cluster(), profiles(), pol, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->infeasible_requests, 1u);
  EXPECT_EQ(r->infeasible_prefill, 1u);
  EXPECT_LT(r->slo_ttft, 1.0);
  EXPECT_DOUBLE_EQ(r->slo_ttft_feasible, 1.0);
}

TEST(Simulator, ClientsGiveUpOnAnOverloadedFleetAndMemoryStaysBounded) {
  // One unit at most, four times the load it serves: without timeouts the backlog grows for
  // the whole hour; with a 60 s client timeout requests without a first token are dropped
  // and at most about rate x timeout are held.
  auto reqs = constant(40, 3600, 2000, 200);
  auto svc = service(1000, 1, 1, /*max_units=*/1);
  scaler::StaticPolicy pol(1);
  SimOptions o;
  o.drain_s = 0;
  o.client_timeout_s = 60;
  auto r = simulate(reqs, svc, cluster(), profiles(), pol, o);
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->abandoned, reqs.size() / 2);
  EXPECT_LE(r->max_in_flight, 40u * 70);
  EXPECT_EQ(r->completed + r->abandoned + r->unfinished, r->requests);
  EXPECT_LT(r->slo_both, 0.5);  // abandoned requests miss the SLO
  o.client_timeout_s = 0;
  auto w = simulate(reqs, svc, cluster(), profiles(), pol, o);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->abandoned, 0u);
  EXPECT_GT(w->max_in_flight, reqs.size() / 2);
  EXPECT_EQ(w->completed + w->unfinished, w->requests);
}

// A stream whose source turns out bad after some requests.
class FailingStream final : public workload::RequestStream {
 public:
  bool next(Request& r) override {
    if (n_ == 100) {
      error_ = invalid_argument("ContextTokens is not a token count", "trace.csv:102");
      return false;
    }
    r = {n_, n_ * 0.1, 500, 100, {}};
    ++n_;
    return true;
  }

 private:
  uint64_t n_ = 0;
};

TEST(Simulator, AStreamErrorEndsTheRunWithItsFileAndLine) {
  auto svc = service(1000);
  scaler::HeteroScalePolicy pol;
  FailingStream s;
  auto r = simulate(s, svc, cluster(), profiles(), pol, SimOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().where, "trace.csv:102");
  FailingStream s2;
  auto o = oracle(s2, svc, profiles(), SimOptions{});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().where, "trace.csv:102");
}

TEST(Simulator, PercentilesAreExactBelowTheCap) {
  auto reqs = constant(10, 600, 500, 100);
  auto svc = service(1000);
  scaler::HeteroScalePolicy pol;
  auto r = simulate(reqs, svc, cluster(), profiles(), pol, SimOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->percentiles_exact);
  EXPECT_EQ(r->completed, reqs.size());
  EXPECT_LE(r->max_in_flight, 100u);  // a few seconds of arrivals, not the whole trace
}

TEST(Calibrate, RecoversAPlantedTargetAndRatio) {
  // Planted: decode step 20 ms + 0.5 ms per sequence, no context term: at a 65 ms TBT SLO and
  // 0.8 margin the largest batch is 64 (52 ms), i.e. 1230.8 tok/s. Prefill 50 ms + 0.1 ms per
  // token: 1000-token prompts, TTFT 2.5 s -> 1 s budget -> 9000... capped at 8192 tokens ->
  // 8000 tokens in 0.85 s -> 9412 tok/s x 0.8 = 7529 tok/s = 7.53 req/s; decode 1230.8 / 200
  // tokens = 6.15 req/s: P:D = 0.817 -> 5:6 (0.833 is the smallest fraction >= 0.817 with
  // terms <= 8).
  workload::EngineProfile p, d;
  p.gpu = d.gpu = "synthetic";
  p.p0 = 0.05;
  p.p1 = 1e-4;
  d.d0 = 0.02;
  d.d1 = 5e-4;
  d.max_batch = 256;
  d.kv_capacity_tokens = 10'000'000;
  CalibrateInput in;
  in.prefill = &p;
  in.decode = &d;
  in.avg_prompt_tokens = 1000;
  in.avg_output_tokens = 200;
  in.slo.tbt_s = 0.065;
  in.slo.ttft_s = 2.5;
  auto c = calibrate(in);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_NEAR(c->decode_tps_per_instance, 1230.8, 1230.8 * 0.10);
  double planted_ratio = 0.817, got = static_cast<double>(c->ratio.prefill) / c->ratio.decode;
  EXPECT_NEAR(got, planted_ratio, planted_ratio * 0.10) << c->explain;
  EXPECT_EQ(c->decode_batch, 64u);
  in.slo.tbt_s = 0.01;  // below one sequence's step: impossible
  EXPECT_EQ(calibrate(in).error().code, ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace hs::sim
