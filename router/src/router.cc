#include "hs/router/router.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "endpoint_table.h"
#include "hs/common/clock.h"
#include "hs/common/http.h"
#include "hs/common/logger.h"
#include "hs/common/prometheus_text.h"
#include "hs/common/router_metrics.h"
#include "hs/router/offered_load.h"
#include "hs/router/pd_protocol.h"
#include "hs/router/sse.h"

namespace hs::router {

namespace rm = router_metrics;

using json = nlohmann::json;

struct Router::Impl {
  explicit Impl(const RouterOptions& opts) : o(opts), table(log, opts.unhealthy_after) {}
  RouterOptions o;
  Logger log{"router", LogLevel::kInfo, stderr_sink()};
  EndpointTable table;
  RequestIds request_ids;
  std::unique_ptr<http::Server> server;
  // Kept-alive connections to the engines for the non-streaming calls (a fresh TCP connection
  // per call cost more than the call on loopback); streams get their own connection each.
  http::ConnectionPool engines;
  mutable std::mutex mu;  // the fields below, and the follower's and prober's wake-up
  std::condition_variable cv;
  bool stopping = false;
  std::filesystem::file_time_type mtime{};
  std::thread follower, prober;
  Steady::time_point started = Steady::now();
  std::string last_scaler_body;
  bool scaler_failing = false;
  // metrics, under mu
  std::map<std::string, uint64_t> outcomes;  // "ok", "client_error", "failed", "client_gone"
  uint64_t retries = 0;
  std::map<std::string, prom::Histogram> ttft, tbt, e2e;  // per deployment group
  OfferedLoad offered;  // the service's demand as clients ask it (offered_load.h)
  std::deque<json> records;

  // Re-reads the endpoints file when it changed (or polls heteroscaled's endpoint set); a bad
  // new version keeps the old set, and so does an unreachable daemon.
  void reload(bool force) {
    if (!o.scaler_url.empty()) {
      auto u = http::parse_url(o.scaler_url);
      http::ClientOptions co;
      co.timeout = std::chrono::milliseconds(2000);
      auto r = u.ok() ? http::request(u->host, u->port, "GET", u->target, "", co)
                      : Result<http::ClientResponse>(u.error());
      if (!r.ok() || r->status != 200) {
        if (!scaler_failing)
          log.error("keeping the previous endpoints: heteroscaled at " + o.scaler_url + ": " +
                    (r.ok() ? "HTTP " + std::to_string(r->status) : r.error().to_string()));
        scaler_failing = true;
        return;
      }
      if (scaler_failing) log.info("heteroscaled answers again");
      scaler_failing = false;
      if (!force && r->body == last_scaler_body) return;
      last_scaler_body = r->body;
      auto eps = parse_endpoints(r->body, o.scaler_url);
      if (!eps.ok()) {
        log.error("keeping the previous endpoints: " + eps.error().to_string());
        return;
      }
      table.apply(*eps, Steady::now());
      return;
    }
    std::error_code ec;
    auto t = std::filesystem::last_write_time(o.endpoints_file, ec);
    if (ec || (!force && t == mtime)) return;
    mtime = t;
    auto eps = load_endpoints(o.endpoints_file);
    if (!eps.ok()) {
      log.error("keeping the previous endpoints: " + eps.error().to_string());
      return;
    }
    table.apply(*eps, Steady::now());
  }

  // A call that failed on a deadline (the connect, or the answer): the engine may be busy, its
  // accept queue full under a burst, rather than gone; a refusal or a reset is definite.
  static bool busy(const Error& e) {
    return e.message.find("timeout") != std::string::npos ||
           e.message.find("Operation canceled") != std::string::npos;
  }

  http::ClientOptions engine_call(std::chrono::milliseconds timeout,
                                  const std::string& rid = {}) const {
    http::ClientOptions co;
    co.timeout = timeout;
    co.connect_timeout = o.connect_timeout;
    if (!rid.empty()) co.headers.emplace_back("x-request-id", rid);
    co.headers.emplace_back("content-type", "application/json");
    if (!o.engine_api_key.empty())
      co.headers.emplace_back("authorization", "Bearer " + o.engine_api_key);
    return co;
  }

