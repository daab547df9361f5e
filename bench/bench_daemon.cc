// CPU cost of one heteroscaled tick at cluster scale, in-process with fake targets: 200
// services x 50 instances (25 prefill + 25 decode in 5 deployment groups) = 10,000 instances
// on a 10,000-node fat tree, each group under one leaf (affinity leaf). Two parts, reported
// separately and together:
//  - parse: 10,000 engine /metrics texts (vLLM names, as hs-engine-sim writes them) into
//    samples, and building each service's window;
//  - tick: Controller::tick over the Slurm view (reconciliation, signals, policy, placement).
// HTTP transport is not included (bench_router measures the HTTP stack).
#include <benchmark/benchmark.h>

#include "fat_tree.h"
#include "hs/common/prometheus_text.h"
#include "hs/scaler/controller.h"
#include "hs/scaler/engine_metrics.h"
#include "hs/topo/topology_conf.h"

namespace {

using namespace hs;
using namespace hs::scaler;

constexpr int kServices = 200, kGroups = 5, kPerRole = 5;  // per group and role

struct World {
  DaemonConfig cfg;
  topo::Fabric fabric;
  std::vector<SlurmJob> jobs;
  std::vector<SlurmNode> nodes;
  std::vector<Registration> regs;
  std::vector<std::string> texts;  // one /metrics text per instance
  TimePoint now{std::chrono::hours(10)};
};

World& world() {
  static World instance = [] {
    World w;
    std::string yaml = "services:\n";
    for (int s = 0; s < kServices; ++s)
      yaml += "  - name: s" + std::to_string(s) +
              "\n    variants: [{name: v, prefill_gpu: h100, decode_gpu: h100, ratio: \"1:1\", "
              "decode_tps_per_instance: 1000}]\n    bounds: {min_prefill: 1, max_prefill: 100, "
              "min_decode: 1, max_decode: 100}\n    affinity: leaf\n";
    w.cfg = *parse_daemon_config(yaml, "bench.yaml");
    auto decls = topo::parse_topology_conf(bench::fat_tree_topology_conf({}), "fat-tree");
    w.fabric = *topo::Fabric::build(*decls, "fat-tree");
    auto names = w.fabric.nodes();
    for (const auto& n : names) {
      SlurmNode x;
      x.name = n;
      x.state = "mixed";
      x.gres = "gpu:h100:8(S:0-1)";
      x.gres_used = "gpu:h100:4(IDX:0-3)";
      w.nodes.push_back(x);
    }
    uint32_t id = 1000;
    size_t node = 0, group_first = 0;
    for (int s = 0; s < kServices; ++s)
      for (int g = 0; g < kGroups; ++g)
        for (const char* role : {"prefill", "decode"}) {
          uint32_t array = id;
          id += 100;
          // The group's tasks sit on consecutive nodes of one leaf (32 nodes per leaf).
          size_t first = (node / 32) * 32;
          if (role[0] == 'p') group_first = first;
          node = std::max(node, group_first);
          std::string leaf = "leaf" + std::to_string(group_first / 32);
          std::string tag = "heteroscale/v1 service=s" + std::to_string(s) + " role=" + role +
                            " group=g" + std::to_string(g) + " variant=v";
          for (int t = 0; t < kPerRole; ++t) {
            SlurmJob j;
            j.job_id = array + 1 + t;
            j.array_job_id = array;
            j.array_task_id = t;
            j.array_max_tasks = kPerRole;
            j.state = JobState::kRunning;
            j.comment = tag;
            j.nodes = names[node++ % names.size()];
            j.features = leaf;
            w.jobs.push_back(j);
            Registration r;
            r.url = "http://10.0." + std::to_string(j.job_id / 250) + "." +
                    std::to_string(j.job_id % 250) + ":8000";
            r.service = "s" + std::to_string(s);
            r.group = "g" + std::to_string(g);
            r.role = role[0] == 'p' ? Role::kPrefill : Role::kDecode;
            r.job_id = std::to_string(array);
            r.array_task_id = std::to_string(t);
            r.registered = w.now - std::chrono::minutes(10);
            r.last_heartbeat = w.now - std::chrono::seconds(5);
            w.regs.push_back(r);
            prom::Writer pw;
            pw.family("vllm:generation_tokens", prom::MetricType::kCounter, "tokens");
            pw.sample("vllm:generation_tokens_total", {{"model_name", "m"}}, 1e6 + t);
            pw.family("vllm:prompt_tokens", prom::MetricType::kCounter, "tokens");
            pw.sample("vllm:prompt_tokens_total", {{"model_name", "m"}}, 5e6 + t);
            pw.family("vllm:num_requests_running", prom::MetricType::kGauge, "running");
            pw.sample("vllm:num_requests_running", {{"model_name", "m"}}, 12);
            pw.family("vllm:num_requests_waiting", prom::MetricType::kGauge, "waiting");
            pw.sample("vllm:num_requests_waiting", {{"model_name", "m"}}, 1);
            w.texts.push_back(pw.text());
          }
          SlurmJob meta;
          meta.job_id = array;
          meta.array_job_id = array;
          meta.pending_tasks = std::to_string(kPerRole) + "-63";
          meta.array_max_tasks = kPerRole;
          meta.comment = tag;
          meta.features = leaf;
          w.jobs.push_back(meta);
        }
    return w;
  }();
  return instance;
}

// Samples over a 60 s window, every 5 s (13 per instance): what the store holds at a tick.
std::map<std::string, ServiceMetrics> parse_all(const World& w) {
  std::map<std::string, ServiceMetrics> out;
  std::map<std::string, InstanceSeries> series;
  for (size_t i = 0; i < w.texts.size(); ++i) {
    auto sc = prom::parse(w.texts[i], "t");
    auto sample = instance_sample(*sc, w.now);
    const Registration& r = w.regs[i];
    InstanceSeries& s = series[r.id()];
    s.id = r.id();
    s.role = r.role;
    s.group = r.group;
    s.decode_tps_target = 1000;
    for (int k = 12; k >= 0; --k) {
      InstanceSample x = *sample;
      x.t = w.now - std::chrono::seconds(5 * k);
      x.generation_tokens -= 6000.0 * k;  // 1,200 tok/s each: every service scales out
      s.samples.push_back(x);
    }
    out[r.service].engine_in_flight[r.url] = sample->running + sample->waiting;
  }
  for (const auto& r : w.regs) out[r.service].window.instances.push_back(series[r.id()]);
  return out;
}

void BM_Parse10kScrapes(benchmark::State& state) {
  World& w = world();
  for (auto _ : state) benchmark::DoNotOptimize(parse_all(w));
  state.counters["instances"] = static_cast<double>(w.texts.size());
}
BENCHMARK(BM_Parse10kScrapes)->Unit(benchmark::kMillisecond);

void BM_Tick200Services10kInstances(benchmark::State& state) {
  World& w = world();
  auto metrics = parse_all(w);
  SlurmSnapshot snap;
  snap.seq = 1;
  snap.view = build_view(w.jobs);
  snap.nodes = w.nodes;
  snap.read_at = w.now;
  size_t actions = 0;
  for (auto _ : state) {
    Controller c(w.cfg, w.fabric, w.now - std::chrono::hours(1));
    auto acts = c.tick(&snap, w.regs, metrics, w.now, 1'800'000'000);
    actions = acts.size();
    benchmark::DoNotOptimize(acts);
  }
  state.counters["actions"] = static_cast<double>(actions);
}
BENCHMARK(BM_Tick200Services10kInstances)->Unit(benchmark::kMillisecond);

void BM_BuildView10kTasks(benchmark::State& state) {
  World& w = world();
  for (auto _ : state) benchmark::DoNotOptimize(build_view(w.jobs));
}
BENCHMARK(BM_BuildView10kTasks)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
