#include "hs/launcher/engine_sim.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "engine_sim_impl.h"
#include "hs/common/clock.h"
#include "hs/common/engine_metrics.h"
#include "hs/common/http.h"
#include "hs/common/prometheus_text.h"
#include "hs/common/text.h"
#include "vllm_response.h"

namespace hs::launcher {

using json = nlohmann::json;
using Steady = std::chrono::steady_clock;
namespace em = engine_metrics;

void EngineSim::Impl::expire_kv(Steady::time_point now) {  // mu held
  for (auto it = kv.begin(); it != kv.end();) {
    if (it->second.expires < now) {
      kv_held_tokens -= it->second.tokens;
      it = kv.erase(it);
    } else {
      ++it;
    }
  }
}

void EngineSim::Impl::finish(const std::shared_ptr<Job>& j) {  // mu held
  --in_flight;
  Steady::time_point now = Steady::now();
  success_total += 1;
  e2e.observe(to_seconds(now - j->arrived));
  if (j->generated > 1)
    tpot.observe(to_seconds(j->last_token - j->first_token) / (j->generated - 1));
  records.push_back({{"request_id", j->request_id},
                     {"role", std::string(to_string(o.role))},
                     {"engine_id", o.engine_id},
                     {"prompt_tokens", j->prompt_tokens},
                     {"output_tokens", j->generated},
                     {"kv_from", j->kv_from},
                     {"remote_decode", j->remote_decode}});
  if (records.size() > 100000) records.pop_front();
  std::lock_guard<std::mutex> l(j->mu);
  j->done = true;
  j->notify();
}

void EngineSim::Impl::hold_kv(Job& j) {  // mu held
  uint32_t n = blocks_for(j.prompt_tokens);
  uint64_t first = next_block.fetch_add(n);
  kv[first] = {j.internal_id, j.prompt_tokens, n, Steady::now() + from_seconds(o.kv_ttl_s)};
  kv_held_tokens += j.prompt_tokens;
  json blocks = json::array();
  for (uint64_t b = 0; b < n; ++b) blocks.push_back(first + b);
  j.kv_params = {{"do_remote_prefill", true},
                 {"do_remote_decode", false},
                 {"remote_engine_id", o.engine_id},
                 {"remote_request_id", j.internal_id},
                 {"remote_block_ids", blocks},
                 {"remote_host", o.side_channel_host},
                 {"remote_port", side_channels.empty() ? 0 : side_channels[0]->port()},
                 {"tp_size", o.tensor_parallel}};
}

void EngineSim::Impl::prefill_loop() {
  std::unique_lock<std::mutex> lk(mu);
  while (!stopping) {
    prefill_cv.wait(lk, [&] { return stopping || !prefill_q.empty(); });
    if (stopping) break;
    std::vector<std::shared_ptr<Job>> batch;
    uint64_t tokens = 0;
    while (!prefill_q.empty() &&
           (batch.empty() || tokens + prefill_q.front()->prompt_tokens <= o.prefill_batch_tokens)) {
      tokens += prefill_q.front()->prompt_tokens;
      batch.push_back(prefill_q.front());
      prefill_q.pop_front();
    }
    prefilling = batch.size();
    lk.unlock();
    std::this_thread::sleep_for(
        std::chrono::duration<double>(scaled(prof.prefill_s(static_cast<double>(tokens)))));
    lk.lock();
    prefilling = 0;
    for (auto& j : batch) {
      prompt_total += j->prompt_tokens;
      if (j->remote_decode) {
        // vLLM's prefill instance samples one token for its (discarded) reply.
        j->generated = 1;
        gen_total += 1;
        j->first_token = j->last_token = Steady::now();
        ttft.observe(to_seconds(j->first_token - j->arrived));
        hold_kv(*j);
        finish(j);
      } else {
        decode_wait.push_back(j);
        decode_cv.notify_one();
      }
    }
  }
}

void EngineSim::Impl::decode_loop() {
  std::unique_lock<std::mutex> lk(mu);
  double ctx = 0;
  while (!stopping) {
    while (!decode_wait.empty() && running.size() < prof.max_batch) {
      auto& j = decode_wait.front();
      uint64_t need = j->prompt_tokens + j->max_tokens;
      if (!running.empty() && kv_used + need > prof.kv_capacity_tokens) break;
      kv_used += need;
      ctx += j->prompt_tokens;
      running.push_back(j);
      decode_wait.pop_front();
    }
    if (running.empty()) {
      ctx = 0;
      decode_cv.wait(lk, [&] { return stopping || !decode_wait.empty(); });
      continue;
    }
    double step = scaled(prof.decode_step_s(static_cast<double>(running.size()), ctx));
    lk.unlock();
    std::this_thread::sleep_for(std::chrono::duration<double>(step));
    lk.lock();
    Steady::time_point now = Steady::now();
    for (auto it = running.begin(); it != running.end();) {
      auto j = *it;
      {
        std::lock_guard<std::mutex> l(j->mu);
        if (j->generated == 0) {
          j->first_token = now;
          ttft.observe(to_seconds(now - j->arrived));
        }
        ++j->generated;
        j->last_token = now;
        j->notify();
      }
      gen_total += 1;
      ctx += 1;
      if (j->generated >= j->max_tokens) {
        kv_used -= j->prompt_tokens + j->max_tokens;
        ctx -= j->prompt_tokens + j->generated;
        it = running.erase(it);
        finish(j);
      } else {
        ++it;
      }
    }
  }
}

std::string EngineSim::Impl::metrics_text() {
  std::lock_guard<std::mutex> lk(mu);
  expire_kv(Steady::now());
  EngineCounters c;
  c.served_model = o.served_model;
  c.running = static_cast<double>(running.size() + prefilling);
  c.waiting = static_cast<double>(prefill_q.size() + decode_wait.size());
  // Blocks held for a decode's read count as used, as vLLM's block pool counts them.
  c.kv_usage = prof.kv_capacity_tokens ? static_cast<double>(kv_used + kv_held_tokens) /
                                             static_cast<double>(prof.kv_capacity_tokens)
                                       : 0;
  c.prompt_tokens = prompt_total;
  c.generation_tokens = gen_total;
  c.requests_ok = success_total;
  return render_metrics(c, ttft, tpot, e2e);
}

http::Response EngineSim::Impl::kv_read(const http::Request& req) {
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("block_ids") ||
      !j["block_ids"].is_array() || j["block_ids"].empty() ||
      !j["block_ids"][0].is_number_unsigned() || !j.contains("request_id") ||
      !j["request_id"].is_string())
    return vllm_error(400, "expected {engine_id, request_id, block_ids}", "BadRequestError");
  if (j.value("engine_id", "") != o.engine_id)
    return vllm_error(404,
                      "blocks belong to engine " + j.value("engine_id", std::string("?")) +
                          ", not " + o.engine_id,
                      "NotFoundError");
  std::lock_guard<std::mutex> lk(mu);
  expire_kv(Steady::now());
  auto it = kv.find(j["block_ids"][0].get<uint64_t>());
  if (it == kv.end())
    return vllm_error(404, "unknown, expired or already read KV blocks", "NotFoundError");
  if (it->second.internal_id != j["request_id"].get<std::string>() ||
      j["block_ids"].size() != it->second.blocks)
    return vllm_error(400, "the blocks do not belong to request " + j["request_id"].dump(),
                      "BadRequestError");
  uint32_t tokens = it->second.tokens;
  kv_held_tokens -= tokens;
  kv.erase(it);
  return json_response({{"tokens", tokens}});
}

