#include "hs/router/router.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "hs/common/clock.h"
#include "hs/common/http.h"
#include "hs/common/http_async.h"
#include "hs/common/router_metrics.h"
#include "router_impl.h"

namespace hs::router {

namespace rm = router_metrics;

void Router::Impl::reload(bool force) {
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

void Router::Impl::fetch_models(const std::vector<Endpoint>& eps) {
  std::vector<http::Call> calls;
  for (const auto& ep : eps)
    calls.push_back(
        {ep.host, ep.port, "GET", "/v1/models", "", engine_call(std::chrono::milliseconds(2000))});
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

void Router::Impl::check_health(bool all_due) {
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
    if (table.record_health(due[i].url, ok, Steady::now(), why, slow)) new_models.push_back(due[i]);
  }
  if (!new_models.empty()) fetch_models(new_models);
}

void Router::Impl::follow() {
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

void Router::Impl::probe() {
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

std::string Router::Impl::metrics_text() {
  prom::Writer w;
  std::vector<std::pair<prom::Labels, std::pair<int, int>>> rows;  // outstanding, up
  table.for_each([&](const Instance& in) {
    rows.push_back({{{std::string(rm::kLabelInstance), in.ep.url},
                     {std::string(rm::kLabelRole), std::string(to_string(in.ep.role))},
                     {std::string(rm::kLabelGroup), in.ep.group}},
                    {in.outstanding, in.healthy && in.listed && !in.ep.draining ? 1 : 0}});
  });
  w.family(rm::kInstanceOutstanding, prom::MetricType::kGauge, "Requests in flight per instance.");
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

http::Response Router::Impl::models_response() {
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

http::Response Router::Impl::handle(const http::Request& req) {
  const std::string p = req.path();
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
  http::AsyncRoute completions{&Impl::is_completion,
                               [raw](http::Request r) { return raw->completions(std::move(r)); }};
  auto s = http::Server::start(
      so, [raw](const http::Request& r) { return raw->handle(r); }, std::move(completions));
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
