// CPU cost of heteroscaled's work at cluster scale, in-process with fake targets: 200
// services x 50 instances (25 prefill + 25 decode in 5 deployment groups) = 10,000 instances
// on a 10,000-node fat tree, each group under one leaf (affinity leaf). Reported apart:
//  - scrape round (the scrape thread): 10,000 engine /metrics bodies in hs-engine-sim's
//    shape, parsed as the daemon parses them (MetricsStore::add_round), windows built;
//  - parse: the same bodies through the whole-scrape parser, the old way, for comparison;
//  - tick (the tick thread): Controller::tick over the Slurm view (reconciliation, signals,
//    policy, placement), then the served endpoint set it publishes;
//  - a router's /hs/endpoints read while ticks run back to back.
// Slurm and scrape transport are not included (bench_router measures the HTTP stack).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "fat_tree.h"
#include "hs/common/clock.h"
#include "hs/common/engine_metrics.h"
#include "hs/common/http.h"
#include "hs/common/logger.h"
#include "hs/common/prometheus_text.h"
#include "hs/scaler/controller.h"
#include "hs/scaler/daemon_api.h"
#include "hs/scaler/engine_metrics.h"
#include "hs/scaler/registrations.h"
#include "hs/scaler/scraper.h"
#include "hs/topo/topology_conf.h"