http::Response EngineSim::Impl::handle(const http::Request& req) {
  const std::string p = req.path();
  // vLLM's AuthenticationMiddleware guards the /v1 routes only (health and metrics are open).
  if (starts_with(p, "/v1") && !authorized(req))
    return json_response({{"error", "Unauthorized"}}, 401);
  if (req.method == "GET" && p == "/health")
    return http::Response{200, "application/json", "", {}, nullptr};
  if (req.method == "GET" && p == "/metrics") {
    http::Response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics_text();
    return r;
  }
  if (req.method == "GET" && p == "/v1/models")
    return json_response({{"object", "list"},
                          {"data", json::array({{{"id", o.served_model},
                                                 {"object", "model"},
                                                 {"owned_by", "vllm"},
                                                 {"max_model_len", prof.max_context}}})}});
  if (req.method == "POST" && p == "/hs/drain") {
    draining = true;
    return json_response({{"draining", true}});
  }
  if (req.method == "GET" && p == "/hs/status") {
    std::lock_guard<std::mutex> lk(mu);
    expire_kv(Steady::now());
    return json_response({{"role", std::string(to_string(o.role))},
                          {"engine_id", o.engine_id},
                          {"draining", draining.load()},
                          {"running", running.size()},
                          {"waiting", prefill_q.size() + decode_wait.size()},
                          {"kv_entries_held", kv.size()},
                          {"ignored_fields", ignored_seen},
                          {"gpu", prof.gpu},
                          {"model", prof.model}});
  }
  if (req.method == "GET" && p == "/hs/records") {
    std::lock_guard<std::mutex> lk(mu);
    return json_response(json(records));
  }
  return vllm_error(404, "Not Found: " + req.method + " " + p, "NotFoundError");
}