  // The models of instances that just passed their first check, cached so /v1/models answers
  // during a health blip.
  void fetch_models(const std::vector<Endpoint>& eps) {
    std::vector<http::Call> calls;
    for (const auto& ep : eps)
      calls.push_back({ep.host, ep.port, "GET", "/v1/models", "",
                       engine_call(std::chrono::milliseconds(2000))});
    auto rs = http::request_all(calls);
    for (size_t i = 0; i < eps.size(); ++i) {
      const auto& r = rs[i];
      if (!r.ok() || r->status != 200) continue;
      json j = json::parse(r->body, nullptr, false);
      if (j.is_discarded() || !j.contains("data") || !j["data"].is_array()) continue;
      std::vector<std::string> ids;
      for (const auto& m : j["data"])
        if (m.is_object() && m.contains("id") && m["id"].is_string())
          ids.push_back(m["id"].get<std::string>());
      table.set_models(eps[i].url, std::move(ids));
    }
  }

  // Probes every due instance at once (request_all): N dead peers cost one timeout, not N.
  void check_health(bool all_due) {
    http::ClientOptions co, fast;
    co.timeout = std::chrono::milliseconds(std::max<int64_t>(200, o.health_interval.count() / 2));
    // A loading vLLM has bound its port but answers nothing: a fast re-probe must not wait a
    // whole normal timeout on it, or it is no faster than the normal interval.
    fast.timeout = std::min(co.timeout, std::chrono::milliseconds(250));
    const auto now = Steady::now();
    std::vector<Endpoint> due = table.to_probe(now, all_due);
    std::vector<http::Call> calls;
    for (const auto& ep : due)
      calls.push_back(
          {ep.host, ep.port, "GET", "/health", "", table.probing_fast(ep.url, now) ? fast : co});
    auto rs = http::request_all(calls);
    std::vector<Endpoint> new_models;
    for (size_t i = 0; i < due.size(); ++i) {
      const auto& r = rs[i];
      bool ok = r.ok() && r->status == 200;
      std::string why = ok       ? ""
                        : r.ok() ? "HTTP " + std::to_string(r->status)
                                 : r.error().to_string();
      bool slow = !r.ok() && http::timed_out(r.error());
      if (table.record_health(due[i].url, ok, Steady::now(), why, slow))
        new_models.push_back(due[i]);
    }
    if (!new_models.empty()) fetch_models(new_models);
  }

  // Two threads, so that a hung daemon (the endpoint set's source) delays no health check and
  // a round of probes delays no endpoint update; neither is on the request path.
  void follow() {
    std::unique_lock<std::mutex> lk(mu);
    while (!stopping) {
      lk.unlock();
      reload(false);
      lk.lock();
      auto wait =
          std::min<std::chrono::milliseconds>(o.health_interval, std::chrono::milliseconds(250));
      cv.wait_for(lk, wait, [&] { return stopping; });
    }
  }

  void probe() {
    auto next_health = Steady::now();
    std::unique_lock<std::mutex> lk(mu);
    while (!stopping) {
      lk.unlock();
      bool due = Steady::now() >= next_health;
      if (due) next_health = Steady::now() + o.health_interval;
      check_health(due);
      lk.lock();
      auto until = next_health;
      if (table.any_fast_probe(Steady::now())) until = std::min(until, Steady::now() + kFastProbe);
      cv.wait_until(lk, until, [&] { return stopping; });
    }
  }

