// topo/ costs: loading each real hwloc export with its GPU<->NIC affinity; reading the real
// fabric capture; 10,000 node-distance queries on it and on a generated 10,000-node fat tree.
#include <benchmark/benchmark.h>

#include <random>

#include "fat_tree.h"
#include "hs/common/file.h"
#include "hs/topo/discover.h"
#include "hs/topo/ibnetdiscover.h"
#include "hs/topo/topology_conf.h"

namespace {

const std::string kData = HS_TEST_DATA_DIR;
const char* kFixtures[] = {
    "amd-epyc-2s-8xmi50-1mlx5-pciesw.xml",  "dell-xe8640-2s-snc4-4xh100-4mlx5-pciesw.xml",
    "ibm-ac922-power9-2s-4xv100-4mlx5.xml", "ibm-power8-2s-4xp100-2mlx5-v1.xml",
    "intel-2s-2xp100-1mlx5-pciesw.xml",     "nvidia-dgx2-2s-16xv100-nvswitch-nonic.xml",
};

void BM_LoadXmlWithAffinity(benchmark::State& state) {
  std::string path = kData + "/topo/" + kFixtures[state.range(0)];
  state.SetLabel(kFixtures[state.range(0)]);
  for (auto _ : state) {
    auto t = hs::topo::load_xml(path);
    if (!t.ok()) state.SkipWithError(t.error().to_string().c_str());
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_LoadXmlWithAffinity)->DenseRange(0, 5)->Unit(benchmark::kMillisecond);

void BM_LiveDiscovery(benchmark::State& state) {
  for (auto _ : state) {
    auto t = hs::topo::discover_live();
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_LiveDiscovery)->Unit(benchmark::kMillisecond);

hs::topo::Fabric capture_fabric() {
  auto f = hs::topo::load_ibnetdiscover(kData + "/fabric/psmn-x5_ibnetdiscover.txt",
                                        kData + "/fabric/psmn-x5_guid2host.map");
  return f.ok() ? *f : hs::topo::Fabric();
}

hs::topo::Fabric fat_tree_fabric(const std::string& text) {
  auto d = hs::topo::parse_topology_conf(text, "fat-tree");
  if (!d.ok()) return {};
  auto f = hs::topo::Fabric::build(*d, "fat-tree");
  return f.ok() ? *f : hs::topo::Fabric();
}

void BM_ParseCapture(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(capture_fabric());
}
BENCHMARK(BM_ParseCapture)->Unit(benchmark::kMillisecond);

void BM_ParseFatTree10k(benchmark::State& state) {
  std::string text = hs::bench::fat_tree_topology_conf({});
  for (auto _ : state) benchmark::DoNotOptimize(fat_tree_fabric(text));
  state.counters["switches"] = static_cast<double>(fat_tree_fabric(text).switches().size());
}
BENCHMARK(BM_ParseFatTree10k)->Unit(benchmark::kMillisecond);

// 10,000 queries between random node pairs per iteration.
void run_distance_queries(benchmark::State& state, const hs::topo::Fabric& f) {
  std::vector<std::string> nodes = f.nodes();
  if (nodes.size() < 2) {
    state.SkipWithError("fabric did not load");
    return;
  }
  std::mt19937 rng(42);
  std::uniform_int_distribution<size_t> pick(0, nodes.size() - 1);
  std::vector<std::pair<size_t, size_t>> pairs(10000);
  for (auto& p : pairs) p = {pick(rng), pick(rng)};
  for (auto _ : state) {
    for (const auto& [a, b] : pairs) benchmark::DoNotOptimize(f.distance(nodes[a], nodes[b]));
  }
  state.counters["queries/s"] =
      benchmark::Counter(10000.0 * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_Distance10kCapture(benchmark::State& state) {
  run_distance_queries(state, capture_fabric());
}
BENCHMARK(BM_Distance10kCapture)->Unit(benchmark::kMillisecond);

void BM_Distance10kFatTree10k(benchmark::State& state) {
  run_distance_queries(state, fat_tree_fabric(hs::bench::fat_tree_topology_conf({})));
}
BENCHMARK(BM_Distance10kFatTree10k)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