namespace {

using namespace hs;
using namespace hs::scaler;

constexpr int kServices = 200, kGroups = 5, kPerRole = 5;  // per group and role

// One engine's /metrics in hs-engine-sim's shape (launcher/src/vllm_response.cc): vLLM's
// gauges and counters and its three latency histograms with vLLM's buckets, ~100 lines.
std::string engine_text(double generation, double prompt) {
  namespace em = engine_metrics;
  using T = prom::MetricType;
  prom::Writer pw;
  prom::Labels l = {{"model_name", "m"}, {"engine", "0"}};
  auto one = [&](std::string_view n, T type, double v) {
    pw.family(n, type, "help text");
    pw.sample(n, l, v);
  };
  one(em::kVllmRunning, T::kGauge, 12);
  one(em::kVllmWaiting, T::kGauge, 1);
  one(em::kVllmKvUsage, T::kGauge, 0.4);
  one(em::kVllmPromptTokens, T::kCounter, prompt);
  one(em::kVllmGenerationTokens, T::kCounter, generation);
  one(em::kVllmPrefixCacheQueries, T::kCounter, prompt);
  one(em::kVllmPrefixCacheHits, T::kCounter, 0);
  prom::Labels lf = l;
  lf.emplace_back("finished_reason", "length");
  pw.family(em::kVllmRequestSuccess, T::kCounter, "help text");
  pw.sample(em::kVllmRequestSuccess, lf, 900);
  for (auto [name, bounds] : {std::pair{em::kVllmTtft, &prom::vllm_ttft_buckets()},
                              std::pair{em::kVllmTpot, &prom::vllm_tpot_buckets()},
                              std::pair{em::kVllmE2e, &prom::vllm_e2e_buckets()}}) {
    prom::Histogram h(*bounds);
    for (double v : {0.05, 0.2, 0.9, 3.0}) h.observe(v, 200);
    pw.family(name, T::kHistogram, "help text");
    pw.histogram(name, l, h.bounds, h.cumulative, h.sum, h.count);
  }
  return pw.text();
}

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
            w.texts.push_back(engine_text(1e6 + t, 5e6 + t));
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

// What the Slurm thread hands the tick: the view of every tagged job, and the nodes.
SlurmSnapshot slurm_snapshot(const World& w) {
  SlurmSnapshot snap;
  snap.seq = 1;
  snap.view = build_view(w.jobs);
  snap.nodes = w.nodes;
  snap.read_at = w.now;
  return snap;
}

// What the scrape thread does with one round as the daemon runs it (MetricsStore::add_round):
// parse 10,000 bodies, append one sample each, trim to the kept window and build every
// service's window, in steady state (the store already holds 2 minutes of rounds).
void BM_ScrapeRound10k(benchmark::State& state) {
  World& w = world();
  std::vector<ScrapeResult> round;
  for (size_t i = 0; i < w.texts.size(); ++i) {
    const Registration& r = w.regs[i];
    round.push_back({ScrapeTarget{r.service, r.url, false, r.id(), r.group, r.role}, w.texts[i]});
  }
  MetricsStore store(Logger("bench", LogLevel::kOff, null_sink()));
  const Duration keep = std::chrono::seconds(120);
  TimePoint now = w.now;
  for (int k = 0; k < 24; ++k, now += std::chrono::seconds(5))
    store.add_round(round, w.regs, keep, now);
  for (auto _ : state) {
    benchmark::DoNotOptimize(store.add_round(round, w.regs, keep, now));
    now += std::chrono::seconds(5);
  }
  state.counters["instances"] = static_cast<double>(round.size());
}
BENCHMARK(BM_ScrapeRound10k)->Unit(benchmark::kMillisecond);

void BM_Parse10kScrapes(benchmark::State& state) {
  World& w = world();
  for (auto _ : state) benchmark::DoNotOptimize(parse_all(w));
  state.counters["instances"] = static_cast<double>(w.texts.size());
}
BENCHMARK(BM_Parse10kScrapes)->Unit(benchmark::kMillisecond);

void BM_Tick200Services10kInstances(benchmark::State& state) {
  World& w = world();
  auto metrics = parse_all(w);
  SlurmSnapshot snap = slurm_snapshot(w);
  size_t actions = 0;
  for (auto _ : state) {
    // A fresh Controller each round (so every round makes the same scale-out decision);
    // building and destroying it is the daemon's start-up cost, measured apart below.
    state.PauseTiming();
    auto c = std::make_unique<Controller>(w.cfg, w.fabric, w.now - std::chrono::hours(1));
    state.ResumeTiming();
    auto acts = c->tick(&snap, w.regs, metrics, w.now, 1'800'000'000);
    actions = acts.size();
    benchmark::DoNotOptimize(acts);
    state.PauseTiming();
    c.reset();
    state.ResumeTiming();
  }
  state.counters["actions"] = static_cast<double>(actions);
}
BENCHMARK(BM_Tick200Services10kInstances)->Unit(benchmark::kMillisecond);

// Once at start-up and on each config reload: the fabric's indexes for placement.
void BM_ControllerStart(benchmark::State& state) {
  World& w = world();
  for (auto _ : state) {
    Controller c(w.cfg, w.fabric, w.now - std::chrono::hours(1));
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_ControllerStart)->Unit(benchmark::kMillisecond);

// A router's read of its service's endpoints (GET /hs/endpoints?service=S over a kept-alive
// connection, as hs-router polls) while the tick thread runs 10,000-instance ticks back to
// back and publishes each one's view: the API reads the last published view and never waits
// for a tick. Reported: latency percentiles of the reads (ms) and the ticks run meanwhile.
void BM_EndpointsReadDuringTicks(benchmark::State& state) {
  World& w = world();
  auto metrics = parse_all(w);
  SlurmSnapshot snap = slurm_snapshot(w);
  Registrations regs;  // GETs read the published view only
  SteadyClock clock;
  DaemonApi api(regs, clock, Logger("bench", LogLevel::kOff, null_sink()), "");
  auto publish = [&](const Controller& c) {
    auto view = std::make_shared<DaemonView>();
    EndpointInputs in;
    in.registrations = &w.regs;
    in.view = &snap.view;
    in.ratios = c.ratios();
    in.now = w.now;
    view->served = served_endpoints(in);
    view->status = c.status();
    api.publish(std::move(view));
  };
  Controller first(w.cfg, w.fabric, w.now - std::chrono::hours(1));
  first.tick(&snap, w.regs, metrics, w.now, 1'800'000'000);
  publish(first);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ticks{0};
  std::thread ticker([&] {
    while (!stop) {
      Controller c(w.cfg, w.fabric, w.now - std::chrono::hours(1));
      c.tick(&snap, w.regs, metrics, w.now, 1'800'000'000);
      publish(c);
      ++ticks;
    }
  });
  auto server = http::Server::start({}, [&](const http::Request& r) { return api.handle(r); });
  http::Connection conn("127.0.0.1", (*server)->port());
  std::vector<double> ms;
  size_t bytes = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    auto res = conn.request("GET", "/hs/endpoints?service=s17");
    auto t1 = std::chrono::steady_clock::now();
    if (!res.ok() || res->status != 200) {
      state.SkipWithError("GET /hs/endpoints failed");
      break;
    }
    bytes = res->body.size();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  stop = true;
  ticker.join();
  (*server)->stop();
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) {
    return ms.empty() ? 0.0 : ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))];
  };
  state.counters["p50_ms"] = pct(0.50);
  state.counters["p99_ms"] = pct(0.99);
  state.counters["max_ms"] = ms.empty() ? 0.0 : ms.back();
  state.counters["ticks_meanwhile"] = static_cast<double>(ticks.load());
  state.counters["body_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_EndpointsReadDuringTicks)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The end of a tick: the served endpoint set (ratio gate, drain flags) the API publishes.
void BM_ServedEndpoints10k(benchmark::State& state) {
  World& w = world();
  auto view = build_view(w.jobs);
  Controller c(w.cfg, w.fabric, w.now - std::chrono::hours(1));
  EndpointInputs in;
  in.registrations = &w.regs;
  in.view = &view;
  in.ratios = c.ratios();
  in.now = w.now;
  for (auto _ : state) benchmark::DoNotOptimize(served_endpoints(in));
}
BENCHMARK(BM_ServedEndpoints10k)->Unit(benchmark::kMillisecond);

void BM_BuildView10kTasks(benchmark::State& state) {
  World& w = world();
  for (auto _ : state) benchmark::DoNotOptimize(build_view(w.jobs));
}
BENCHMARK(BM_BuildView10kTasks)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