  struct Prefilled {
    Endpoint prefill;
    json kv_params;
    double prompt_tokens = -1;  // the prefill's usage.prompt_tokens, if it had one
  };
  // Runs the prefill half on an instance not in `tried`. On a client error (4xx) `reply` holds
  // the engine's answer to pass back; on no capacity or a failure, an error response.
  std::optional<Prefilled> prefill(const json& body, const std::string& path,
                                   const std::string& rid, std::set<std::string>& tried,
                                   int& attempts, http::Response& reply) {
    while (attempts < o.max_attempts) {
      Picked p = table.pick(Role::kPrefill, "", tried);
      if (!p.ok) {
        reply = http::error_response(503,
                                     "no healthy prefill instance in a group with a healthy decode",
                                     "service_unavailable");
        return std::nullopt;
      }
      ++attempts;
      tried.insert(p.ep.url);
      auto r = engines.request(p.ep.host, p.ep.port, "POST", path, prefill_body(body).dump(),
                               engine_call(o.upstream_timeout, rid));
      table.release(p.ep, r.ok(), !r.ok() && busy(r.error()));
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
        return std::nullopt;
      }
      json j = json::parse(r->body, nullptr, false);
      if (j.is_discarded() || !j.contains("kv_transfer_params") ||
          !j["kv_transfer_params"].is_object()) {
        reply = http::error_response(
            502,
            "prefill instance " + p.ep.url +
                " returned no kv_transfer_params: is it a NixlConnector prefill?",
            "bad_gateway");
        return std::nullopt;
      }
      double used = -1;
      if (j.contains("usage") && j["usage"].is_object() && j["usage"].contains("prompt_tokens") &&
          j["usage"]["prompt_tokens"].is_number())
        used = j["usage"]["prompt_tokens"].get<double>();
      return Prefilled{p.ep, j["kv_transfer_params"], used};
    }
    reply = http::error_response(
        502, "prefill failed on " + std::to_string(attempts) + " instances", "bad_gateway");
    return std::nullopt;
  }

  void note_retry() {
    std::lock_guard<std::mutex> lk(mu);
    ++retries;
  }

