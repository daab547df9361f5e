// The simulated engine's OpenAI requests: validation (vllm_request.h), admission, the P/D
// decode's KV pull from the prefill's side channel, and the answers and streams.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "engine_sim_impl.h"
#include "hs/common/clock.h"
#include "hs/common/text.h"
#include "vllm_response.h"

namespace hs::launcher {

Result<uint32_t> EngineSim::Impl::pull(const json& p) {
  for (const char* k : {"remote_engine_id", "remote_request_id", "remote_host"})
    if (!p.contains(k) || !p[k].is_string())
      return invalid_argument(std::string("kv_transfer_params.") + k + " must be a string");
  if (!p.contains("remote_port") || !p["remote_port"].is_number_unsigned() ||
      p["remote_port"].get<uint64_t>() == 0 || p["remote_port"].get<uint64_t>() > 65535)
    return invalid_argument("kv_transfer_params.remote_port must be a port number");
  if (!p.contains("remote_block_ids") || !p["remote_block_ids"].is_array() ||
      p["remote_block_ids"].empty())
    return invalid_argument("kv_transfer_params.remote_block_ids must be a non-empty list");
  if (!p.contains("tp_size") || !p["tp_size"].is_number_unsigned() ||
      p["tp_size"].get<uint64_t>() == 0)
    return invalid_argument("kv_transfer_params.tp_size must be a positive integer");
  json body = {{"engine_id", p["remote_engine_id"]},
               {"request_id", p["remote_request_id"]},
               {"block_ids", p["remote_block_ids"]}};
  auto r =
      remote_agents.request(p["remote_host"].get<std::string>(), p["remote_port"].get<uint16_t>(),
                            "POST", "/hs/kv/read", body.dump());
  if (!r.ok())
    return unavailable("cannot reach the remote NIXL side channel: " + r.error().to_string());
  if (r->status != 200)
    return invalid_argument("remote engine refused the KV read (" + std::to_string(r->status) +
                            "): " + r->body);
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded() || !j.contains("tokens")) return internal_error("bad KV read answer");
  return j["tokens"].get<uint32_t>();
}

std::shared_ptr<Job> EngineSim::Impl::admit(const VllmRequest& vr, const std::string& rid,
                                            http::Response& err) {
  auto j = std::make_shared<Job>();
  j->seq = next_seq++;
  j->request_id = rid.empty() ? "hs-" + std::to_string(j->seq) : rid;
  j->internal_id = (vr.chat ? "chatcmpl-" : "cmpl-") + j->request_id + "-" + std::to_string(j->seq);
  j->prompt_tokens = vr.prompt_tokens;
  j->max_tokens = vr.max_tokens;
  j->arrived = Steady::now();
  const json& kvp = has_connector() ? vr.kv_transfer_params : json();
  bool remote_prefilled = false;
  if (kvp.is_object() && kvp.value("do_remote_decode", false)) {
    j->remote_decode = true;
    j->max_tokens = 1;
  } else if (kvp.is_object() && kvp.value("do_remote_prefill", false)) {
    auto pulled = pull(kvp);
    if (!pulled.ok()) {
      err = vllm_error(400, pulled.error().to_string(), "BadRequestError", "kv_transfer_params");
      return nullptr;
    }
    if (*pulled != j->prompt_tokens) {
      err = vllm_error(400,
                       "the KV read holds " + std::to_string(*pulled) + " tokens, the prompt has " +
                           std::to_string(j->prompt_tokens),
                       "BadRequestError", "kv_transfer_params");
      return nullptr;
    }
    double t = *pulled * prof.kv_bytes_per_token / (o.kv_gbytes_per_s * 1e9);
    std::this_thread::sleep_for(std::chrono::duration<double>(scaled(t)));
    j->kv_from = kvp.value("remote_engine_id", "");
    remote_prefilled = true;
  }
  std::lock_guard<std::mutex> lk(mu);
  if (!active_ids.insert(j->request_id).second) {
    // vllm/v1/engine/output_processor.py add_request.
    err = vllm_error(400, "Request id " + j->request_id + " already running.", "BadRequestError");
    return nullptr;
  }
  ++in_flight;
  if (remote_prefilled) {
    decode_wait.push_back(j);
    decode_cv.notify_one();
  } else {
    prefill_q.push_back(j);
    prefill_cv.notify_one();
  }
  return j;
}

