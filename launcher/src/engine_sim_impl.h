// EngineSim::Impl: the simulated engine's state and the members that use it. engine_sim.cc
// holds the batch scheduler, the side channel and the light routes; engine_requests.cc the
// OpenAI requests (validation, admission, the KV pull, answers and streams). Internal.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "hs/common/http.h"
#include "hs/common/http_async.h"
#include "hs/common/prometheus_text.h"
#include "hs/launcher/engine_sim.h"
#include "vllm_response.h"

namespace hs::launcher {

using json = nlohmann::json;
using Steady = std::chrono::steady_clock;

// One request inside the engine. Its HTTP handler, a coroutine, waits on it.
struct Job {
  uint64_t seq = 0;
  std::string request_id;   // the client's X-Request-Id (unique while the request runs)
  std::string internal_id;  // what a P/D decode names in remote_request_id
  uint32_t prompt_tokens = 0, max_tokens = 16;
  bool remote_decode = false;  // a P/D prefill: stop after prefill, keep the KV
  std::string kv_from;         // decode: the engine the KV came from
  Steady::time_point arrived, first_token, last_token;
  std::mutex mu;
  // Wakes the request's coroutine (wait_job): posts to its executor, so that the wake-up runs
  // after the coroutine has gone to sleep, never beside it. Set and called under mu.
  std::function<void()> waker;
  void notify() {  // mu held
    if (waker) waker();
  }
  uint32_t generated = 0;
  bool done = false;
  json kv_params;  // prefill's answer
};

struct KvEntry {
  std::string internal_id;
  uint32_t tokens = 0;
  size_t blocks = 0;
  Steady::time_point expires;
};

inline uint32_t blocks_for(uint32_t tokens) { return (tokens + 15) / 16; }

struct EngineSim::Impl {
  EngineSimOptions o;
  workload::EngineProfile prof;
  std::unique_ptr<http::Server> server;
  std::vector<std::unique_ptr<http::Server>> side_channels;  // [0] serves reads
  // A decode keeps its connection to each remote side channel, as NIXL keeps a remote agent
  // after its first handshake (vLLM's NixlConnector caches _remote_agents).
  http::AsyncClient remote_agents;
  // The server's loop holds remote_agents' sockets and the requests' frames: stop it, drop the
  // idle sockets while their loop exists; the server (declared first) is destroyed last.
  ~Impl() {
    if (server) server->stop();
    remote_agents.close();
  }
  mutable std::mutex mu;
  std::condition_variable prefill_cv, decode_cv;
  std::deque<std::shared_ptr<Job>> prefill_q, decode_wait;
  std::vector<std::shared_ptr<Job>> running;
  uint64_t kv_used = 0;
  std::atomic<bool> stopping{false}, draining{false};
  std::atomic<uint64_t> next_seq{1}, next_block{1};
  std::thread prefill_thread, decode_thread;
  std::map<uint64_t, KvEntry> kv;  // first block id -> entry (held for a decode's read)
  uint64_t kv_held_tokens = 0;
  std::set<std::string> active_ids;
  std::set<std::string> ignored_seen;  // unknown fields already logged
  // metrics (under mu)
  double prompt_total = 0, gen_total = 0, success_total = 0;
  prom::Histogram ttft{prom::vllm_ttft_buckets()}, tpot{prom::vllm_tpot_buckets()},
      e2e{prom::vllm_e2e_buckets()};
  std::deque<json> records;
  size_t in_flight = 0;   // queued, prefilling or decoding
  size_t prefilling = 0;  // the batch in the prefill step

  double scaled(double s) const { return s / std::max(1e-9, o.time_scale); }
  bool has_connector() const { return o.role != Role::kBoth; }

  void expire_kv(Steady::time_point now);  // mu held

  void finish(const std::shared_ptr<Job>& j);  // mu held

  // Keeps a prefilled request's blocks for its decode and fills in the transfer parameters.
  void hold_kv(Job& j);  // mu held

  void prefill_loop();

  void decode_loop();

  // ---- HTTP

  static http::Response json_response(const json& j, int status = 200) {
    http::Response r;
    r.status = status;
    r.body = j.dump();
    return r;
  }

  static http::Response vllm_error(int status, const std::string& msg, const std::string& type,
                                   const std::string& param = {}) {
    return json_response(VllmError{status, type, msg, param}.body(), status);
  }

  std::string metrics_text();

  // Reads prefilled blocks from the side channel named in kv_transfer_params. Returns the
  // number of tokens they hold.
  http::Task<Result<uint32_t>> pull(json p);

  // The side channel: one read of a prefilled request's blocks, by the decode it was made for.
  http::Response kv_read(const http::Request& req);

  // Admits a validated request: a P/D prefill, a P/D decode (after its KV read) or a whole
  // request. On failure `err` holds the answer.
  http::Task<std::shared_ptr<Job>> admit(VllmRequest vr, std::string rid, http::Response& err);
  // Returns once the job has made at least `at_least` tokens, is done, or the engine stops.
  http::Task<void> wait_job(std::shared_ptr<Job> j, uint32_t at_least);

  void release_id(const std::string& rid) {
    std::lock_guard<std::mutex> lk(mu);
    active_ids.erase(rid);
  }

  void note_ignored(const std::vector<std::string>& fields);

  http::Task<void> stream_job(std::shared_ptr<Job> j, ResponseIds ids, VllmRequest vr,
                              http::ChunkSink* w);
  static bool is_completion(const http::Request& req) {
    const std::string p = req.path();
    return req.method == "POST" && (p == "/v1/completions" || p == "/v1/chat/completions");
  }
  // /v1/completions and /v1/chat/completions: a coroutine on the server's loop, holding no
  // thread while the scheduler works on it.
  http::Task<http::AsyncResponse> completions(http::Request req);

  bool authorized(const http::Request& req) const {
    if (o.api_key.empty()) return true;
    auto a = req.headers.find("authorization");
    return a != req.headers.end() && a->second == "Bearer " + o.api_key;
  }

  http::Response handle(const http::Request& req);

  Status open_side_channels();
};

}  // namespace hs::launcher