  struct Outcome {
    std::string rid, client_rid, group, outcome, prefill, decode;
    Steady::time_point start;
    int attempts = 0;
    OfferedLoad::Ticket ticket;
    double output_tokens = -1;  // a non-streamed answer's usage.completion_tokens
  };
  void finish(const Outcome& x, const SseTokenClock* tc) {
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

  http::Response completions(const http::Request& req) {
    Outcome x;
    x.start = Steady::now();
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
      return http::error_response(400, "request body is not a JSON object");
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
    auto pf = prefill(body, path, x.rid, tried_p, x.attempts, reply);
    {
      std::lock_guard<std::mutex> lk(mu);
      offered.prefilled(x.ticket, pf ? pf->prompt_tokens : -1);
    }
    if (!pf) {
      x.outcome = reply.status < 500 ? rm::kOutcomeClientError : rm::kOutcomeFailed;
      finish(x, nullptr);
      return reply;
    }
    if (!client_stream(body).stream)
      return decode(body, path, std::move(x), std::move(*pf), tried_p, nullptr);
    http::Response out;
    out.content_type = "text/event-stream";
    out.stream = [this, body, path, x, p = *pf, tried_p](const http::StreamWriter& w) mutable {
      (void)decode(body, path, std::move(x), std::move(p), tried_p, &w);
    };
    return out;
  }

  // The decode half of a request, for both modes: a decode instance of the prefill's group;
  // before the first token, a failure (or a group without a usable decode) starts over once
  // from the prefill in another group. With `w` the decode's events are streamed to the
  // client and errors become an SSE error event; without it the reply is returned.
  http::Response decode(const json& body, const std::string& path, Outcome x, Prefilled pf,
                        std::set<std::string> tried_p, const http::StreamWriter* w) {
    std::set<std::string> tried_d;
    x.prefill = pf.prefill.url;
    x.group = pf.prefill.group;
    auto error = [&](int code, const std::string& message, std::string_view type) {
      if (!w) return http::error_response(code, message, type);
      (*w)("data: " + json{{"error", {{"message", message}, {"code", code}}}}.dump() + "\n\n");
      return http::Response{};
    };
    auto fail = [&](const std::string& d_url) {
      x.outcome = rm::kOutcomeFailed;
      x.decode = d_url;
      finish(x, nullptr);
    };
    // Starts over from the prefill; false (with the reply) when that fails too.
    auto restart = [&](const std::string& d_url, http::Response& reply) {
      note_retry();
      auto again = prefill(body, path, x.rid, tried_p, x.attempts, reply);
      if (!again) {
        fail(d_url);
        return false;
      }
      pf = std::move(*again);
      x.prefill = pf.prefill.url;
      x.group = pf.prefill.group;
      return true;
    };
    const ClientStream cs = client_stream(body);
    for (;;) {
      Picked d = table.pick(Role::kDecode, pf.prefill.group, tried_d);
      if (!d.ok && x.attempts < o.max_attempts) {
        // The group lost its decodes (drained or failed) after the prefill: start over in a
        // group that still has one; the prefilled KV expires unused.
        http::Response reply;
        if (!restart("", reply))
          return w ? error(reply.status, "retry failed: " + reply.body, "") : reply;
        continue;
      }
      if (!d.ok) {
        fail("");
        return error(503, "no healthy decode instance in group " + pf.prefill.group,
                     "service_unavailable");
      }
      tried_d.insert(d.ep.url);
      std::string dec = decode_body(body, pf.kv_params).dump();
      SseTokenClock tc(w ? std::optional<ClientStream>(cs) : std::nullopt);
      bool forwarded = false, client_gone = false;
      Result<http::ClientResponse> r =
          w ? http::request_stream(
                  d.ep.host, d.ep.port, "POST", path, dec,
                  [&](std::string_view c) {
                    std::string fwd = tc.feed(c);
                    forwarded = forwarded || !tc.chunks().empty() || !fwd.empty();
                    if (!fwd.empty() && !(*w)(fwd)) client_gone = true;
                    return !client_gone;
                  },
                  engine_call(o.upstream_timeout, x.rid))
            : engines.request(d.ep.host, d.ep.port, "POST", path, dec,
                              engine_call(o.upstream_timeout, x.rid));
      table.release(d.ep, r.ok(), !r.ok() && busy(r.error()));
      bool failed = !r.ok() || r->status >= 500;
      if (failed && !forwarded && x.attempts < o.max_attempts) {
        http::Response reply;
        if (!restart(d.ep.url, reply))
          return w ? error(reply.status, "retry failed: " + reply.body, "") : reply;
        continue;
      }
      x.decode = d.ep.url;
      if (!r.ok() && !w) {
        fail(d.ep.url);
        return error(502, "decode failed: " + r.error().to_string(), "bad_gateway");
      }
      if (w && !forwarded && r.ok() && r->status != 200)
        error(r->status, "decode answered " + std::to_string(r->status), "");
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
      if (w) return http::Response{};
      http::Response out;
      out.status = r->status;
      out.body = r->body;
      return out;
    }
  }

  std::string metrics_text() {
    prom::Writer w;
    std::vector<std::pair<prom::Labels, std::pair<int, int>>> rows;  // outstanding, up
    table.for_each([&](const Instance& in) {
      rows.push_back({{{std::string(rm::kLabelInstance), in.ep.url},
                       {std::string(rm::kLabelRole), std::string(to_string(in.ep.role))},
                       {std::string(rm::kLabelGroup), in.ep.group}},
                      {in.outstanding, in.healthy && in.listed && !in.ep.draining ? 1 : 0}});
    });
    w.family(rm::kInstanceOutstanding, prom::MetricType::kGauge,
             "Requests in flight per instance.");
    for (const auto& [l, v] : rows) w.sample(rm::kInstanceOutstanding, l, v.first);
    w.family(rm::kInstanceUp, prom::MetricType::kGauge,
             "1 when the instance gets new requests (healthy, listed, not draining).");
    for (const auto& [l, v] : rows) w.sample(rm::kInstanceUp, l, v.second);
    w.family(rm::kReady, prom::MetricType::kGauge,
             "1 when some group has a usable prefill and decode (or a usable both instance).");
    w.sample(rm::kReady, {}, table.ready() ? 1 : 0);
    std::lock_guard<std::mutex> lk(mu);
    w.family(rm::kRequests, prom::MetricType::kCounter, "Requests by outcome.");
    for (std::string_view k : rm::kOutcomes)
      w.sample(rm::kRequests, {{std::string(rm::kLabelOutcome), std::string(k)}},
               static_cast<double>(outcomes[std::string(k)]));
    w.family(rm::kRetries, prom::MetricType::kCounter,
             "Requests retried on another instance before their first token.");
    w.sample(rm::kRetries, {}, static_cast<double>(retries));
    auto hist = [&](std::string_view name, const char* help,
                    const std::map<std::string, prom::Histogram>& m) {
      w.family(name, prom::MetricType::kHistogram, help);
      for (const auto& [g, h] : m)
        w.histogram(name, {{std::string(rm::kLabelGroup), g}}, h.bounds, h.cumulative, h.sum,
                    h.count);
    };
    hist(rm::kTtft, "End-to-end time to first token per deployment group.", ttft);
    hist(rm::kTbt, "Time between tokens per deployment group (per token).", tbt);
    hist(rm::kE2e, "End-to-end latency of successful requests per deployment group.", e2e);
    offered.write(w);
    return w.text();
  }

  http::Response models_response() {
    auto names = table.models();
    if (names.empty())
      return http::error_response(503, "no model known yet: no instance has answered",
                                  "service_unavailable");
    json data = json::array();
    for (const auto& n : names)
      data.push_back({{"id", n}, {"object", "model"}, {"owned_by", "hs-router"}});
    return http::Response{
        200, "application/json", json{{"object", "list"}, {"data", data}}.dump(), {}, nullptr};
  }

  http::Response handle(const http::Request& req) {
    const std::string p = req.path();
    if (req.method == "POST" && (p == "/v1/completions" || p == "/v1/chat/completions"))
      return completions(req);
    if (req.method == "GET" && p == "/health")
      return http::Response{200, "application/json", "{}", {}, nullptr};
    if (req.method == "GET" && p == "/ready") {
      if (table.ready())
        return http::Response{200, "application/json", "{\"ready\":true}", {}, nullptr};
      return http::error_response(503, "no group has a healthy prefill and decode yet",
                                  "service_unavailable");
    }
    if (req.method == "GET" && p == "/metrics") {
      http::Response r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = metrics_text();
      return r;
    }
    if (req.method == "GET" && p == "/v1/models") return models_response();
    if (req.method == "GET" && p == "/hs/endpoints") {
      json out = json::array();
      table.for_each([&](const Instance& in) {
        out.push_back({{"url", in.ep.url},
                       {"role", std::string(to_string(in.ep.role))},
                       {"group", in.ep.group},
                       {"draining", in.ep.draining},
                       {"healthy", in.healthy},
                       {"listed", in.listed},
                       {"outstanding", in.outstanding},
                       {"sent", in.sent}});
      });
      return http::Response{200, "application/json", out.dump(), {}, nullptr};
    }
    if (req.method == "GET" && p == "/hs/records") {
      std::lock_guard<std::mutex> lk(mu);
      return http::Response{200, "application/json", json(records).dump(), {}, nullptr};
    }
    return http::error_response(404, "no route " + req.method + " " + p, "not_found");
  }
};

Router::Router(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Router>> Router::start(const RouterOptions& options) {
  if (options.endpoints_file.empty() == options.scaler_url.empty())
    return invalid_argument("exactly one of an endpoints file and a scaler URL is required",
                            "--endpoints/--scaler");
  if (options.max_attempts < 1) return invalid_argument("at least one attempt", "max_attempts");
  auto impl = std::make_unique<Impl>(options);
  if (!options.scaler_url.empty()) {
    if (auto u = http::parse_url(options.scaler_url); !u.ok()) return u.error();
    impl->reload(true);  // an unreachable daemon at start: start empty, keep polling
  } else {
    auto eps = load_endpoints(options.endpoints_file);
    if (!eps.ok()) return eps.error();
    impl->table.apply(*eps, Steady::now());
    std::error_code ec;
    impl->mtime = std::filesystem::last_write_time(options.endpoints_file, ec);
  }
  Impl* raw = impl.get();
  http::ServerOptions so;
  so.host = options.host;
  so.port = options.port;
  so.threads = options.threads;
  auto s = http::Server::start(so, [raw](const http::Request& r) { return raw->handle(r); });
  if (!s.ok()) return s.error();
  impl->server = std::move(*s);
  impl->follower = std::thread([raw] { raw->follow(); });
  impl->prober = std::thread([raw] { raw->probe(); });
  return std::make_unique<Router>(std::move(impl));
}

Router::~Router() { stop(); }
uint16_t Router::port() const { return impl_->server->port(); }

void Router::stop() {
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->follower.joinable()) impl_->follower.join();
  if (impl_->prober.joinable()) impl_->prober.join();
  impl_->server->stop();
}

size_t Router::drain(std::chrono::milliseconds bound) {
  impl_->log.info("draining: no new connections; requests in flight get up to " +
                  std::to_string(bound.count()) + " ms");
  // The follower and prober keep following endpoints and health meanwhile: a retry may still need
  // them.
  size_t cut = impl_->server->drain(bound);
  impl_->log.info("stopped: " + std::to_string(cut) + " requests in flight cut at the bound");
  stop();
  return cut;
}

}  // namespace hs::router
