#include "hs/router/router.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "hs/common/clock.h"
#include "hs/common/http.h"
#include "hs/common/logger.h"
#include "hs/common/prometheus_text.h"
#include "hs/router/sse.h"

namespace hs::router {

using json = nlohmann::json;
using Steady = std::chrono::steady_clock;

namespace {

struct Instance {
  Endpoint ep;
  int outstanding = 0;
  uint64_t sent = 0;
  bool healthy = true;
  bool listed = true;  // false: removed from the file, kept until its requests finish
};

struct Picked {
  Endpoint ep;
  bool ok = false;
};

}  // namespace

struct Router::Impl {
  RouterOptions o;
  Logger log{"router", LogLevel::kInfo, stderr_sink()};
  std::unique_ptr<http::Server> server;
  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::map<std::string, Instance> instances;  // by url
  std::filesystem::file_time_type mtime{};
  std::thread watcher;
  std::atomic<uint64_t> next_id{1};
  Steady::time_point started = Steady::now();
  // metrics, under mu
  std::map<std::string, uint64_t> outcomes;  // "ok", "client_error", "failed", "no_capacity"
  uint64_t retries = 0;
  std::map<std::string, prom::Histogram> ttft, tbt, e2e;  // per deployment group
  std::deque<json> records;

  void apply(const std::vector<Endpoint>& eps) {
    std::lock_guard<std::mutex> lk(mu);
    for (auto& [url, in] : instances) in.listed = false;
    for (const auto& ep : eps) {
      auto [it, fresh] = instances.try_emplace(ep.url);
      it->second.ep = ep;
      it->second.listed = true;
      if (fresh)
        log.info("endpoint added: " + ep.url + " (" + std::string(to_string(ep.role)) + ", group " +
                 ep.group + ")");
    }
    for (auto it = instances.begin(); it != instances.end();) {
      if (!it->second.listed && it->second.outstanding == 0) {
        log.info("endpoint removed: " + it->first);
        it = instances.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::string last_scaler_body;
  bool scaler_failing = false;

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
      apply(*eps);
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
    apply(*eps);
  }

  void check_health() {
    std::vector<Endpoint> eps;
    {
      std::lock_guard<std::mutex> lk(mu);
      for (const auto& [url, in] : instances) eps.push_back(in.ep);
    }
    http::ClientOptions co;
    co.timeout = std::chrono::milliseconds(std::max<int64_t>(200, o.health_interval.count() / 2));
    for (const auto& ep : eps) {
      auto r = http::request(ep.host, ep.port, "GET", "/health", "", co);
      bool ok = r.ok() && r->status == 200;
      std::lock_guard<std::mutex> lk(mu);
      auto it = instances.find(ep.url);
      if (it == instances.end()) continue;
      if (it->second.healthy != ok)
        log.warning(ep.url + (ok ? " is healthy again" : " failed its health check"));
      it->second.healthy = ok;
    }
  }

  void watch() {
    auto next_health = Steady::now();
    std::unique_lock<std::mutex> lk(mu);
    while (!stopping) {
      lk.unlock();
      reload(false);
      if (Steady::now() >= next_health) {
        check_health();
        next_health = Steady::now() + o.health_interval;
      }
      lk.lock();
      cv.wait_for(
          lk,
          std::min<std::chrono::milliseconds>(o.health_interval, std::chrono::milliseconds(250)),
          [&] { return stopping; });
    }
  }

  // The least-loaded eligible instance; counts the request against it.
  Picked pick(Role role, const std::string& group, const std::set<std::string>& exclude) {
    std::lock_guard<std::mutex> lk(mu);
    auto usable = [](const Instance& in) { return in.listed && in.healthy && !in.ep.draining; };
    // A prefill is only useful in a group that has a decode to hand its KV to.
    std::set<std::string> decoding_groups;
    if (role == Role::kPrefill)
      for (const auto& [url, in] : instances)
        if (usable(in) && in.ep.role != Role::kPrefill) decoding_groups.insert(in.ep.group);
    Instance* best = nullptr;
    for (auto& [url, in] : instances) {
      if (!usable(in) || exclude.count(url)) continue;
      if (in.ep.role != role && in.ep.role != Role::kBoth) continue;
      if (!group.empty() && in.ep.group != group) continue;
      if (role == Role::kPrefill && !decoding_groups.count(in.ep.group)) continue;
      if (!best || in.outstanding < best->outstanding ||
          (in.outstanding == best->outstanding && in.sent < best->sent))
        best = &in;
    }
    if (!best) return {};
    ++best->outstanding;
    ++best->sent;
    return {best->ep, true};
  }

  // `reachable` false marks the instance unhealthy until its next passing health check.
  void release(const Endpoint& ep, bool reachable) {
    std::lock_guard<std::mutex> lk(mu);
    auto it = instances.find(ep.url);
    if (it == instances.end()) return;
    --it->second.outstanding;
    if (!reachable && it->second.healthy) {
      it->second.healthy = false;
      log.warning(ep.url + " is unreachable; no requests until it passes a health check");
    }
    if (!it->second.listed && it->second.outstanding == 0) instances.erase(it);
  }

  http::ClientOptions upstream(const std::string& rid) const {
    http::ClientOptions co;
    co.timeout = o.upstream_timeout;
    co.headers = {{"x-request-id", rid}, {"content-type", "application/json"}};
    return co;
  }

  struct Prefilled {
    Endpoint prefill;
    json kv_params;
  };
  // Runs the prefill half on an instance not in `tried`. On a client error (4xx) `reply` holds
  // the engine's answer to pass back; on no capacity or a failure, an error response.
  std::optional<Prefilled> prefill(const json& body, const std::string& path,
                                   const std::string& rid, std::set<std::string>& tried,
                                   int& attempts, http::Response& reply) {
    while (attempts < 2) {
      Picked p = pick(Role::kPrefill, "", tried);
      if (!p.ok) {
        reply = http::error_response(503,
                                     "no healthy prefill instance in a group with a healthy decode",
                                     "service_unavailable");
        return std::nullopt;
      }
      ++attempts;
      tried.insert(p.ep.url);
      json pre = body;
      pre["max_tokens"] = 1;
      pre.erase("max_completion_tokens");
      pre["stream"] = false;
      pre.erase("stream_options");
      pre["kv_transfer_params"] = {{"do_remote_decode", true},    {"do_remote_prefill", false},
                                   {"remote_engine_id", nullptr}, {"remote_block_ids", nullptr},
                                   {"remote_host", nullptr},      {"remote_port", nullptr}};
      auto r = http::request(p.ep.host, p.ep.port, "POST", path, pre.dump(), upstream(rid));
      release(p.ep, r.ok());
      if (!r.ok() || r->status >= 500) {
        log.warning("prefill on " + p.ep.url + " failed (" +
                    (r.ok() ? std::to_string(r->status) : r.error().to_string()) + ")" +
                    (attempts < 2 ? "; retrying elsewhere" : ""));
        if (attempts < 2) note_retry();
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
      return Prefilled{p.ep, j["kv_transfer_params"]};
    }
    reply = http::error_response(502, "prefill failed on two instances", "bad_gateway");
    return std::nullopt;
  }

  void note_retry() {
    std::lock_guard<std::mutex> lk(mu);
    ++retries;
  }

  void finish(const std::string& rid, const std::string& group, const std::string& outcome,
              const std::string& pre, const std::string& dec, Steady::time_point start,
              const std::vector<Steady::time_point>& tokens, int attempts) {
    std::lock_guard<std::mutex> lk(mu);
    ++outcomes[outcome];
    json rec = {{"request_id", rid}, {"group", group},     {"prefill", pre},
                {"decode", dec},     {"outcome", outcome}, {"attempts", attempts}};
    rec["start_s"] = to_seconds(start - started);  // since the router started
    double end = to_seconds(Steady::now() - start);
    rec["e2e_s"] = end;
    if (!tokens.empty()) {
      double t = to_seconds(tokens.front() - start);
      rec["ttft_s"] = t;
      ttft.try_emplace(group, prom::vllm_ttft_buckets()).first->second.observe(t);
      auto& h = tbt.try_emplace(group, prom::vllm_tpot_buckets()).first->second;
      for (size_t i = 1; i < tokens.size(); ++i) h.observe(to_seconds(tokens[i] - tokens[i - 1]));
    }
    rec["token_events"] = tokens.size();
    if (outcome == "ok")
      e2e.try_emplace(group, prom::vllm_e2e_buckets()).first->second.observe(end);
    records.push_back(std::move(rec));
    if (records.size() > 100000) records.pop_front();
  }

  http::Response completions(const http::Request& req) {
    Steady::time_point start = Steady::now();
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
      return http::error_response(400, "request body is not a JSON object");
    auto h = req.headers.find("x-request-id");
    std::string rid = h != req.headers.end() && !h->second.empty()
                          ? h->second
                          : "rt-" + std::to_string(next_id++);
    const std::string path = req.path();
    bool stream = body.value("stream", false);
    std::set<std::string> tried_p;
    int attempts = 0;
    http::Response reply;
    auto pf = prefill(body, path, rid, tried_p, attempts, reply);
    if (!pf) {
      finish(rid, "", reply.status < 500 ? "client_error" : "failed", "", "", start, {}, attempts);
      return reply;
    }
    if (!stream) return decode(body, path, rid, start, std::move(*pf), tried_p, attempts, nullptr);
    http::Response out;
    out.content_type = "text/event-stream";
    out.stream = [this, body, path, rid, start, p = *pf, tried_p,
                  attempts](const http::StreamWriter& w) mutable {
      (void)decode(body, path, rid, start, std::move(p), tried_p, attempts, &w);
    };
    return out;
  }

  // The decode half of a request, for both modes: a decode instance of the prefill's group;
  // before the first token, a failure (or a group without a usable decode) starts over once
  // from the prefill in another group. With `w` the decode's events are streamed to the
  // client and errors become an SSE error event; without it the reply is returned.
  http::Response decode(const json& body, const std::string& path, const std::string& rid,
                        Steady::time_point start, Prefilled pf, std::set<std::string> tried_p,
                        int attempts, const http::StreamWriter* w) {
    std::set<std::string> tried_d;
    auto error = [&](int code, const std::string& message, std::string_view type) {
      if (!w) return http::error_response(code, message, type);
      (*w)("data: " + json{{"error", {{"message", message}, {"code", code}}}}.dump() + "\n\n");
      return http::Response{};
    };
    // Starts over from the prefill; false (with the reply) when that fails too.
    auto restart = [&](const std::string& d_url, http::Response& reply) {
      note_retry();
      auto again = prefill(body, path, rid, tried_p, attempts, reply);
      if (!again) {
        finish(rid, pf.prefill.group, "failed", pf.prefill.url, d_url, start, {}, attempts);
        return false;
      }
      pf = std::move(*again);
      return true;
    };
    for (;;) {
      Picked d = pick(Role::kDecode, pf.prefill.group, tried_d);
      if (!d.ok && attempts < 2) {
        // The group lost its decodes (drained or failed) after the prefill: start over in a
        // group that still has one; the prefilled KV expires unused.
        http::Response reply;
        if (!restart("", reply))
          return w ? error(reply.status, "retry failed: " + reply.body, "") : reply;
        continue;
      }
      if (!d.ok) {
        finish(rid, pf.prefill.group, "failed", pf.prefill.url, "", start, {}, attempts);
        return error(503, "no healthy decode instance in group " + pf.prefill.group,
                     "service_unavailable");
      }
      tried_d.insert(d.ep.url);
      json dec = body;
      dec["kv_transfer_params"] = pf.kv_params;
      SseTokenClock tc;
      bool forwarded = false, client_gone = false;
      Result<http::ClientResponse> r =
          w ? http::request_stream(
                  d.ep.host, d.ep.port, "POST", path, dec.dump(),
                  [&](std::string_view c) {
                    tc.feed(c);
                    forwarded = true;
                    if (!(*w)(c)) client_gone = true;
                    return !client_gone;
                  },
                  upstream(rid))
            : http::request(d.ep.host, d.ep.port, "POST", path, dec.dump(), upstream(rid));
      release(d.ep, r.ok());
      bool failed = !r.ok() || r->status >= 500;
      if (failed && !forwarded && attempts < 2) {
        http::Response reply;
        if (!restart(d.ep.url, reply))
          return w ? error(reply.status, "retry failed: " + reply.body, "") : reply;
        continue;
      }
      if (!r.ok() && !w) {
        finish(rid, pf.prefill.group, "failed", pf.prefill.url, d.ep.url, start, {}, attempts);
        return error(502, "decode failed: " + r.error().to_string(), "bad_gateway");
      }
      if (w && !forwarded && r.ok() && r->status != 200)
        error(r->status, "decode answered " + std::to_string(r->status), "");
      std::string outcome = client_gone ? "client_gone"
                            : failed    ? "failed"
                            : !r.ok() || r->status != 200
                                ? (r.ok() && r->status < 500 && !w ? "client_error" : "failed")
                                : "ok";
      finish(rid, pf.prefill.group, outcome, pf.prefill.url, d.ep.url, start, tc.token_times(),
             attempts);
      if (w) return http::Response{};
      http::Response out;
      out.status = r->status;
      out.body = r->body;
      return out;
    }
  }

  std::string metrics_text() {
    std::lock_guard<std::mutex> lk(mu);
    prom::Writer w;
    w.family("hs_router_requests_total", prom::MetricType::kCounter, "Requests by outcome.");
    for (const char* k : {"ok", "client_error", "failed", "client_gone"})
      w.sample("hs_router_requests_total", {{"outcome", k}}, static_cast<double>(outcomes[k]));
    w.family("hs_router_retries_total", prom::MetricType::kCounter,
             "Requests retried on another instance before their first token.");
    w.sample("hs_router_retries_total", {}, static_cast<double>(retries));
    w.family("hs_router_instance_outstanding", prom::MetricType::kGauge,
             "Requests in flight per instance.");
    for (const auto& [url, in] : instances)
      w.sample(
          "hs_router_instance_outstanding",
          {{"instance", url}, {"role", std::string(to_string(in.ep.role))}, {"group", in.ep.group}},
          in.outstanding);
    w.family("hs_router_instance_up", prom::MetricType::kGauge,
             "1 when the instance gets new requests (healthy, listed, not draining).");
    for (const auto& [url, in] : instances)
      w.sample(
          "hs_router_instance_up",
          {{"instance", url}, {"role", std::string(to_string(in.ep.role))}, {"group", in.ep.group}},
          in.healthy && in.listed && !in.ep.draining ? 1 : 0);
    auto hist = [&](const char* name, const char* help,
                    const std::map<std::string, prom::Histogram>& m) {
      w.family(name, prom::MetricType::kHistogram, help);
      for (const auto& [g, h] : m)
        w.histogram(name, {{"group", g}}, h.bounds, h.cumulative, h.sum, h.count);
    };
    hist("hs_router_ttft_seconds", "End-to-end time to first token per deployment group.", ttft);
    hist("hs_router_tbt_seconds", "Time between tokens per deployment group.", tbt);
    hist("hs_router_e2e_seconds", "End-to-end latency of successful requests per deployment group.",
         e2e);
    return w.text();
  }

  http::Response handle(const http::Request& req) {
    const std::string p = req.path();
    if (req.method == "POST" && (p == "/v1/completions" || p == "/v1/chat/completions"))
      return completions(req);
    if (req.method == "GET" && p == "/health")
      return http::Response{200, "application/json", "{}", {}, nullptr};
    if (req.method == "GET" && p == "/metrics") {
      http::Response r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = metrics_text();
      return r;
    }
    if (req.method == "GET" && p == "/v1/models") {
      Picked any = pick(Role::kDecode, "", {});
      if (!any.ok)
        return http::error_response(503, "no healthy decode instance", "service_unavailable");
      auto r = http::request(any.ep.host, any.ep.port, "GET", "/v1/models");
      release(any.ep, r.ok());
      if (!r.ok()) return http::error_response(502, r.error().to_string(), "bad_gateway");
      return http::Response{r->status, "application/json", r->body, {}, nullptr};
    }
    if (req.method == "GET" && p == "/hs/endpoints") {
      std::lock_guard<std::mutex> lk(mu);
      json out = json::array();
      for (const auto& [url, in] : instances)
        out.push_back({{"url", url},
                       {"role", std::string(to_string(in.ep.role))},
                       {"group", in.ep.group},
                       {"draining", in.ep.draining},
                       {"healthy", in.healthy},
                       {"listed", in.listed},
                       {"outstanding", in.outstanding},
                       {"sent", in.sent}});
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
  auto impl = std::make_unique<Impl>();
  impl->o = options;
  if (!options.scaler_url.empty()) {
    if (auto u = http::parse_url(options.scaler_url); !u.ok()) return u.error();
    impl->reload(true);  // an unreachable daemon at start: start empty, keep polling
  } else {
    auto eps = load_endpoints(options.endpoints_file);
    if (!eps.ok()) return eps.error();
    impl->apply(*eps);
    std::error_code ec;
    impl->mtime = std::filesystem::last_write_time(options.endpoints_file, ec);
  }
  Impl* raw = impl.get();
  http::ServerOptions so;
  so.host = options.host;
  so.port = options.port;
  auto s = http::Server::start(so, [raw](const http::Request& r) { return raw->handle(r); });
  if (!s.ok()) return s.error();
  impl->server = std::move(*s);
  impl->watcher = std::thread([raw] { raw->watch(); });
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
  if (impl_->watcher.joinable()) impl_->watcher.join();
  impl_->server->stop();
}

}  // namespace hs::router
