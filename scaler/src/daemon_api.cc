#include "hs/scaler/daemon_api.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string_view>

#include "hs/common/prometheus_text.h"
#include "hs/common/text.h"

namespace hs::scaler {

using json = nlohmann::json;

std::string metrics_text(const DaemonView& v) {
  prom::Writer w;
  w.family("hs_scaler_up", prom::MetricType::kGauge, "1 while the daemon runs.");
  w.sample("hs_scaler_up", {}, 1);
  w.family("hs_scaler_slurm_up", prom::MetricType::kGauge,
           "1 when the last read of Slurm's state succeeded.");
  w.sample("hs_scaler_slurm_up", {}, v.slurm_up() ? 1 : 0);
  w.family("hs_scaler_paused", prom::MetricType::kGauge, "1 while scaling is paused.");
  w.sample("hs_scaler_paused", {}, v.paused ? 1 : 0);
  w.family("hs_scaler_ticks_total", prom::MetricType::kCounter, "Ticks run.");
  w.sample("hs_scaler_ticks_total", {}, static_cast<double>(v.ticks));
  w.family("hs_scaler_tick_cpu_seconds", prom::MetricType::kGauge, "CPU time of the last tick.");
  w.sample("hs_scaler_tick_cpu_seconds", {}, v.last_tick_cpu_s);
  w.family("hs_scaler_current_instances", prom::MetricType::kGauge,
           "Instances meant to serve (throttles) per service, group and role.");
  w.family("hs_scaler_ready_instances", prom::MetricType::kGauge,
           "Registered, running, serving instances per service, group and role.");
  for (const auto& [svc, st] : v.status)
    for (const auto& [g, roles] : st.counts)
      for (const auto& [role, c] : roles) {
        w.sample("hs_scaler_current_instances", {{"service", svc}, {"group", g}, {"role", role}},
                 c.first);
        w.sample("hs_scaler_ready_instances", {{"service", svc}, {"group", g}, {"role", role}},
                 c.second);
      }
  w.family("hs_scaler_desired_instances", prom::MetricType::kGauge,
           "The last decision's instances per service and role.");
  w.family("hs_scaler_decode_tokens_per_second", prom::MetricType::kGauge,
           "The decode throughput signal of the last decision.");
  w.family("hs_scaler_decision_info", prom::MetricType::kGauge,
           "The last decision: direction and deciding stage.");
  for (const auto& [svc, st] : v.status) {
    if (!st.decided) continue;
    w.sample("hs_scaler_desired_instances", {{"service", svc}, {"role", "prefill"}},
             st.decision.desired_prefill);
    w.sample("hs_scaler_desired_instances", {{"service", svc}, {"role", "decode"}},
             st.decision.desired_decode);
    w.sample("hs_scaler_decode_tokens_per_second", {{"service", svc}}, st.decision.decode_tps);
    w.sample("hs_scaler_decision_info",
             {{"service", svc},
              {"direction", std::string(to_string(st.decision.direction))},
              {"stage", st.decision.deciding_stage().stage}},
             1);
  }
  w.family("hs_scaler_actions_total", prom::MetricType::kCounter,
           "Slurm actions by kind and outcome.");
  for (const auto& [k, n] : v.action_counts) {
    auto sp = k.find(' ');
    w.sample("hs_scaler_actions_total", {{"kind", k.substr(0, sp)}, {"outcome", k.substr(sp + 1)}},
             static_cast<double>(n));
  }
  w.family("hs_scaler_last_action_seconds", prom::MetricType::kGauge,
           "Latency of the last Slurm action.");
  w.sample("hs_scaler_last_action_seconds", {}, v.last_action_seconds);
  w.family("hs_scaler_slurm_calls_total", prom::MetricType::kCounter,
           "libslurm calls (and sbatch runs) by call and outcome.");
  for (const auto& [call, st] : v.slurm_calls.by_call) {
    w.sample("hs_scaler_slurm_calls_total", {{"call", call}, {"outcome", "ok"}},
             static_cast<double>(st.calls - st.errors));
    w.sample("hs_scaler_slurm_calls_total", {{"call", call}, {"outcome", "error"}},
             static_cast<double>(st.errors));
  }
  w.family("hs_scaler_slurm_call_seconds_total", prom::MetricType::kCounter,
           "Time the Slurm thread spent inside libslurm (and sbatch), by call; libslurm's own "
           "retries on a rate-limited or unreachable slurmctld are inside it.");
  for (const auto& [call, st] : v.slurm_calls.by_call)
    w.sample("hs_scaler_slurm_call_seconds_total", {{"call", call}}, st.seconds);
  w.family("hs_scaler_slurm_unavailable_total", prom::MetricType::kCounter,
           "Calls that failed because slurmctld was unreachable or rate limited the daemon.");
  for (const auto& [call, st] : v.slurm_calls.by_call)
    w.sample("hs_scaler_slurm_unavailable_total", {{"call", call}},
             static_cast<double>(st.unavailable));
  w.family("hs_scaler_slurm_write_wait_seconds_total", prom::MetricType::kCounter,
           "Time writes waited for the daemon's own pacing (daemon.slurm_writes_per_s).");
  w.sample("hs_scaler_slurm_write_wait_seconds_total", {}, v.slurm_calls.write_wait_seconds);
  return w.text();
}

namespace {

json service_json(const std::string& svc, const ServiceStatus& st) {
  json s;
  s["service"] = svc;
  s["hold_reason"] = st.hold_reason;
  s["actions"] = st.actions;
  s["outside_changes"] = st.outside_changes;
  json groups = json::object();
  for (const auto& [g, roles] : st.counts)
    for (const auto& [role, c] : roles)
      groups[g][role] = {{"current", c.first}, {"ready", c.second}};
  s["groups"] = groups;
  if (st.decided) {
    const Decision& d = st.decision;
    s["decision"] = {{"line", d.to_log_line()},
                     {"direction", std::string(to_string(d.direction))},
                     {"current", {{"prefill", d.current_prefill}, {"decode", d.current_decode}}},
                     {"desired", {{"prefill", d.desired_prefill}, {"decode", d.desired_decode}}}};
    json stages = json::array();
    for (const auto& sr : d.stages)
      stages.push_back({{"stage", sr.stage},
                        {"prefill", sr.prefill},
                        {"decode", sr.decode},
                        {"reason", sr.reason}});
    s["decision"]["stages"] = stages;
  }
  return s;
}

}  // namespace

std::string status_json(const DaemonView& v, const std::string& only, bool* found) {
  if (!only.empty()) {
    auto it = v.status.find(only);
    if (found) *found = it != v.status.end();
    return it == v.status.end() ? std::string() : service_json(only, it->second).dump(1);
  }
  json j;
  j["paused"] = v.paused;
  j["dry_run"] = v.dry_run;
  j["slurm"] = v.slurm;
  j["services"] = json::array();
  for (const auto& [svc, st] : v.status) j["services"].push_back(service_json(svc, st));
  if (found) *found = true;
  return j.dump(1);
}

DaemonApi::DaemonApi(Registrations& regs, const Clock& clock, Logger log, std::string token)
    : regs_(regs), clock_(clock), log_(std::move(log)), token_(std::move(token)) {}

void DaemonApi::publish(std::shared_ptr<const DaemonView> v) {
  std::lock_guard lock(mu_);
  view_ = std::move(v);
}

std::shared_ptr<const DaemonView> DaemonApi::view() const {
  std::lock_guard lock(mu_);
  return view_;
}

namespace {

// Equal strings, in a time that depends on their lengths only, not on where they first differ:
// a token compared byte by byte with an early exit leaks its prefix to a patient client.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i)
    diff |= static_cast<unsigned char>(i < a.size() ? a[i] : 0) ^
            static_cast<unsigned char>(i < b.size() ? b[i] : 0);
  return diff == 0;
}

}  // namespace

