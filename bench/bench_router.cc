// hs-router's cost and the engine simulator's fidelity, measured in one process on loopback:
//  1. added latency: the same P/D request (prefill then decode, non-streaming) sent by the
//     bench itself straight to the engines vs through hs-router; p50/p99 of each, and the
//     difference;
//  2. maximum request rate through the router vs straight to one engine, with C concurrent
//     clients, on engines fast enough (time scale 1e5) to leave the router as the bottleneck;
//  3. simulated throughput at batch B as a ratio to the profile's prediction.
// Numbers only; nothing here passes or fails on time. `bench_router --quick` is the smoke run.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "hs/common/clock.h"
#include "hs/common/http.h"
#include "hs/launcher/engine_sim.h"
#include "hs/router/router.h"

using namespace hs;
using json = nlohmann::json;
using Steady = std::chrono::steady_clock;

namespace {

double ms_since(Steady::time_point t) {
  return std::chrono::duration<double, std::milli>(Steady::now() - t).count();
}

double pct(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[static_cast<size_t>(q * (v.size() - 1))];
}

std::unique_ptr<launcher::EngineSim> engine(Role role, double time_scale) {
  launcher::EngineSimOptions o;
  o.role = role;
  o.time_scale = time_scale;
  if (role != Role::kBoth) o.side_channel_host = "127.0.0.1";  // vLLM's NIXL side channel
  auto e = launcher::EngineSim::start(o, *workload::default_profiles().find("h100", "llama-8b"));
  if (!e.ok()) {
    std::fprintf(stderr, "bench_router: %s\n", e.error().to_string().c_str());
    std::exit(1);
  }
  return std::move(*e);
}

const std::string kBody = R"({"prompt": "benchmark prompt of a few tokens", "max_tokens": 4})";

bool direct(uint16_t prefill, uint16_t decode) {
  json pre = json::parse(kBody);
  pre["max_tokens"] = 1;
  pre["kv_transfer_params"] = {{"do_remote_decode", true}};
  auto r = http::request("127.0.0.1", prefill, "POST", "/v1/completions", pre.dump());
  if (!r.ok() || r->status != 200) return false;
  json dec = json::parse(kBody);
  dec["kv_transfer_params"] = json::parse(r->body)["kv_transfer_params"];
  auto d = http::request("127.0.0.1", decode, "POST", "/v1/completions", dec.dump());
  return d.ok() && d->status == 200;
}

bool routed(uint16_t router) {
  auto r = http::request("127.0.0.1", router, "POST", "/v1/completions", kBody);
  return r.ok() && r->status == 200;
}

// Requests per second from `clients` threads calling `call` for `seconds`.
template <typename F>
double rate(int clients, double seconds, F call) {
  std::atomic<uint64_t> n{0}, bad{0};
  auto end = Steady::now() + from_seconds(seconds);
  std::vector<std::thread> ts;
  for (int c = 0; c < clients; ++c)
    ts.emplace_back([&] {
      while (Steady::now() < end) (call() ? n : bad)++;
    });
  for (auto& t : ts) t.join();
  if (bad) std::printf("  (%lu failed requests)\n", static_cast<unsigned long>(bad.load()));
  return n / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  int rounds = quick ? 20 : 500;
  double seconds = quick ? 0.3 : 3;
  auto p = engine(Role::kPrefill, 1e5), d = engine(Role::kDecode, 1e5),
       both = engine(Role::kBoth, 1e5);
  auto dir =
      std::filesystem::temp_directory_path() / ("bench_router." + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string eps = (dir / "eps.json").string();
  std::ofstream(eps) << json::array({{{"url", "http://127.0.0.1:" + std::to_string(p->port())},
                                      {"role", "prefill"},
                                      {"group", "g0"}},
                                     {{"url", "http://127.0.0.1:" + std::to_string(d->port())},
                                      {"role", "decode"},
                                      {"group", "g0"}}})
                            .dump();
  router::RouterOptions ro;
  ro.endpoints_file = eps;
  auto rt = router::Router::start(ro);
  if (!rt.ok()) {
    std::fprintf(stderr, "bench_router: %s\n", rt.error().to_string().c_str());
    return 1;
  }
  uint16_t rport = (*rt)->port();

  // 1. Added latency, interleaved so that machine noise hits both sides alike.
  std::vector<double> lat_direct, lat_router;
  for (int i = 0; i < rounds; ++i) {
    auto t = Steady::now();
    if (direct(p->port(), d->port())) lat_direct.push_back(ms_since(t));
    t = Steady::now();
    if (routed(rport)) lat_router.push_back(ms_since(t));
  }
  std::printf("P/D request latency over %d rounds (ms)   p50      p99\n", rounds);
  std::printf("  direct (bench does the hand-off)    %7.3f  %7.3f\n", pct(lat_direct, 0.5),
              pct(lat_direct, 0.99));
  std::printf("  through hs-router                   %7.3f  %7.3f\n", pct(lat_router, 0.5),
              pct(lat_router, 0.99));
  std::printf("  added by the router                 %7.3f  %7.3f\n",
              pct(lat_router, 0.5) - pct(lat_direct, 0.5),
              pct(lat_router, 0.99) - pct(lat_direct, 0.99));

  // 2. Maximum request rate.
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  for (int clients : {4, 16}) {
    double via = rate(clients, seconds, [&] { return routed(rport); });
    double one = rate(clients, seconds, [&] {
      auto r = http::request("127.0.0.1", both->port(), "POST", "/v1/completions", kBody);
      return r.ok() && r->status == 200;
    });
    std::printf(
        "max rate, %2d clients, %u cores: router %.0f req/s (each = 2 upstream calls); one engine "
        "direct %.0f req/s; ratio %.2f\n",
        clients, cores, via, one, via / one);
  }
  (*rt)->stop();

  // 3. Throughput vs the profile: B requests of 100 prompt tokens (400 characters) and T
  // output tokens at once, at time scale 1 so that sleep granularity does not count. The
  // prediction is the profile's time for one prefill batch and T decode steps.
  const auto& prof = *workload::default_profiles().find("h100", "llama-8b");
  for (int batch : {1, 16, 64}) {
    auto e = engine(Role::kBoth, 1);
    int tokens = quick ? 10 : 150;
    std::vector<std::thread> ts;
    auto t0 = Steady::now();
    for (int b = 0; b < batch; ++b)
      ts.emplace_back([&] {
        auto r =
            http::request("127.0.0.1", e->port(), "POST", "/v1/completions",
                          json{{"prompt", std::string(400, 'x')}, {"max_tokens", tokens}}.dump());
        if (!r.ok() || r->status != 200) std::fprintf(stderr, "bench_router: a request failed\n");
      });
    for (auto& t : ts) t.join();
    double wall = ms_since(t0) / 1000;
    double predicted = prof.prefill_s(100.0 * batch);
    for (int k = 0; k < tokens; ++k) predicted += prof.decode_step_s(batch, batch * (100.0 + k));
    std::printf("batch %2d x %d tokens: simulated %.3f s, profile %.3f s, throughput ratio %.3f\n",
                batch, tokens, wall, predicted, predicted / wall);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
