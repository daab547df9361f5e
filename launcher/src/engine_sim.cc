#include "hs/launcher/engine_sim.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "hs/common/clock.h"
#include "hs/common/http.h"
#include "hs/common/prometheus_text.h"
#include "hs/common/text.h"

namespace hs::launcher {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// One request inside the engine. The HTTP handler thread waits on it.
struct Job {
  uint64_t id = 0;
  std::string request_id;
  uint32_t prompt_tokens = 0, max_tokens = 16;
  bool remote_decode = false;  // a P/D prefill: stop after prefill, keep the KV
  std::string kv_from;         // decode: the engine the KV came from
  Clock::time_point arrived, first_token, last_token;
  std::mutex mu;
  std::condition_variable cv;
  uint32_t generated = 0;
  bool done = false, failed = false;
  std::string error;
  json kv_params;  // prefill's answer
};

}  // namespace

struct EngineSim::Impl {
  EngineSimOptions o;
  workload::EngineProfile prof;
  std::unique_ptr<http::Server> server;
  mutable std::mutex mu;
  std::condition_variable prefill_cv, decode_cv;
  std::deque<std::shared_ptr<Job>> prefill_q, decode_wait;
  std::vector<std::shared_ptr<Job>> running;
  uint64_t kv_used = 0;
  std::atomic<bool> stopping{false}, draining{false};
  std::atomic<uint64_t> next_id{1}, next_block{1};
  std::thread prefill_thread, decode_thread;
  struct KvEntry {
    uint32_t tokens;
    Clock::time_point expires;
  };
  std::map<uint64_t, KvEntry> kv;  // first block id -> entry
  // metrics (under mu)
  double prompt_total = 0, gen_total = 0, success_total = 0;
  prom::Histogram ttft{prom::vllm_ttft_buckets()}, tpot{prom::vllm_tpot_buckets()},
      e2e{prom::vllm_e2e_buckets()};
  std::deque<json> records;
  size_t in_flight = 0;   // queued, prefilling or decoding
  size_t prefilling = 0;  // the batch in the prefill step

  double scaled(double s) const { return s / std::max(1e-9, o.time_scale); }

  void finish(const std::shared_ptr<Job>& j) {  // mu held
    --in_flight;
    Clock::time_point now = Clock::now();
    success_total += 1;
    e2e.observe(to_seconds(now - j->arrived));
    if (j->generated > 1)
      tpot.observe(to_seconds(j->last_token - j->first_token) / (j->generated - 1));
    json r = {{"request_id", j->request_id},      {"role", std::string(to_string(o.role))},
              {"engine_id", o.engine_id},         {"prompt_tokens", j->prompt_tokens},
              {"output_tokens", j->generated},    {"kv_from", j->kv_from},
              {"remote_decode", j->remote_decode}};
    records.push_back(std::move(r));
    if (records.size() > 100000) records.pop_front();
    std::lock_guard<std::mutex> l(j->mu);
    j->done = true;
    j->cv.notify_all();
  }

