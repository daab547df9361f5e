// Simulator speed: simulated requests per second of wall time on one core, for the real Azure
// code trace scaled up and for a composed day of the ServeGen excerpt. Numbers only.
#include <benchmark/benchmark.h>

#include "hs/sim/simulator.h"
#include "hs/workload/servegen.h"
#include "hs/workload/trace.h"

namespace {

const std::string kData = HS_TEST_DATA_DIR;

hs::scaler::ServiceConfig service() {
  hs::scaler::ServiceConfig s;
  s.name = "bench";
  s.where = "bench";
  s.variants = {{"h100-l40s", "h100", "l40s", {1, 1}, 1400, 0, 1, 1}};
  s.min_prefill = s.min_decode = 1;
  s.max_prefill = s.max_decode = 64;
  return s;
}

void run(benchmark::State& state, const std::vector<hs::workload::Request>& reqs) {
  auto cl = hs::sim::build_cluster(hs::sim::default_cluster_spec());
  hs::scaler::HeteroScalePolicy pol;
  hs::sim::SimOptions o;
  auto svc = service();
  for (auto _ : state) {
    auto r = hs::sim::simulate(reqs, svc, *cl, hs::workload::default_profiles(), pol, o);
    if (!r.ok()) state.SkipWithError(r.error().to_string().c_str());
    benchmark::DoNotOptimize(r);
  }
  state.counters["simulated_requests/s"] = benchmark::Counter(
      static_cast<double>(reqs.size()) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["requests"] = static_cast<double>(reqs.size());
}

void BM_SimulateAzureCodeX8(benchmark::State& state) {
  auto t = hs::workload::read_trace(kData + "/traces/azure2023_AzureLLMInferenceTrace_code.csv");
  std::vector<hs::workload::Request> reqs;
  for (const auto& r : t->requests)
    for (int k = 0; k < 8; ++k) {
      auto x = r;
      x.arrival_s += k * 0.137;
      reqs.push_back(x);
    }
  std::sort(reqs.begin(), reqs.end(), [](auto& a, auto& b) { return a.arrival_s < b.arrival_s; });
  run(state, reqs);
}
BENCHMARK(BM_SimulateAzureCodeX8)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SimulateServeGenExcerpt(benchmark::State& state) {
  auto cat = hs::workload::read_servegen(kData + "/servegen-mini");
  hs::workload::ComposeOptions o;
  o.duration_s = cat->span_s;
  o.rate_scale = 40;
  auto reqs = hs::workload::compose(*cat, o, nullptr);
  run(state, *reqs);
}
BENCHMARK(BM_SimulateServeGenExcerpt)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