bool DaemonApi::authorized(const http::Request& r) const {
  if (!token_.empty()) {
    auto it = r.headers.find("authorization");
    return it != r.headers.end() && same_secret(it->second, "Bearer " + token_);
  }
  return starts_with(r.peer, "127.") || starts_with(r.peer, "[::1]") || starts_with(r.peer, "::1");
}

http::Response DaemonApi::handle(const http::Request& req) {
  const std::string path = req.path();
  std::string query = req.target.size() > path.size() ? req.target.substr(path.size() + 1) : "";
  auto param = [&](const std::string& k) -> std::string {
    for (auto kv : split(query, '&'))
      if (starts_with(kv, k + "=")) return std::string(kv.substr(k.size() + 1));
    return "";
  };
  if (req.method == "GET") {
    if (path == "/healthz") return {200, "text/plain", "ok\n", {}, {}};
    auto v = view();
    // A pause takes effect at the next tick; what is shown says so at once.
    if (v->paused != paused_.load()) {
      auto copy = std::make_shared<DaemonView>(*v);
      copy->paused = paused_.load();
      v = std::move(copy);
    }
    if (path == "/metrics") return {200, "text/plain; version=0.0.4", metrics_text(*v), {}, {}};
    if (path == "/hs/endpoints")
      return {200, "application/json", endpoints_json(v->served, param("service")), {}, {}};
    if (path == "/hs/status") return {200, "application/json", status_json(*v, ""), {}, {}};
    if (path == "/hs/explain") {
      std::string svc = param("service");
      bool found = false;
      std::string body = status_json(*v, svc, &found);
      if (svc.empty() || !found)
        return http::error_response(404, "no service " + quote(svc), "not_found");
      return {200, "application/json", body, {}, {}};
    }
    return http::error_response(404, "no such endpoint: " + path, "not_found");
  }
  if (req.method != "POST") return http::error_response(405, "method not allowed");
  if (!authorized(req))
    return http::error_response(
        403,
        token_.empty() ? "mutating requests only from loopback" : "missing or wrong bearer token",
        "permission_denied");
  auto url_of = [&]() -> Result<std::string> {
    try {
      auto j = json::parse(req.body);
      if (j.is_object() && j.contains("url") && j["url"].is_string())
        return j["url"].get<std::string>();
    } catch (const json::exception&) {
    }
    return invalid_argument("expected {\"url\": \"http://host:port\"}", "body");
  };
  auto reply = [](const Status& st) {
    if (st.ok()) return http::Response{200, "application/json", "{\"ok\":true}\n", {}, {}};
    int code = st.error().code == ErrorCode::kNotFound ? 404 : 400;
    return http::error_response(code, st.error().to_string());
  };
  TimePoint now = clock_.now();
  if (path == "/hs/register") {
    auto st = regs_.upsert_json(req.body, now);
    if (st.ok()) log_.info("registered " + req.body);
    return reply(st);
  }
  if (path == "/hs/heartbeat" || path == "/hs/deregister" || path == "/hs/draining") {
    auto u = url_of();
    if (!u.ok()) return reply(u.error());
    if (path == "/hs/heartbeat") return reply(regs_.heartbeat(*u, now));
    log_.info(path.substr(4) + " " + *u);
    return reply(path == "/hs/deregister" ? regs_.remove(*u) : regs_.self_draining(*u));
  }
  if (path == "/hs/pause" || path == "/hs/resume") {
    paused_ = path == "/hs/pause";
    log_.info(std::string("scaling ") + (paused_ ? "paused" : "resumed") + " by " + req.peer);
    return reply({});
  }
  return http::error_response(404, "no such endpoint: " + path, "not_found");
}

}  // namespace hs::scaler