  void prefill_loop() {
    std::unique_lock<std::mutex> lk(mu);
    while (!stopping) {
      prefill_cv.wait(lk, [&] { return stopping || !prefill_q.empty(); });
      if (stopping) break;
      std::vector<std::shared_ptr<Job>> batch;
      uint64_t tokens = 0;
      while (!prefill_q.empty() && (batch.empty() || tokens + prefill_q.front()->prompt_tokens <=
                                                         o.prefill_batch_tokens)) {
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
          j->first_token = j->last_token = Clock::now();
          ttft.observe(to_seconds(j->first_token - j->arrived));
          uint64_t first = next_block.fetch_add((j->prompt_tokens + 15) / 16);
          kv[first] = {j->prompt_tokens, Clock::now() + from_seconds(o.kv_ttl_s)};
          json blocks = json::array();
          for (uint64_t b = 0; b < (j->prompt_tokens + 15) / 16; ++b) blocks.push_back(first + b);
          j->kv_params = {{"do_remote_prefill", true},       {"do_remote_decode", false},
                          {"remote_engine_id", o.engine_id}, {"remote_block_ids", blocks},
                          {"remote_host", o.host},           {"remote_port", server->port()}};
          finish(j);
        } else {
          decode_wait.push_back(j);
          decode_cv.notify_one();
        }
      }
    }
  }

  void decode_loop() {
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
      Clock::time_point now = Clock::now();
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
          j->cv.notify_all();
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

  // ---- HTTP

  static http::Response json_response(const json& j, int status = 200) {
    http::Response r;
    r.status = status;
    r.body = j.dump();
    return r;
  }

  http::Response vllm_error(int status, const std::string& msg, const std::string& type) {
    return json_response({{"object", "error"}, {"message", msg}, {"type", type}, {"code", status}},
                         status);
  }

  std::string metrics_text() {
    std::lock_guard<std::mutex> lk(mu);
    prom::Writer w;
    prom::Labels l = {{"model_name", o.served_model}, {"engine", "0"}};
    w.family("vllm:num_requests_running", prom::MetricType::kGauge,
             "Number of requests in model execution batches.");
    w.sample("vllm:num_requests_running", l, static_cast<double>(running.size() + prefilling));
    w.family("vllm:num_requests_waiting", prom::MetricType::kGauge,
             "Number of requests waiting to be processed.");
    w.sample("vllm:num_requests_waiting", l,
             static_cast<double>(prefill_q.size() + decode_wait.size()));
    w.family("vllm:kv_cache_usage_perc", prom::MetricType::kGauge,
             "KV-cache usage. 1 means 100 percent usage.");
    w.sample("vllm:kv_cache_usage_perc", l,
             prof.kv_capacity_tokens ? static_cast<double>(kv_used) / prof.kv_capacity_tokens : 0);
    w.family("vllm:prompt_tokens_total", prom::MetricType::kCounter,
             "Number of prefill tokens processed.");
    w.sample("vllm:prompt_tokens_total", l, prompt_total);
    w.family("vllm:generation_tokens_total", prom::MetricType::kCounter,
             "Number of generation tokens processed.");
    w.sample("vllm:generation_tokens_total", l, gen_total);
    w.family("vllm:request_success_total", prom::MetricType::kCounter,
             "Count of successfully processed requests.");
    prom::Labels lf = l;
    lf.emplace_back("finished_reason", "length");
    w.sample("vllm:request_success_total", lf, success_total);
    auto hist = [&](const char* name, const char* help, const prom::Histogram& h) {
      w.family(name, prom::MetricType::kHistogram, help);
      w.histogram(name, l, h.bounds, h.cumulative, h.sum, h.count);
    };
    hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttft);
    hist("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.",
         tpot);
    hist("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", e2e);
    return w.text();
  }

  // Pulls prefilled blocks from the engine named in kv_transfer_params. Returns the tokens.
  Result<uint32_t> pull(const json& p) {
    if (!p.contains("remote_host") || !p["remote_host"].is_string() || !p.contains("remote_port") ||
        !p["remote_port"].is_number_unsigned() || !p.contains("remote_block_ids") ||
        !p["remote_block_ids"].is_array() || p["remote_block_ids"].empty())
      return invalid_argument(
          "kv_transfer_params must name remote_host, remote_port and remote_block_ids");
    json body = {{"engine_id", p.value("remote_engine_id", "")},
                 {"block_ids", p["remote_block_ids"]}};
    auto r = http::request(p["remote_host"].get<std::string>(), p["remote_port"].get<uint16_t>(),
                           "POST", "/hs/kv/pull", body.dump());
    if (!r.ok()) return unavailable("cannot pull KV blocks: " + r.error().to_string());
    if (r->status != 200)
      return invalid_argument("remote engine refused the KV pull (" + std::to_string(r->status) +
                              "): " + r->body);
    json j = json::parse(r->body, nullptr, false);
    if (j.is_discarded() || !j.contains("tokens")) return internal_error("bad KV pull answer");
    return j["tokens"].get<uint32_t>();
  }

  http::Response kv_pull(const http::Request& req) {
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.contains("block_ids") || !j["block_ids"].is_array() ||
        j["block_ids"].empty() || !j["block_ids"][0].is_number_unsigned())
      return vllm_error(400, "expected {engine_id, block_ids}", "BadRequestError");
    if (j.value("engine_id", "") != o.engine_id)
      return vllm_error(404,
                        "blocks belong to engine " + j.value("engine_id", std::string("?")) +
                            ", not " + o.engine_id,
                        "NotFoundError");
    std::lock_guard<std::mutex> lk(mu);
    auto now = Clock::now();
    for (auto it = kv.begin(); it != kv.end();)
      it = it->second.expires < now ? kv.erase(it) : std::next(it);
    auto it = kv.find(j["block_ids"][0].get<uint64_t>());
    if (it == kv.end()) return vllm_error(404, "unknown or expired KV blocks", "NotFoundError");
    uint32_t tokens = it->second.tokens;
    kv.erase(it);
    return json_response({{"tokens", tokens}});
  }

  http::Response completions(const http::Request& req, bool chat) {
    if (draining) return vllm_error(503, "engine is draining", "ServiceUnavailableError");
    json in = json::parse(req.body, nullptr, false);
    if (in.is_discarded() || !in.is_object())
      return vllm_error(400, "request body is not a JSON object", "BadRequestError");
    std::string model = in.value("model", o.served_model);
    if (model != o.served_model)
      return vllm_error(404, "The model `" + model + "` does not exist.", "NotFoundError");
    auto j = std::make_shared<Job>();
    j->id = next_id++;
    auto rid = req.headers.find("x-request-id");
    j->request_id = rid != req.headers.end() ? rid->second : "hs-" + std::to_string(j->id);
    j->arrived = Clock::now();
    if (chat) {
      if (!in.contains("messages") || !in["messages"].is_array())
        return vllm_error(400, "messages must be a list", "BadRequestError");
      size_t chars = 0;
      for (const auto& m : in["messages"]) {
        if (!m.is_object() || !m.contains("content") || !m["content"].is_string())
          return vllm_error(400, "each message needs a string content", "BadRequestError");
        chars += m["content"].get<std::string>().size();
      }
      j->prompt_tokens = static_cast<uint32_t>(std::max<size_t>(1, (chars + 3) / 4));
    } else {
      if (!in.contains("prompt")) return vllm_error(400, "prompt is required", "BadRequestError");
      const json& p = in["prompt"];
      if (p.is_string()) {
        j->prompt_tokens =
            static_cast<uint32_t>(std::max<size_t>(1, (p.get<std::string>().size() + 3) / 4));
      } else if (p.is_array() && !p.empty() && p[0].is_number_integer()) {
        for (const auto& t : p)
          if (!t.is_number_integer())
            return vllm_error(400, "prompt token ids must be integers", "BadRequestError");
        j->prompt_tokens = static_cast<uint32_t>(p.size());
      } else {
        return vllm_error(
            400,
            "prompt must be a string or a list of token ids (batched prompts are not supported)",
            "BadRequestError");
      }
    }
    const char* mt = in.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    if (in.contains(mt)) {
      if (!in[mt].is_number_integer() || in[mt].get<int64_t>() < 1)
        return vllm_error(400, std::string(mt) + " must be a positive integer", "BadRequestError");
      j->max_tokens = static_cast<uint32_t>(std::min<int64_t>(in[mt].get<int64_t>(), 1 << 24));
    }
    uint64_t total = static_cast<uint64_t>(j->prompt_tokens) + j->max_tokens;
    if (total > prof.max_context)
      return vllm_error(
          400,
          "This model's maximum context length is " + std::to_string(prof.max_context) +
              " tokens. However, you requested " + std::to_string(total) + " tokens (" +
              std::to_string(j->prompt_tokens) + " in the messages, " +
              std::to_string(j->max_tokens) +
              " in the completion). Please reduce the length of the messages or completion.",
          "BadRequestError");
    bool stream = in.value("stream", false);
    bool usage_in_stream = in.contains("stream_options") && in["stream_options"].is_object() &&
                           in["stream_options"].value("include_usage", false);
    json kvp = in.contains("kv_transfer_params") && in["kv_transfer_params"].is_object()
                   ? in["kv_transfer_params"]
                   : json();
    bool remote_prefilled = false;
    if (kvp.is_object() && kvp.value("do_remote_decode", false)) {
      j->remote_decode = true;
      j->max_tokens = 1;
      stream = false;
    } else if (kvp.is_object() && kvp.value("do_remote_prefill", false)) {
      auto pulled = pull(kvp);
      if (!pulled.ok()) return vllm_error(400, pulled.error().to_string(), "BadRequestError");
      if (*pulled != j->prompt_tokens)
        return vllm_error(400,
                          "pulled KV holds " + std::to_string(*pulled) +
                              " tokens, the prompt has " + std::to_string(j->prompt_tokens),
                          "BadRequestError");
      double t = *pulled * prof.kv_bytes_per_token / (o.kv_gbytes_per_s * 1e9);
      std::this_thread::sleep_for(std::chrono::duration<double>(scaled(t)));
      j->kv_from = kvp.value("remote_engine_id", "");
      remote_prefilled = true;
    }
    {
      std::lock_guard<std::mutex> lk(mu);
      ++in_flight;
      if (remote_prefilled) {
        decode_wait.push_back(j);
        decode_cv.notify_one();
      } else {
        prefill_q.push_back(j);
        prefill_cv.notify_one();
      }
    }
    std::string id = std::string(chat ? "chatcmpl-" : "cmpl-") + std::to_string(j->id);
    long created = static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
    auto usage = [j]() {  // by value: the stream outlives this function
      return json{{"prompt_tokens", j->prompt_tokens},
                  {"completion_tokens", j->generated},
                  {"total_tokens", j->prompt_tokens + j->generated}};
    };
    if (!stream) {
      std::unique_lock<std::mutex> l(j->mu);
      j->cv.wait(l, [&] { return j->done || stopping.load(); });
      if (!j->done) return vllm_error(503, "engine stopped", "ServiceUnavailableError");
      std::string text;
      for (uint32_t k = 0; k < j->generated; ++k) text += " tok";
      json choice = chat ? json{{"index", 0},
                                {"message", {{"role", "assistant"}, {"content", text}}},
                                {"finish_reason", "length"}}
                         : json{{"index", 0},
                                {"text", text},
                                {"logprobs", nullptr},
                                {"finish_reason", "length"}};
      json out = {{"id", id},
                  {"object", chat ? "chat.completion" : "text_completion"},
                  {"created", created},
                  {"model", o.served_model},
                  {"choices", json::array({choice})},
                  {"usage", usage()}};
      if (j->remote_decode) out["kv_transfer_params"] = j->kv_params;
      return json_response(out);
    }
    http::Response r;
    r.content_type = "text/event-stream";
    r.stream = [this, j, id, created, chat, usage_in_stream, usage](const http::StreamWriter& w) {
      uint32_t sent = 0;
      for (;;) {
        std::unique_lock<std::mutex> l(j->mu);
        j->cv.wait(l, [&] { return j->generated > sent || j->done || stopping.load(); });
        uint32_t have = j->generated;
        bool done = j->done;
        l.unlock();
        if (stopping && !done && have == sent) return;
        for (; sent < have; ++sent) {
          bool last = done && sent + 1 == have;
          json delta = chat ? json{{"index", 0},
                                   {"delta", {{"content", " tok"}}},
                                   {"finish_reason", last ? json("length") : json(nullptr)}}
                            : json{{"index", 0},
                                   {"text", " tok"},
                                   {"logprobs", nullptr},
                                   {"finish_reason", last ? json("length") : json(nullptr)}};
          json chunk = {{"id", id},
                        {"object", chat ? "chat.completion.chunk" : "text_completion"},
                        {"created", created},
                        {"model", o.served_model},
                        {"choices", json::array({delta})}};
          if (!w("data: " + chunk.dump() + "\n\n")) return;
        }
        if (done) break;
      }
      if (usage_in_stream) {
        json u = {{"id", id},
                  {"object", chat ? "chat.completion.chunk" : "text_completion"},
                  {"created", created},
                  {"model", o.served_model},
                  {"choices", json::array()},
                  {"usage", usage()}};
        w("data: " + u.dump() + "\n\n");
      }
      w("data: [DONE]\n\n");
    };
    return r;
  }

  http::Response handle(const http::Request& req) {
    const std::string p = req.path();
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
                                                   {"owned_by", "hs-engine-sim"},
                                                   {"max_model_len", prof.max_context}}})}});
    if (req.method == "POST" && p == "/v1/completions") return completions(req, false);
    if (req.method == "POST" && p == "/v1/chat/completions") return completions(req, true);
    if (req.method == "POST" && p == "/hs/kv/pull") return kv_pull(req);
    if (req.method == "POST" && p == "/hs/drain") {
      draining = true;
      return json_response({{"draining", true}});
    }
    if (req.method == "GET" && p == "/hs/status") {
      std::lock_guard<std::mutex> lk(mu);
      return json_response({{"role", std::string(to_string(o.role))},
                            {"engine_id", o.engine_id},
                            {"draining", draining.load()},
                            {"running", running.size()},
                            {"waiting", prefill_q.size() + decode_wait.size()},
                            {"kv_entries_held", kv.size()},
                            {"gpu", prof.gpu},
                            {"model", prof.model}});
    }
    if (req.method == "GET" && p == "/hs/records") {
      std::lock_guard<std::mutex> lk(mu);
      return json_response(json(records));
    }
    return vllm_error(404, "no route " + req.method + " " + p, "NotFoundError");
  }
};

