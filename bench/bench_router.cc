// hs-router's cost and the engine simulator's fidelity, measured in one process on loopback:
//  1. added latency: the same P/D request (prefill then decode, non-streaming) sent by the
//     bench itself straight to the engines vs through hs-router; p50/p99 of each, and the
//     difference;
//  2. maximum request rate through the router vs straight to one engine, with 1, 16, 64 and
//     256 concurrent clients, each on its own kept-alive connections, on engines fast enough
//     (time scale 1e5) to leave the router as the bottleneck, and vs the same P/D hand-off
//     done by the bench (a routed request costs the engines a prefill, a decode and the
//     decode's KV read from the prefill: three calls where "one engine" is one);
//  3. requests in flight: N at once through a router with 2 event-loop threads, to a stand-in
//     upstream that takes 1 s per request;
//  4. simulated throughput at batch B as a ratio to the profile's prediction.
// Numbers only; nothing here passes or fails on time. `bench_router --quick` is the smoke run.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
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

// A client's kept-alive connections, one per peer, as a real client pool holds them: the
// bench measures the router, not TCP handshakes on its own side.
struct Client {
  std::map<uint16_t, http::Connection> conns;
  Result<http::ClientResponse> post(uint16_t port, const std::string& body) {
    auto it = conns.try_emplace(port, "127.0.0.1", port).first;
    return it->second.request("POST", "/v1/completions", body);
  }
};

bool direct(Client& c, uint16_t prefill, uint16_t decode) {
  json pre = json::parse(kBody);
  pre["max_tokens"] = 1;
  pre["kv_transfer_params"] = {{"do_remote_decode", true}};
  auto r = c.post(prefill, pre.dump());
  if (!r.ok() || r->status != 200) return false;
  json dec = json::parse(kBody);
  dec["kv_transfer_params"] = json::parse(r->body)["kv_transfer_params"];
  auto d = c.post(decode, dec.dump());
  return d.ok() && d->status == 200;
}

bool routed(Client& c, uint16_t router) {
  auto r = c.post(router, kBody);
  return r.ok() && r->status == 200;
}

// Requests per second from `clients` threads, each with its own Client, calling `call` for
// `seconds`.
template <typename F>
double rate(int clients, double seconds, F call) {
  std::atomic<uint64_t> n{0}, bad{0};
  auto end = Steady::now() + from_seconds(seconds);
  std::vector<std::thread> ts;
  for (int c = 0; c < clients; ++c)
    ts.emplace_back([&] {
      Client cl;
      while (Steady::now() < end) (call(cl) ? n : bad)++;
    });
  for (auto& t : ts) t.join();
  if (bad) std::printf("  (%lu failed requests)\n", static_cast<unsigned long>(bad.load()));
  return n / seconds;
}

// A stand-in P/D pair that takes `half` per call (prefill, then decode): how many requests
// in flight a router with 2 event-loop threads carries when its upstream is slow.
void slow_upstream(int n, const std::filesystem::path& dir) {
  const auto half = std::chrono::milliseconds(500);
  auto handler = [half](const http::Request& req) {
    if (req.path() == "/health") return http::Response{200, "text/plain", "ok", {}, {}};
    std::this_thread::sleep_for(half);
    return http::Response{200,
                          "application/json",
                          R"({"choices": [{"text": "x"}], "kv_transfer_params": {"r": 1}})",
                          {},
                          {}};
  };
  auto up = http::Server::start({}, handler);
  if (!up.ok()) return;
  std::string url = "http://127.0.0.1:" + std::to_string((*up)->port());
  std::string eps = (dir / "slow.json").string();
  std::ofstream(eps) << json::array({{{"url", url}, {"role", "prefill"}, {"group", "g0"}},
                                     {{"url", url + "/"}, {"role", "decode"}, {"group", "g0"}}})
                            .dump();
  router::RouterOptions ro;
  ro.endpoints_file = eps;
  ro.threads = 2;
  auto rt = router::Router::start(ro);
  if (!rt.ok()) return;
  uint16_t port = (*rt)->port();
  for (auto t0 = Steady::now(); ms_since(t0) < 10000;)  // until it has seen both healthy
    if (auto r = http::request("127.0.0.1", port, "GET", "/ready"); r.ok() && r->status == 200)
      break;
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  auto t0 = Steady::now();
  for (int i = 0; i < n; ++i)
    ts.emplace_back([&] {
      http::ClientOptions o;
      o.timeout = std::chrono::seconds(60);
      auto r = http::request("127.0.0.1", port, "POST", "/v1/completions", kBody, o);
      if (r.ok() && r->status == 200) ++ok;
    });
  for (auto& t : ts) t.join();
  std::printf(
      "%d concurrent requests, upstream 1 s each (0.5 s prefill + 0.5 s decode), router with 2 "
      "event-loop threads: %d ok, all done in %.2f s\n",
      n, ok.load(), ms_since(t0) / 1000);
  (*rt)->stop();
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
  Client one;
  for (int i = 0; i < rounds; ++i) {
    auto t = Steady::now();
    if (direct(one, p->port(), d->port())) lat_direct.push_back(ms_since(t));
    t = Steady::now();
    if (routed(one, rport)) lat_router.push_back(ms_since(t));
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
  for (int clients : {1, 16, 64, 256}) {
    double via = rate(clients, seconds, [&](Client& c) { return routed(c, rport); });
    double alone = rate(clients, seconds, [&](Client& c) {
      auto r = c.post(both->port(), kBody);
      return r.ok() && r->status == 200;
    });
    // The same P/D hand-off without the router: the engines' own cost of a routed request
    // (prefill, decode, the decode's KV read), so the last ratio is the router's alone.
    double pd = rate(clients, seconds, [&](Client& c) { return direct(c, p->port(), d->port()); });
    std::printf(
        "max rate, %3d clients, %u cores: router %.0f req/s (each = 2 upstream calls); one engine "
        "direct %.0f req/s; ratio %.2f; P/D hand-off direct %.0f req/s; router/that %.2f\n",
        clients, cores, via, alone, via / alone, pd, via / pd);
  }
  (*rt)->stop();
  slow_upstream(quick ? 100 : 1000, dir);

  // 4. Throughput vs the profile: B requests of 100 prompt tokens (400 characters) and T
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
