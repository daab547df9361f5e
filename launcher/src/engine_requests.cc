// The simulated engine's OpenAI requests: validation (vllm_request.h), admission, the P/D
// decode's KV pull from the prefill's side channel, and the answers and streams. Each request
// is a coroutine on the server's loop that sleeps on a timer until the scheduler threads
// (engine_sim.cc) wake it, so thousands of streams are not thousands of threads.
// GCC 12 misreads Asio 1.74's coroutine frame allocator as a new/delete mismatch once these
// coroutines are inlined (see common/src/http_batch.cc); the pairing is Asio's own.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <utility>  // before Asio: its awaitable.hpp uses std::exchange

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "engine_sim_impl.h"
#include "hs/common/clock.h"
#include "hs/common/text.h"
#include "vllm_response.h"

namespace hs::launcher {

namespace net = boost::asio;

http::Task<Result<uint32_t>> EngineSim::Impl::pull(json p) {
  for (const char* k : {"remote_engine_id", "remote_request_id", "remote_host"})
    if (!p.contains(k) || !p[k].is_string())
      co_return invalid_argument(std::string("kv_transfer_params.") + k + " must be a string");
  if (!p.contains("remote_port") || !p["remote_port"].is_number_unsigned() ||
      p["remote_port"].get<uint64_t>() == 0 || p["remote_port"].get<uint64_t>() > 65535)
    co_return invalid_argument("kv_transfer_params.remote_port must be a port number");
  if (!p.contains("remote_block_ids") || !p["remote_block_ids"].is_array() ||
      p["remote_block_ids"].empty())
    co_return invalid_argument("kv_transfer_params.remote_block_ids must be a non-empty list");
  if (!p.contains("tp_size") || !p["tp_size"].is_number_unsigned() ||
      p["tp_size"].get<uint64_t>() == 0)
    co_return invalid_argument("kv_transfer_params.tp_size must be a positive integer");
  json body = {{"engine_id", p["remote_engine_id"]},
               {"request_id", p["remote_request_id"]},
               {"block_ids", p["remote_block_ids"]}};
  http::Call call{p["remote_host"].get<std::string>(),
                  p["remote_port"].get<uint16_t>(),
                  "POST",
                  "/hs/kv/read",
                  body.dump(),
                  {}};
  auto r = co_await remote_agents.request(std::move(call));
  if (!r.ok())
    co_return unavailable("cannot reach the remote NIXL side channel: " + r.error().to_string());
  if (r->status != 200)
    co_return invalid_argument("remote engine refused the KV read (" + std::to_string(r->status) +
                               "): " + r->body);
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded() || !j.contains("tokens")) co_return internal_error("bad KV read answer");
  co_return j["tokens"].get<uint32_t>();
}

http::Task<std::shared_ptr<Job>> EngineSim::Impl::admit(VllmRequest vr, std::string rid,
                                                        http::Response& err) {
  auto j = std::make_shared<Job>();
  j->seq = next_seq++;
  j->request_id = rid.empty() ? "hs-" + std::to_string(j->seq) : rid;
  j->internal_id = (vr.chat ? "chatcmpl-" : "cmpl-") + j->request_id + "-" + std::to_string(j->seq);
  j->prompt_tokens = vr.prompt_tokens;
  j->max_tokens = vr.max_tokens;
  j->arrived = Steady::now();
  const json kvp = has_connector() ? vr.kv_transfer_params : json();
  bool remote_prefilled = false;
  if (kvp.is_object() && kvp.value("do_remote_decode", false)) {
    j->remote_decode = true;
    j->max_tokens = 1;
  } else if (kvp.is_object() && kvp.value("do_remote_prefill", false)) {
    auto pulled = co_await pull(kvp);
    if (!pulled.ok()) {
      err = vllm_error(400, pulled.error().to_string(), "BadRequestError", "kv_transfer_params");
      co_return nullptr;
    }
    if (*pulled != j->prompt_tokens) {
      err = vllm_error(400,
                       "the KV read holds " + std::to_string(*pulled) + " tokens, the prompt has " +
                           std::to_string(j->prompt_tokens),
                       "BadRequestError", "kv_transfer_params");
      co_return nullptr;
    }
    double t = *pulled * prof.kv_bytes_per_token / (o.kv_gbytes_per_s * 1e9);
    // The transfer's time, on a timer: the loop thread goes on with other connections.
    net::steady_timer transfer(co_await net::this_coro::executor);
    transfer.expires_after(
        std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(scaled(t))));
    boost::system::error_code ec;
    co_await transfer.async_wait(net::redirect_error(net::use_awaitable, ec));
    j->kv_from = kvp.value("remote_engine_id", "");
    remote_prefilled = true;
  }
  std::lock_guard<std::mutex> lk(mu);
  if (!active_ids.insert(j->request_id).second) {
    // vllm/v1/engine/output_processor.py add_request.
    err = vllm_error(400, "Request id " + j->request_id + " already running.", "BadRequestError");
    co_return nullptr;
  }
  ++in_flight;
  if (remote_prefilled) {
    decode_wait.push_back(j);
    decode_cv.notify_one();
  } else {
    prefill_q.push_back(j);
    prefill_cv.notify_one();
  }
  co_return j;
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

