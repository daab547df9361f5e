// scaler/ costs at cluster scale: signals over a 60 s window for 10,000 instances, and one
// decision (policy + placement) for 200 services / 10,000 instances, with the per-pool HPA
// baseline measured in the same run. Numbers only.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "fat_tree.h"
#include "hs/scaler/placement.h"
#include "hs/scaler/policy.h"
#include "hs/topo/topology_conf.h"

namespace {

using namespace hs::scaler;

constexpr int kServices = 200;
constexpr int kUnitsPerService = 17;  // 1:2 -> 51 instances per service, 10,200 in all

hs::TimePoint at(double s) { return hs::TimePoint{} + hs::from_seconds(s); }

struct Fleet {
  std::vector<ServiceConfig> configs;
  std::vector<MetricsWindow> windows;
  std::vector<std::vector<std::string>> expected;
  std::vector<Signals> signals;
  std::vector<DeploymentGroup> groups;
  std::vector<NodeInventory> nodes;
  hs::topo::Fabric fabric;
  size_t instances = 0;
};

Histogram hist(double n) {
  Histogram h;
  h.upper_bounds = {0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, INFINITY};
  for (size_t i = 0; i < h.upper_bounds.size(); ++i)
    h.cumulative.push_back(n * std::min(1.0, 0.2 * (i + 1)));
  h.count = h.cumulative.back();
  return h;
}

const Fleet& fleet() {
  static Fleet f = [] {
    Fleet fl;
    auto decls = hs::topo::parse_topology_conf(hs::bench::fat_tree_topology_conf({}), "fat-tree");
    fl.fabric = *hs::topo::Fabric::build(*decls, "fat-tree");
    int i = 0;
    for (const auto& n : fl.fabric.nodes())
      fl.nodes.push_back({n, (i++ % 3 == 0) ? "h100" : "l40s", 8, true});
    for (int s = 0; s < kServices; ++s) {
      ServiceConfig c;
      c.name = "svc" + std::to_string(s);
      // prefill_tps_per_instance set: the demand stage sizes prefill too.
      c.variants = {{"h100-l40s", "h100", "l40s", {1, 2}, 1000, 6000, 1, 1}};
      c.min_prefill = 1, c.min_decode = 2, c.max_prefill = 40, c.max_decode = 80;
      c.priority = s % 5;
      fl.configs.push_back(c);
      MetricsWindow w;
      std::vector<std::string> ids;
      DeploymentGroup g{c.name, c.name + "-g1", "h100-l40s", "spine0_0", 1, {}};
      for (int k = 0; k < 3 * kUnitsPerService; ++k) {
        bool decode = k % 3 != 0;
        InstanceSeries is{c.name + "_" + std::to_string(k),
                          decode ? Role::kDecode : Role::kPrefill,
                          k < 30 ? "g1" : "g2",
                          1000,
                          {}};
        for (int t = 0; t <= 60; t += 5) {
          InstanceSample x;
          x.t = at(1000 + t);
          x.generation_tokens = decode ? 900.0 * t : hs::scaler::kMissing;
          x.prompt_tokens = decode ? hs::scaler::kMissing : 5000.0 * t;
          x.waiting = 1;
          x.gpu_util = 0.8;
          is.samples.push_back(x);
        }
        if (decode) ids.push_back(is.id);
        g.instances.push_back({is.id, is.role, "n00001", static_cast<uint64_t>(k)});
        w.instances.push_back(std::move(is));
        ++fl.instances;
      }
      for (const char* grp : {"g1", "g2"}) {
        GroupSeries gs{grp, {}};
        for (int t = 0; t <= 60; t += 5)
          gs.samples.push_back({at(1000 + t), hist(100.0 * t), hist(1000.0 * t)});
        w.groups.push_back(gs);
      }
      // One router per service with offered load above what is served: the demand stage and
      // the safety stage's offered-load checks run on every decision.
      OfferedSeries router{"http://router" + std::to_string(s), {}};
      for (int t = 0; t <= 60; t += 5)
        router.samples.push_back({at(1000 + t), 10.0 * t, 60000.0 * t, 20000.0 * t, 30000.0, 5.0});
      w.offered.push_back(router);
      fl.windows.push_back(std::move(w));
      fl.expected.push_back(ids);
      fl.groups.push_back(g);
    }
    for (int s = 0; s < kServices; ++s)
      fl.signals.push_back(compute_signals(fl.windows[s], fl.configs[s], at(1060), fl.expected[s]));
    return fl;
  }();
  return f;
}

void BM_Signals60sWindow10kInstances(benchmark::State& state) {
  const Fleet& f = fleet();
  for (auto _ : state)
    for (int s = 0; s < kServices; ++s)
      benchmark::DoNotOptimize(
          compute_signals(f.windows[s], f.configs[s], at(1060), f.expected[s]));
  state.counters["instances"] = static_cast<double>(f.instances);
}
BENCHMARK(BM_Signals60sWindow10kInstances)->Unit(benchmark::kMillisecond);

// One decision per service, then placement of every service's change in one pass.
// `t`: decision time; callers advance it 15 s per decision as the daemon's tick would, so the
// policies' memories (stabilization windows) stay as small as in production.
template <typename P>
void decide_all(const Fleet& f, const P& policy, std::vector<PolicyMemory>& mem,
                bool with_placement, double t) {
  std::vector<PlacementRequest> reqs;
  std::vector<Decision> ds;
  ds.reserve(kServices);
  for (int s = 0; s < kServices; ++s) {
    PoolState pool{
        kUnitsPerService, 2 * kUnitsPerService, kUnitsPerService, 2 * kUnitsPerService, 0, 0};
    ds.push_back(policy.decide(f.configs[s], f.signals[s], pool, at(t), 0, mem[s]));
    int64_t delta = static_cast<int64_t>(ds.back().desired_decode / 2) - kUnitsPerService;
    reqs.push_back({&f.configs[s], delta == 0 ? (s % 2 ? 1 : -1) : delta});
  }
  if (with_placement) benchmark::DoNotOptimize(place(f.fabric, f.nodes, f.groups, reqs, {}));
  benchmark::DoNotOptimize(ds);
}

void BM_Decision200Services_HeteroScale(benchmark::State& state) {
  const Fleet& f = fleet();
  HeteroScalePolicy p;
  std::vector<PolicyMemory> mem(kServices);
  double t = 1060;
  for (auto _ : state) decide_all(f, p, mem, state.range(0) != 0, t += 15);
  state.SetLabel(state.range(0) ? "policy + placement" : "policy only");
}
BENCHMARK(BM_Decision200Services_HeteroScale)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_Decision200Services_HpaUtil(benchmark::State& state) {
  const Fleet& f = fleet();
  HpaUtilizationPolicy p;
  std::vector<PolicyMemory> mem(kServices);
  double t = 1060;
  for (auto _ : state) decide_all(f, p, mem, state.range(0) != 0, t += 15);
  state.SetLabel(state.range(0) ? "policy + placement" : "policy only");
}
BENCHMARK(BM_Decision200Services_HpaUtil)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_Decision200Services_Paper(benchmark::State& state) {
  const Fleet& f = fleet();
  HeteroScalePolicy p(/*paper=*/true);
  std::vector<PolicyMemory> mem(kServices);
  double t = 1060;
  for (auto _ : state) decide_all(f, p, mem, state.range(0) != 0, t += 15);
  state.SetLabel(state.range(0) ? "policy + placement" : "policy only");
}
BENCHMARK(BM_Decision200Services_Paper)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// The ratio, measured interleaved in this process so machine noise hits both alike.
void print_ratio() {
  const Fleet& f = fleet();
  HeteroScalePolicy hs, paper(/*paper=*/true);
  HpaUtilizationPolicy hpa;
  std::vector<PolicyMemory> m1(kServices), m2(kServices), m3(kServices);
  std::vector<double> a, b, c;
  double t = 1060;
  for (int r = 0; r < 41; ++r) {
    t += 15;
    auto t0 = std::chrono::steady_clock::now();
    decide_all(f, hs, m1, false, t);
    auto t1 = std::chrono::steady_clock::now();
    decide_all(f, hpa, m2, false, t);
    auto t2 = std::chrono::steady_clock::now();
    decide_all(f, paper, m3, false, t);
    auto t3 = std::chrono::steady_clock::now();
    a.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    b.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
    c.push_back(std::chrono::duration<double, std::micro>(t3 - t2).count());
  }
  for (auto* v : {&a, &b, &c}) std::sort(v->begin(), v->end());
  std::printf(
      "policy only, 200 services / %zu instances, median of 41 interleaved decisions: heteroscale "
      "%.0f us, paper %.0f us, hpa-util %.0f us; ratio heteroscale/paper %.2f, "
      "heteroscale/hpa-util %.2f\n",
      f.instances, a[20], c[20], b[20], a[20] / c[20], a[20] / b[20]);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_ratio();
  return 0;
}
