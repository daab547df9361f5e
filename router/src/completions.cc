// hs-router's request path: a completion is a coroutine on its connection's strand (the
// server's loop), so it holds no thread while the prefill and the decode work; the decode's
// events are relayed to the client one write at a time.
// GCC 12 misreads Asio 1.74's coroutine frame allocator as a new/delete mismatch once these
// coroutines are inlined (see common/src/http_batch.cc); the pairing is Asio's own.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <utility>  // before Asio: its awaitable.hpp uses std::exchange

#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "hs/common/clock.h"
#include "hs/common/http_async.h"
#include "hs/common/router_metrics.h"
#include "hs/router/pd_protocol.h"
#include "router_impl.h"

namespace hs::router {

namespace rm = router_metrics;

http::Task<std::optional<Router::Impl::Prefilled>> Router::Impl::prefill(
    const json& body, const std::string& path, const std::string& rid, std::set<std::string>& tried,
    int& attempts, http::Response& reply) {
  while (attempts < o.max_attempts) {
    Picked p = table.pick(Role::kPrefill, "", tried);
    if (!p.ok) {
      reply =
          http::error_response(503, "no healthy prefill instance in a group with a healthy decode",
                               "service_unavailable");
      co_return std::nullopt;
    }
    ++attempts;
    tried.insert(p.ep.url);
    http::Call call{p.ep.host,
                    p.ep.port,
                    "POST",
                    path,
                    prefill_body(body).dump(),
                    engine_call(o.upstream_timeout, rid)};
    auto r = co_await engines.request(std::move(call));
    release(p.ep, r);
    if (!r.ok() || r->status >= 500) {
      bool again = attempts < o.max_attempts;
      log.warning("prefill on " + p.ep.url + " failed (" +
                  (r.ok() ? std::to_string(r->status) : r.error().to_string()) + ")" +
                  (again ? "; retrying elsewhere" : ""));
      if (again) note_retry();
      continue;
    }
    if (r->status != 200) {
      reply.status = r->status;
      reply.body = r->body;
      co_return std::nullopt;
    }
    json j = json::parse(r->body, nullptr, false);
    if (j.is_discarded() || !j.contains("kv_transfer_params") ||
        !j["kv_transfer_params"].is_object()) {
      reply = http::error_response(
          502,
          "prefill instance " + p.ep.url +
              " returned no kv_transfer_params: is it a NixlConnector prefill?",
          "bad_gateway");
      co_return std::nullopt;
    }
    double used = -1;
    if (j.contains("usage") && j["usage"].is_object() && j["usage"].contains("prompt_tokens") &&
        j["usage"]["prompt_tokens"].is_number())
      used = j["usage"]["prompt_tokens"].get<double>();
    co_return Prefilled{p.ep, j["kv_transfer_params"], used};
  }
  reply = http::error_response(502, "prefill failed on " + std::to_string(attempts) + " instances",
                               "bad_gateway");
  co_return std::nullopt;
}

void Router::Impl::finish(const Outcome& x, const SseTokenClock* tc) {
  std::lock_guard<std::mutex> lk(mu);
  ++outcomes[x.outcome];
  json rec = {{"request_id", x.rid},   {"client_request_id", x.client_rid},
              {"group", x.group},      {"prefill", x.prefill},
              {"decode", x.decode},    {"outcome", x.outcome},
              {"attempts", x.attempts}};
  rec["start_s"] = to_seconds(x.start - started);  // since the router started
  double end = to_seconds(Steady::now() - x.start);
  rec["e2e_s"] = end;
  if (tc && !tc->chunks().empty()) {
    double t = to_seconds(tc->chunks().front().t - x.start);
    rec["ttft_s"] = t;
    ttft.try_emplace(x.group, prom::vllm_ttft_buckets()).first->second.observe(t);
    auto& h = tbt.try_emplace(x.group, prom::vllm_tpot_buckets()).first->second;
    for (const auto& [gap, n] : tc->token_gaps_s()) h.observe(gap, n);
    rec["tokens"] = tc->tokens();
    rec["token_events"] = tc->chunks().size();
  }
  if (x.outcome == rm::kOutcomeOk)
    offered.finished(x.ticket, tc ? static_cast<double>(tc->tokens()) : x.output_tokens);
  if (x.outcome == rm::kOutcomeOk)
    e2e.try_emplace(x.group, prom::vllm_e2e_buckets()).first->second.observe(end);
  records.push_back(std::move(rec));
  if (records.size() > 100000) records.pop_front();
}

http::Task<http::AsyncResponse> Router::Impl::completions(http::Request req) {
  http::AsyncResponse out;
  Outcome x;
  x.start = Steady::now();
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    out.head = http::error_response(400, "request body is not a JSON object");
    co_return out;
  }
  // A fresh id per request, the same for both halves; the client's own is only recorded.
  x.rid = request_ids.next();
  if (auto h = req.headers.find("x-request-id"); h != req.headers.end()) x.client_rid = h->second;
  const std::string path = req.path();
  {
    std::lock_guard<std::mutex> lk(mu);
    x.ticket = offered.arrive(body);
  }
  std::set<std::string> tried_p;
  http::Response reply;
  auto pf = co_await prefill(body, path, x.rid, tried_p, x.attempts, reply);
  {
    std::lock_guard<std::mutex> lk(mu);
    offered.prefilled(x.ticket, pf ? pf->prompt_tokens : -1);
  }
  if (!pf) {
    x.outcome = reply.status < 500 ? rm::kOutcomeClientError : rm::kOutcomeFailed;
    finish(x, nullptr);
    out.head = std::move(reply);
    co_return out;
  }
  if (!client_stream(body).stream) {
    out.head = co_await decode(body, path, std::move(x), std::move(*pf), tried_p, nullptr);
    co_return out;
  }
  out.head.content_type = "text/event-stream";
  out.stream = [this, body, path, x, p = *pf, tried_p](http::ChunkSink& sink) {
    return stream_decode(body, path, x, p, tried_p, &sink);
  };
  co_return out;
}