http::Task<void> EngineSim::Impl::wait_job(std::shared_ptr<Job> j, uint32_t at_least) {
  auto ex = co_await net::this_coro::executor;
  auto timer = std::make_shared<net::steady_timer>(ex, net::steady_timer::time_point::max());
  {
    std::lock_guard<std::mutex> l(j->mu);
    j->waker = [ex, w = std::weak_ptr<net::steady_timer>(timer)] {
      net::post(ex, [w] {
        if (auto t = w.lock()) t->cancel();
      });
    };
  }
  for (;;) {
    {
      std::lock_guard<std::mutex> l(j->mu);
      if (j->done || stopping || j->generated >= at_least) {
        j->waker = nullptr;
        break;
      }
    }
    // A wake-up posted since the check runs after this wait has begun (same strand), so none
    // is lost; a spurious one only re-checks.
    boost::system::error_code ec;
    co_await timer->async_wait(net::redirect_error(net::use_awaitable, ec));
  }
}

http::Task<void> EngineSim::Impl::stream_job(std::shared_ptr<Job> j, ResponseIds ids,
                                             VllmRequest vr, http::ChunkSink* w) {
  const uint32_t k = std::max<uint32_t>(1, o.tokens_per_chunk);
  uint32_t sent = 0;
  bool ok = true, done = false;
  for (;;) {
    // The first token goes out at once; later ones in chunks of k (vLLM's stream interval).
    // A writer that fell behind sends all tokens made meanwhile in one event, as vLLM
    // merges DELTA outputs (vllm/v1/engine/output_processor.py RequestOutputCollector).
    co_await wait_job(j, sent == 0 ? 1 : sent + k);
    uint32_t have = 0;
    {
      std::lock_guard<std::mutex> l(j->mu);
      have = j->generated;
      done = j->done;
    }
    if (stopping && !done) break;  // aborted: the stream is cut, no [DONE]
    if (have > sent) {
      json c = stream_chunk(ids, have - sent, done, j->prompt_tokens,
                            vr.continuous_usage ? static_cast<int64_t>(have) : -1);
      sent = have;
      std::string event = "data: " + c.dump() + "\n\n";
      if (!co_await w->write(event)) {
        ok = false;
        break;
      }
    }
    if (done) break;
  }
  if (ok && done) {
    if (vr.include_usage) {
      std::string usage =
          "data: " + usage_chunk(ids, j->prompt_tokens, j->generated).dump() + "\n\n";
      (void)co_await w->write(usage);
    }
    std::string end = "data: [DONE]\n\n";
    (void)co_await w->write(end);
  }
  release_id(j->request_id);
}

http::Task<http::AsyncResponse> EngineSim::Impl::completions(http::Request req) {
  http::AsyncResponse out;
  const bool chat = req.path() == "/v1/chat/completions";
  // vLLM's AuthenticationMiddleware guards the /v1 routes (handle() does it for the others).
  if (!authorized(req)) {
    out.head = json_response({{"error", "Unauthorized"}}, 401);
    co_return out;
  }
  if (draining) {
    out.head = vllm_error(503, "engine is draining", "ServiceUnavailableError");
    co_return out;
  }
  json in = json::parse(req.body, nullptr, false);
  if (in.is_discarded()) {
    out.head = vllm_error(400, "JSON decode error", "BadRequestError");
    co_return out;
  }
  VllmLimits lim{o.served_model, prof.max_context, o.max_logprobs, o.vocab_size};
  VllmParse parsed = parse_vllm_request(in, chat, lim);
  if (auto* e = std::get_if<VllmError>(&parsed)) {
    out.head = json_response(e->body(), e->status);
    co_return out;
  }
  VllmRequest vr = std::get<VllmRequest>(parsed);
  note_ignored(vr.ignored_fields);
  auto rid = req.headers.find("x-request-id");
  std::string client_rid = rid != req.headers.end() ? rid->second : "";
  http::Response err;
  auto j = co_await admit(vr, client_rid, err);
  if (!j) {
    out.head = std::move(err);
    co_return out;
  }
  ResponseIds ids{j->internal_id,
                  static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count()),
                  o.served_model, chat};
  if (vr.stream && !j->remote_decode) {
    out.head.content_type = "text/event-stream";
    out.stream = [this, j, ids, vr](http::ChunkSink& w) { return stream_job(j, ids, vr, &w); };
    co_return out;
  }
  co_await wait_job(j, std::numeric_limits<uint32_t>::max());
  bool done = false;
  {
    std::lock_guard<std::mutex> l(j->mu);
    done = j->done;
  }
  release_id(j->request_id);
  if (!done) {
    out.head = vllm_error(503, "engine stopped", "ServiceUnavailableError");
    co_return out;
  }
  json answer = full_response(ids, j->generated, j->prompt_tokens);
  // vLLM's response model always has the field; it is null without a connector.
  answer["kv_transfer_params"] = j->remote_decode ? j->kv_params : json(nullptr);
  out.head = json_response(answer);
  co_return out;
}

}  // namespace hs::launcher