Status EngineSim::Impl::open_side_channels() {
  if (!has_connector()) return {};
  if (o.side_channel_host.empty())
    return invalid_argument("a prefill or decode engine needs its NIXL side channel address",
                            "VLLM_NIXL_SIDE_CHANNEL_HOST");
  uint32_t ranks = o.side_channel_per_rank ? o.tensor_parallel : 1;
  for (uint32_t r = 0; r < ranks; ++r) {
    http::ServerOptions so;
    so.host = o.side_channel_host;
    so.port =
        o.side_channel_port == 0 && r == 0
            ? 0
            : static_cast<uint16_t>((r == 0 ? o.side_channel_port : side_channels[0]->port()) + r);
    auto s = http::Server::start(so, [this, r](const http::Request& q) {
      if (r == 0 && q.method == "POST" && q.path() == "/hs/kv/read") return kv_read(q);
      return vllm_error(404, "not a KV read", "NotFoundError");
    });
    if (!s.ok()) return s.error().with_context("NIXL side channel of TP rank " + std::to_string(r));
    side_channels.push_back(std::move(*s));
  }
  return {};
}

EngineSim::EngineSim(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<EngineSim>> EngineSim::start(const EngineSimOptions& options,
                                                    const workload::EngineProfile& profile) {
  if (options.time_scale <= 0) return invalid_argument("time scale must be positive");
  if (options.tensor_parallel < 1) return invalid_argument("tensor parallel size must be >= 1");
  if (options.load_delay_s < 0) return invalid_argument("load delay must not be negative");
  auto impl = std::make_unique<Impl>();
  impl->o = options;
  impl->prof = profile;
  Impl* raw = impl.get();
  HS_RETURN_IF_ERROR(impl->open_side_channels());
  http::ServerOptions so;
  so.host = options.host;
  so.port = options.port;
  so.accept_delay = std::chrono::milliseconds(static_cast<int64_t>(options.load_delay_s * 1000));
  http::AsyncRoute completions{&Impl::is_completion,
                               [raw](http::Request r) { return raw->completions(std::move(r)); }};
  auto s = http::Server::start(
      so, [raw](const http::Request& r) { return raw->handle(r); }, std::move(completions));
  if (!s.ok()) return s.error();
  impl->server = std::move(*s);
  if (impl->o.engine_id.empty())
    impl->o.engine_id =
        (options.side_channel_host.empty() ? options.host : options.side_channel_host) + ":" +
        std::to_string(impl->server->port());
  impl->prefill_thread = std::thread([raw] { raw->prefill_loop(); });
  impl->decode_thread = std::thread([raw] { raw->decode_loop(); });
  return std::make_unique<EngineSim>(std::move(impl));
}

EngineSim::~EngineSim() { stop(); }
uint16_t EngineSim::port() const { return impl_->server->port(); }
uint16_t EngineSim::side_channel_port() const {
  return impl_->side_channels.empty() ? 0 : impl_->side_channels[0]->port();
}
const std::string& EngineSim::engine_id() const { return impl_->o.engine_id; }
void EngineSim::drain() { impl_->draining = true; }
size_t EngineSim::in_flight() const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  return impl_->in_flight;
}
size_t EngineSim::kv_held() const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->expire_kv(Steady::now());
  return impl_->kv.size();
}

void EngineSim::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->prefill_cv.notify_all();
    impl_->decode_cv.notify_all();
    for (auto* q : {&impl_->prefill_q, &impl_->decode_wait})
      for (auto& j : *q) {
        std::lock_guard<std::mutex> l(j->mu);
        j->notify();
      }
    for (auto& j : impl_->running) {
      std::lock_guard<std::mutex> l(j->mu);
      j->notify();
    }
  }
  impl_->server->stop();
  for (auto& s : impl_->side_channels) s->stop();
  if (impl_->prefill_thread.joinable()) impl_->prefill_thread.join();
  if (impl_->decode_thread.joinable()) impl_->decode_thread.join();
}

}  // namespace hs::launcher