http::Task<void> Router::Impl::stream_decode(json body, std::string path, Outcome x, Prefilled pf,
                                             std::set<std::string> tried_p, http::ChunkSink* w) {
  (void)co_await decode(std::move(body), std::move(path), std::move(x), std::move(pf),
                        std::move(tried_p), w);
}

http::Task<bool> Router::Impl::restart(const json& body, const std::string& path, Outcome& x,
                                       Prefilled& pf, std::set<std::string>& tried_p,
                                       http::Response& reply) {
  note_retry();
  auto again = co_await prefill(body, path, x.rid, tried_p, x.attempts, reply);
  if (!again) co_return false;
  pf = std::move(*again);
  x.prefill = pf.prefill.url;
  x.group = pf.prefill.group;
  co_return true;
}

http::Task<http::Response> Router::Impl::answer_error(http::ChunkSink* w, int code,
                                                      std::string message, std::string type) {
  if (!w) co_return http::error_response(code, message, type);
  // Built before the co_await: GCC 12 cannot keep a string literal's array in a frame.
  std::string event =
      "data: " + json{{"error", {{"message", message}, {"code", code}}}}.dump() + "\n\n";
  (void)co_await w->write(event);
  co_return http::Response{};
}

http::Task<http::Response> Router::Impl::decode(json body, std::string path, Outcome x,
                                                Prefilled pf, std::set<std::string> tried_p,
                                                http::ChunkSink* w) {
  std::set<std::string> tried_d;
  x.prefill = pf.prefill.url;
  x.group = pf.prefill.group;
  auto fail = [&](const std::string& d_url) {
    x.outcome = rm::kOutcomeFailed;
    x.decode = d_url;
    finish(x, nullptr);
  };
  const ClientStream cs = client_stream(body);
  for (;;) {
    Picked d = table.pick(Role::kDecode, pf.prefill.group, tried_d);
    std::string d_url = d.ok ? d.ep.url : "";
    bool retry = !d.ok && x.attempts < o.max_attempts;
    Result<http::ClientResponse> r = http::ClientResponse{};
    SseTokenClock tc(w ? std::optional<ClientStream>(cs) : std::nullopt);
    bool forwarded = false, client_gone = false;
    if (!d.ok && !retry) {
      fail("");
      co_return co_await answer_error(
          w, 503, "no healthy decode instance in group " + pf.prefill.group, "service_unavailable");
    }
    if (d.ok) {
      tried_d.insert(d.ep.url);
      http::Call call{d.ep.host,
                      d.ep.port,
                      "POST",
                      path,
                      decode_body(body, pf.kv_params).dump(),
                      engine_call(o.upstream_timeout, x.rid)};
      if (w)
        r = co_await relay(std::move(call), tc, *w, forwarded, client_gone);
      else
        r = co_await engines.request(std::move(call));
      release(d.ep, r);
      retry = (!r.ok() || r->status >= 500) && !forwarded && x.attempts < o.max_attempts;
      if (!r.ok() || r->status >= 500)
        log.warning("decode on " + d.ep.url + " failed (" +
                    (r.ok() ? std::to_string(r->status) : r.error().to_string()) + ")" +
                    (forwarded ? " after its first token" : "") +
                    (retry ? "; retrying from the prefill" : ""));
    }
    if (retry) {
      // The group lost its decodes (drained or failed) after the prefill, or the decode
      // failed before its first token: start over in a group that still has one; the
      // prefilled KV expires unused.
      http::Response reply;
      if (co_await restart(body, path, x, pf, tried_p, reply)) continue;
      fail(d_url);
      if (!w) co_return reply;
      co_return co_await answer_error(w, reply.status, "retry failed: " + reply.body, "");
    }
    bool failed = !r.ok() || r->status >= 500;
    x.decode = d.ep.url;
    if (!r.ok() && !w) {
      fail(d.ep.url);
      co_return co_await answer_error(nullptr, 502, "decode failed: " + r.error().to_string(),
                                      "bad_gateway");
    }
    if (w && !forwarded && r.ok() && r->status != 200)
      (void)co_await answer_error(w, r->status, "decode answered " + std::to_string(r->status), "");
    bool engine_ok = r.ok() && r->status == 200;
    if (engine_ok && !w) {
      json a = json::parse(r->body, nullptr, false);
      if (a.is_object() && a.contains("usage") && a["usage"].is_object() &&
          a["usage"].contains("completion_tokens") && a["usage"]["completion_tokens"].is_number())
        x.output_tokens = a["usage"]["completion_tokens"].get<double>();
    }
    if (client_gone)
      x.outcome = rm::kOutcomeClientGone;
    else if (engine_ok && !failed)
      x.outcome = rm::kOutcomeOk;
    else if (r.ok() && r->status < 500 && !w)
      x.outcome = rm::kOutcomeClientError;
    else
      x.outcome = rm::kOutcomeFailed;
    finish(x, w ? &tc : nullptr);
    if (w) co_return http::Response{};
    http::Response out;
    out.status = r->status;
    out.body = r->body;
    co_return out;
  }
}

http::Task<Result<http::ClientResponse>> Router::Impl::relay(http::Call call, SseTokenClock& tc,
                                                             http::ChunkSink& w, bool& forwarded,
                                                             bool& client_gone) {
  auto st = co_await engines.open(std::move(call));
  if (!st.ok()) co_return st.error();
  http::ClientResponse head;
  head.status = st->status();
  head.headers = st->headers();
  for (;;) {
    auto piece = co_await st->next();
    if (!piece.ok()) co_return piece.error();
    if (piece->empty()) break;
    std::string fwd = tc.feed(*piece);
    forwarded = forwarded || !tc.chunks().empty() || !fwd.empty();
    if (!fwd.empty() && !co_await w.write(fwd)) {
      client_gone = true;
      break;
    }
  }
  co_return head;
}

}  // namespace hs::router