EngineSim::EngineSim(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<EngineSim>> EngineSim::start(const EngineSimOptions& options,
                                                    const workload::EngineProfile& profile) {
  if (options.time_scale <= 0) return invalid_argument("time scale must be positive");
  auto impl = std::make_unique<Impl>();
  impl->o = options;
  impl->prof = profile;
  Impl* raw = impl.get();
  http::ServerOptions so;
  so.host = options.host;
  so.port = options.port;
  auto s = http::Server::start(so, [raw](const http::Request& r) { return raw->handle(r); });
  if (!s.ok()) return s.error();
  impl->server = std::move(*s);
  if (impl->o.engine_id.empty())
    impl->o.engine_id = options.host + ":" + std::to_string(impl->server->port());
  impl->prefill_thread = std::thread([raw] { raw->prefill_loop(); });
  impl->decode_thread = std::thread([raw] { raw->decode_loop(); });
  return std::make_unique<EngineSim>(std::move(impl));
}

EngineSim::~EngineSim() { stop(); }
uint16_t EngineSim::port() const { return impl_->server->port(); }
const std::string& EngineSim::engine_id() const { return impl_->o.engine_id; }
void EngineSim::drain() { impl_->draining = true; }
size_t EngineSim::in_flight() const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  return impl_->in_flight;
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
        j->cv.notify_all();
      }
    for (auto& j : impl_->running) {
      std::lock_guard<std::mutex> l(j->mu);
      j->cv.notify_all();
    }
  }
  impl_->server->stop();
  if (impl_->prefill_thread.joinable()) impl_->prefill_thread.join();
  if (impl_->decode_thread.joinable()) impl_->decode_thread.join();
}

}  // namespace hs::launcher