void EngineSim::Impl::note_ignored(const std::vector<std::string>& fields) {
  if (fields.empty()) return;
  std::lock_guard<std::mutex> lk(mu);
  std::string fresh;
  for (const auto& f : fields)
    if (ignored_seen.insert(f).second) fresh += (fresh.empty() ? "" : ", ") + f;
  if (!fresh.empty())
    std::fprintf(stderr,
                 "hs-engine-sim: The following fields were present in the request but "
                 "ignored: {%s}\n",
                 fresh.c_str());
}

http::Response EngineSim::Impl::stream_response(const std::shared_ptr<Job>& j,
                                                const ResponseIds& ids, const VllmRequest& vr) {
  http::Response r;
  r.content_type = "text/event-stream";
  uint32_t k = std::max<uint32_t>(1, o.tokens_per_chunk);
  r.stream = [this, j, ids, vr, k](const http::StreamWriter& w) {
    uint32_t sent = 0;
    bool ok = true;
    for (;;) {
      std::unique_lock<std::mutex> l(j->mu);
      // The first token goes out at once; later ones in chunks of k (vLLM's stream interval).
      // A writer that fell behind sends all tokens made meanwhile in one event, as vLLM
      // merges DELTA outputs (vllm/v1/engine/output_processor.py RequestOutputCollector).
      j->cv.wait(l, [&] {
        return j->done || stopping.load() || (sent == 0 && j->generated > 0) ||
               j->generated >= sent + k;
      });
      uint32_t have = j->generated;
      bool done = j->done;
      l.unlock();
      if (stopping && !done) break;  // aborted: the stream is cut, no [DONE]
      if (have > sent) {
        json c = stream_chunk(ids, have - sent, done, j->prompt_tokens,
                              vr.continuous_usage ? static_cast<int64_t>(have) : -1);
        sent = have;
        if (!w("data: " + c.dump() + "\n\n")) {
          ok = false;
          break;
        }
      }
      if (done) break;
    }
    if (ok && j->done) {
      if (vr.include_usage)
        w("data: " + usage_chunk(ids, j->prompt_tokens, j->generated).dump() + "\n\n");
      w("data: [DONE]\n\n");
    }
    release_id(j->request_id);
  };
  return r;
}

http::Response EngineSim::Impl::completions(const http::Request& req, bool chat) {
  if (draining) return vllm_error(503, "engine is draining", "ServiceUnavailableError");
  json in = json::parse(req.body, nullptr, false);
  if (in.is_discarded()) return vllm_error(400, "JSON decode error", "BadRequestError");
  VllmLimits lim{o.served_model, prof.max_context, o.max_logprobs, o.vocab_size};
  VllmParse parsed = parse_vllm_request(in, chat, lim);
  if (auto* e = std::get_if<VllmError>(&parsed)) return json_response(e->body(), e->status);
  const VllmRequest& vr = std::get<VllmRequest>(parsed);
  note_ignored(vr.ignored_fields);
  auto rid = req.headers.find("x-request-id");
  http::Response err;
  auto j = admit(vr, rid != req.headers.end() ? rid->second : "", err);
  if (!j) return err;
  ResponseIds ids{j->internal_id,
                  static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count()),
                  o.served_model, chat};
  bool stream = vr.stream && !j->remote_decode;
  if (stream) return stream_response(j, ids, vr);
  std::unique_lock<std::mutex> l(j->mu);
  j->cv.wait(l, [&] { return j->done || stopping.load(); });
  bool done = j->done;
  l.unlock();
  release_id(j->request_id);
  if (!done) return vllm_error(503, "engine stopped", "ServiceUnavailableError");
  json out = full_response(ids, j->generated, j->prompt_tokens);
  // vLLM's response model always has the field; it is null without a connector.
  out["kv_transfer_params"] = j->remote_decode ? j->kv_params : json(nullptr);
  return json_response(out);
}

}  // namespace hs::launcher
