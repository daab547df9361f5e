// heteroscaled: one per cluster. Threads, so that a blocked slurmctld never stops the API:
//  - HTTP (Beast, thread per connection): registrations, endpoint set, status, metrics;
//  - the Slurm thread: every libslurm call (reads each tick, then the tick's action batch);
//  - the tick thread: scrapes, runs the Controller on the newest Slurm snapshot, publishes
//    the endpoint set and hands actions to the Slurm thread;
//  - main: signals (SIGHUP reload, SIGTERM/SIGINT stop).
// A tick decides only on a snapshot read after the previous batch finished, so an action is
// never issued twice from a stale view.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <future>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "hs/common/cli.h"
#include "hs/common/file.h"
#include "hs/common/http.h"
#include "hs/common/logger.h"
#include "hs/common/prometheus_text.h"
#include "hs/common/text.h"
#include "hs/scaler/controller.h"
#include "hs/scaler/engine_metrics.h"
#include "hs/scaler/slurm_api.h"
#include "hs/topo/topology_conf.h"

namespace po = boost::program_options;
using namespace hs;
using namespace hs::scaler;
using nlohmann::json;

namespace {

int64_t wall_now() { return static_cast<int64_t>(std::time(nullptr)); }

// systemd's readiness protocol without libsystemd: one datagram to $NOTIFY_SOCKET.
void sd_notify_state(const char* state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || (path[0] != '/' && path[0] != '@')) return;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t n = std::min(std::strlen(path), sizeof addr.sun_path - 1);
  std::memcpy(addr.sun_path, path, n);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  (void)sendto(fd, state, std::strlen(state), 0, reinterpret_cast<sockaddr*>(&addr),
               static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n));
  close(fd);
}

Result<topo::Fabric> load_fabric(const DaemonConfig& c) {
  if (c.daemon.topology_conf.empty()) return topo::Fabric();
  return topo::load_topology_conf(c.daemon.topology_conf);
}

Result<std::string> load_token(const std::string& path) {
  if (path.empty()) return std::string();
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return not_found("cannot stat token file", path);
  if (st.st_mode & 0077)
    return permission_denied("token file must not be readable by group or others (chmod 600)",
                             path);
  auto t = read_file(path, 4096);
  if (!t.ok()) return t.error();
  std::string tok(trim(*t));
  if (tok.size() < 16) return invalid_argument("token must be at least 16 characters", path);
  return tok;
}

// Per service, per instance: samples over the longest window any service uses.
struct MetricsStore {
  std::map<std::string, InstanceSeries> instances;                   // by instance id
  std::map<std::string, std::map<std::string, GroupSeries>> groups;  // service -> group
  std::map<std::string, ServiceMetrics> latest;                      // service -> last tick
};

struct Daemon {
  Logger log{"heteroscaled", LogLevel::kInfo, stderr_sink()};
  SteadyClock clock;
  std::mutex mu;  // guards everything below
  DaemonConfig config;
  std::string token;
  std::unique_ptr<Controller> controller;
  Registrations regs;
  std::string endpoints_all = "[]";
  std::vector<ServedEndpoint> served;
  std::set<std::string> published;
  // Slurm thread state.
  std::shared_ptr<const SlurmSnapshot> snapshot;
  std::string slurm_error;
  TimePoint slurm_error_since{};
  std::deque<std::vector<Action>> batches;
  uint64_t batch_done_seq = 0;  // snapshot seq read after the last finished batch
  bool batch_in_flight = false;
  std::condition_variable cv;
  std::atomic<bool> stop{false};
  std::string crash_at;
  // Metrics of the daemon itself.
  std::map<std::string, uint64_t> action_counts;  // "kind outcome"
  double last_action_seconds = 0;
  uint64_t ticks = 0;
  std::set<std::string> reported_problems;  // bad job tags already logged
  TimePoint last_hold_log{};
  double last_tick_cpu_s = 0;

  bool authorized(const http::Request& r) const {
    if (!token.empty()) {
      auto it = r.headers.find("authorization");
      return it != r.headers.end() && it->second == "Bearer " + token;
    }
    return starts_with(r.peer, "127.") || starts_with(r.peer, "[::1]") ||
           starts_with(r.peer, "::1");
  }

  void crash_point(const char* name) {
    if (crash_at == name) {
      log.warning(std::string("test crash point ") + name + ": SIGKILL");
      raise(SIGKILL);
    }
  }

  // Test crash points, one after each kind of Slurm action that took effect, and one between
  // the prefill and the decode submission of a new deployment group (HS_TEST_CRASH_AT).
  void crash_points_after(const Action& a) {
    switch (a.kind) {
      case Action::Kind::kThrottle:
        return crash_point("after-throttle");
      case Action::Kind::kMarkDrain:
        return crash_point("after-drain-mark");
      case Action::Kind::kClearDrain:
        return crash_point("after-undrain");
      case Action::Kind::kCancelTask:
        return crash_point("after-cancel");
      case Action::Kind::kCancelArray:
        return crash_point("after-cancel-array");
      case Action::Kind::kSubmit:
        if (a.opens_group && a.role == Role::kPrefill) crash_point("between-group-submits");
        return crash_point("after-submit");
    }
  }

  void slurm_thread(SlurmApi& api) {
    uint64_t seq = 0;
    while (!stop) {
      std::vector<Action> batch;
      {
        std::unique_lock lock(mu);
        if (!batches.empty()) {
          batch = std::move(batches.front());
          batches.pop_front();
        }
      }
      for (size_t ai = 0; ai < batch.size(); ++ai) {
        const Action& a = batch[ai];
        auto t0 = clock.now();
        Status st;
        switch (a.kind) {
          case Action::Kind::kThrottle:
            st = api.set_throttle(a.job_id, a.value);
            break;
          case Action::Kind::kMarkDrain:
          case Action::Kind::kClearDrain:
            st = api.set_comment(a.job_id, a.comment);
            break;
          case Action::Kind::kCancelTask:
            st = api.cancel_task(a.task);
            // Ended by itself between the read and the cancel: the goal is met.
            if (!st.ok() && st.error().code == ErrorCode::kNotFound) {
              log.info("action " + a.describe() + ": already gone (" + st.error().message + ")");
              st = {};
            }
            break;
          case Action::Kind::kCancelArray:
            st = api.cancel_array(a.job_id);
            break;
          case Action::Kind::kSubmit: {
            auto id = api.submit(a.submit);
            if (!id.ok())
              st = id.error();
            else
              log.info("submitted array " + std::to_string(*id) + " for " + a.describe());
            break;
          }
        }
        double secs = to_seconds(clock.now() - t0);
        {
          std::lock_guard lock(mu);
          action_counts[std::string(to_string(a.kind)) + (st.ok() ? " ok" : " error")] += 1;
          last_action_seconds = secs;
        }
        if (st.ok())
          log.info("action " + a.describe() + " done in " + std::to_string(secs) + " s");
        else
          log.error("action " + a.describe() + " failed: " + st.error().to_string());
        if (!st.ok()) {
          // Later actions depend on earlier ones (a throttle is lowered before its drain
          // mark): drop the rest; the next tick decides again from Slurm's real state.
          if (ai + 1 < batch.size())
            log.warning("dropping the batch's " + std::to_string(batch.size() - ai - 1) +
                        " remaining actions after a failure");
          break;
        }
        crash_points_after(a);
      }
      auto jobs = api.load_jobs();
      Result<std::vector<SlurmNode>> nodes =
          jobs.ok() ? api.load_nodes() : Result<std::vector<SlurmNode>>(jobs.error());
      {
        std::unique_lock lock(mu);
        if (jobs.ok() && nodes.ok()) {
          auto s = std::make_shared<SlurmSnapshot>();
          s->seq = ++seq;
          s->view = build_view(*jobs);
          s->nodes = std::move(*nodes);
          s->read_at = clock.now();
          s->read_at_unix_s = wall_now();
          // Each bad tag once, not once per read (a read every half tick).
          std::set<std::string> now_bad(s->view.problems.begin(), s->view.problems.end());
          for (const auto& p : now_bad)
            if (!reported_problems.count(p)) log.warning("slurm: " + p);
          reported_problems = std::move(now_bad);
          snapshot = s;
          if (!slurm_error.empty())
            log.info("slurmctld answers again after " +
                     std::to_string(to_seconds(clock.now() - slurm_error_since)) + " s");
          slurm_error.clear();
        } else {
          std::string e = (jobs.ok() ? nodes.error() : jobs.error()).to_string();
          if (slurm_error.empty()) {
            slurm_error_since = clock.now();
            log.error("cannot read Slurm state: " + e +
                      "; holding: no scale actions until it answers");
          }
          slurm_error = e;
        }
        if (!batch.empty()) {
          batch_done_seq = seq;
          batch_in_flight = false;
        }
        cv.wait_for(lock, config.daemon.tick / 2, [&] { return stop || !batches.empty(); });
      }
    }
  }

  // Scrapes every registered instance and the services' routers, in parallel, bounded.
  void scrape(const std::vector<Registration>& regs_now, const DaemonConfig& cfg,
              MetricsStore& store, TimePoint now) {
    struct Target {
      std::string service, url, id;
      bool router;
      const Registration* reg;
    };
    std::vector<Target> targets;
    for (const auto& r : regs_now) targets.push_back({r.service, r.url, r.id(), false, &r});
    for (const auto& [svc, urls] : cfg.daemon.routers)
      for (const auto& u : urls) targets.push_back({svc, u, "", true, nullptr});
    http::ClientOptions co;
    co.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.daemon.scrape_timeout);
    std::vector<std::future<Result<http::ClientResponse>>> fut;
    std::vector<Result<http::ClientResponse>> res;
    const size_t kParallel = 32;
    for (size_t i = 0; i < targets.size(); i += kParallel) {
      fut.clear();
      for (size_t j = i; j < std::min(targets.size(), i + kParallel); ++j)
        fut.push_back(std::async(std::launch::async, [&, j] {
          auto u = http::parse_url(targets[j].url);
          if (!u.ok()) return Result<http::ClientResponse>(u.error());
          return http::request(u->host, u->port, "GET", "/metrics", "", co);
        }));
      for (auto& f : fut) res.push_back(f.get());
    }
    std::map<std::string, ServiceMetrics> latest;
    Duration keep = std::chrono::seconds(0);
    for (const auto& s : cfg.services.services) keep = std::max(keep, s.scaling.window * 2);
    for (size_t i = 0; i < targets.size(); ++i) {
      const Target& t = targets[i];
      ServiceMetrics& sm = latest[t.service];
      if (!res[i].ok() || res[i]->status != 200) {
        log.debug("scrape " + t.url + " failed");
        continue;
      }
      auto parsed = prom::parse(res[i]->body, t.url + "/metrics");
      if (!parsed.ok()) {
        log.warning("scrape " + t.url + ": " + parsed.error().to_string());
        continue;
      }
      if (t.router) {
        sm.router_known = true;
        for (const auto& [u, n] : router_outstanding(*parsed)) sm.router_outstanding[u] += n;
        for (auto& [g, gs] : router_group_latency(*parsed, now)) {
          GroupSeries& ser = store.groups[t.service][g];
          ser.group = g;
          ser.samples.push_back(gs);
        }
        continue;
      }
      auto sample = instance_sample(*parsed, now);
      if (!sample.ok()) continue;
      InstanceSeries& ser = store.instances[t.id];
      ser.id = t.id;
      ser.role = t.reg->role;
      ser.group = t.reg->group;
      // Its decode target is its group's variant's: the Controller rates it from Slurm's view.
      ser.samples.push_back(*sample);
      double inflight = (std::isnan(sample->running) ? 0 : sample->running) +
                        (std::isnan(sample->waiting) ? 0 : sample->waiting);
      // A prefill whose KV has not been read by its decode yet is not idle: cancelling it now
      // would fail that decode's transfer.
      if (t.reg->role == Role::kPrefill && sample->kv_held) inflight += 1;
      sm.engine_in_flight[t.url] = inflight;
    }
    // Trim, then build each service's window from its registered instances and groups.
    std::set<std::string> live;
    for (const auto& r : regs_now) live.insert(r.id());
    for (auto it = store.instances.begin(); it != store.instances.end();) {
      auto& v = it->second.samples;
      while (!v.empty() && now - v.front().t > keep) v.erase(v.begin());
      it = live.count(it->first) && !v.empty() ? std::next(it) : store.instances.erase(it);
    }
    for (auto& [svc, gs] : store.groups)
      for (auto& [g, ser] : gs)
        while (!ser.samples.empty() && now - ser.samples.front().t > keep)
          ser.samples.erase(ser.samples.begin());
    for (const auto& r : regs_now)
      if (auto it = store.instances.find(r.id()); it != store.instances.end())
        latest[r.service].window.instances.push_back(it->second);
    for (const auto& [svc, gs] : store.groups)
      for (const auto& [g, ser] : gs) latest[svc].window.groups.push_back(ser);
    store.latest = std::move(latest);
  }

  void tick_thread() {
    MetricsStore store;
    while (!stop) {
      auto t_start = clock.now();
      std::clock_t cpu0 = std::clock();
      DaemonConfig cfg;
      {
        std::lock_guard lock(mu);
        cfg = config;
      }
      auto regs_now = regs.snapshot();
      TimePoint now = clock.now();
      scrape(regs_now, cfg, store, now);
      std::shared_ptr<const SlurmSnapshot> snap;
      {
        std::lock_guard lock(mu);
        snap = snapshot;
        bool fresh =
            snap && clock.now() - snap->read_at <= cfg.daemon.slurm_stale && slurm_error.empty();
        bool after_batch = snap && !batch_in_flight && snap->seq >= batch_done_seq;
        if (!fresh || !after_batch) snap.reset();
        if (!fresh && snapshot && !slurm_error.empty() &&
            clock.now() - last_hold_log >= std::chrono::seconds(10)) {
          last_hold_log = clock.now();
          log.warning(
              "holding: Slurm unreachable for " +
              std::to_string(static_cast<int>(to_seconds(clock.now() - slurm_error_since))) +
              " s (" + slurm_error + ")");
        }
        now = clock.now();
        auto actions = controller->tick(snap.get(), regs_now, store.latest, now, wall_now());
        for (const auto& [svc, st] : controller->status()) {
          if (st.decided)
            log.info(st.decision.to_log_line());
          else if (!st.hold_reason.empty())
            log.debug("service " + svc + ": " + st.hold_reason);
        }
        EndpointInputs in;
        in.registrations = &regs_now;
        in.view = snapshot ? &snapshot->view : nullptr;
        in.ratios = controller->ratios();
        in.draining_ids = controller->draining_ids();
        in.published = published;
        in.now = now;
        in.heartbeat_timeout = cfg.daemon.heartbeat_timeout;
        served = served_endpoints(in);
        published.clear();
        for (const auto& e : served) published.insert(e.url);
        if (!actions.empty()) {
          batches.push_back(std::move(actions));
          batch_in_flight = true;
          cv.notify_all();
        }
        ++ticks;
        last_tick_cpu_s = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
      }
      std::unique_lock lock(mu);
      cv.wait_until(lock, t_start + cfg.daemon.tick, [&] { return stop.load(); });
    }
  }

  std::string metrics_text() {
    prom::Writer w;
    std::lock_guard lock(mu);
    w.family("hs_scaler_up", prom::MetricType::kGauge, "1 while the daemon runs.");
    w.sample("hs_scaler_up", {}, 1);
    w.family("hs_scaler_slurm_up", prom::MetricType::kGauge,
             "1 when the last read of Slurm's state succeeded.");
    w.sample("hs_scaler_slurm_up", {}, slurm_error.empty() && snapshot ? 1 : 0);
    w.family("hs_scaler_paused", prom::MetricType::kGauge, "1 while scaling is paused.");
    w.sample("hs_scaler_paused", {}, controller->paused() ? 1 : 0);
    w.family("hs_scaler_ticks_total", prom::MetricType::kCounter, "Ticks run.");
    w.sample("hs_scaler_ticks_total", {}, static_cast<double>(ticks));
    w.family("hs_scaler_tick_cpu_seconds", prom::MetricType::kGauge, "CPU time of the last tick.");
    w.sample("hs_scaler_tick_cpu_seconds", {}, last_tick_cpu_s);
    w.family("hs_scaler_current_instances", prom::MetricType::kGauge,
             "Instances meant to serve (throttles) per service, group and role.");
    w.family("hs_scaler_ready_instances", prom::MetricType::kGauge,
             "Registered, running, serving instances per service, group and role.");
    for (const auto& [svc, st] : controller->status())
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
    for (const auto& [svc, st] : controller->status()) {
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
    for (const auto& [k, n] : action_counts) {
      auto sp = k.find(' ');
      w.sample("hs_scaler_actions_total",
               {{"kind", k.substr(0, sp)}, {"outcome", k.substr(sp + 1)}}, static_cast<double>(n));
    }
    w.family("hs_scaler_last_action_seconds", prom::MetricType::kGauge,
             "Latency of the last Slurm action.");
    w.sample("hs_scaler_last_action_seconds", {}, last_action_seconds);
    return w.text();
  }

  json status_json(const std::string& only) {
    std::lock_guard lock(mu);
    json j;
    j["paused"] = controller->paused();
    j["dry_run"] = config.daemon.dry_run;
    j["slurm"] = slurm_error.empty() ? (snapshot ? "ok" : "not read yet") : slurm_error;
    j["services"] = json::array();
    for (const auto& [svc, st] : controller->status()) {
      if (!only.empty() && svc != only) continue;
      json s;
      s["service"] = svc;
      s["hold_reason"] = st.hold_reason;
      s["actions"] = st.actions;
      json groups = json::object();
      for (const auto& [g, roles] : st.counts)
        for (const auto& [role, c] : roles)
          groups[g][role] = {{"current", c.first}, {"ready", c.second}};
      s["groups"] = groups;
      if (st.decided) {
        const Decision& d = st.decision;
        s["decision"] = {
            {"line", d.to_log_line()},
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
      j["services"].push_back(s);
    }
    return j;
  }

  http::Response handle(const http::Request& req) {
    const std::string path = req.path();
    std::string query = req.target.size() > path.size() ? req.target.substr(path.size() + 1) : "";
    auto param = [&](const std::string& k) -> std::string {
      for (auto kv : split(query, '&'))
        if (starts_with(kv, k + "=")) return std::string(kv.substr(k.size() + 1));
      return "";
    };
    auto now = clock.now();
    if (req.method == "GET") {
      if (path == "/healthz") return {200, "text/plain", "ok\n", {}, {}};
      if (path == "/metrics") return {200, "text/plain; version=0.0.4", metrics_text(), {}, {}};
      if (path == "/hs/endpoints") {
        std::lock_guard lock(mu);
        return {200, "application/json", endpoints_json(served, param("service")), {}, {}};
      }
      if (path == "/hs/status") return {200, "application/json", status_json("").dump(1), {}, {}};
      if (path == "/hs/explain") {
        std::string svc = param("service");
        auto j = status_json(svc);
        if (j["services"].empty())
          return http::error_response(404, "no service " + quote(svc), "not_found");
        return {200, "application/json", j["services"][0].dump(1), {}, {}};
      }
      return http::error_response(404, "no such endpoint: " + path, "not_found");
    }
    if (req.method != "POST") return http::error_response(405, "method not allowed");
    if (!authorized(req))
      return http::error_response(
          403,
          token.empty() ? "mutating requests only from loopback" : "missing or wrong bearer token",
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
    if (path == "/hs/register") {
      auto st = regs.upsert_json(req.body, now);
      if (st.ok()) log.info("registered " + req.body);
      return reply(st);
    }
    if (path == "/hs/heartbeat" || path == "/hs/deregister" || path == "/hs/draining") {
      auto u = url_of();
      if (!u.ok()) return reply(u.error());
      if (path == "/hs/heartbeat") return reply(regs.heartbeat(*u, now));
      log.info(path.substr(4) + " " + *u);
      return reply(path == "/hs/deregister" ? regs.remove(*u) : regs.self_draining(*u));
    }
    if (path == "/hs/pause" || path == "/hs/resume") {
      std::lock_guard lock(mu);
      controller->set_paused(path == "/hs/pause");
      log.info(std::string("scaling ") + (path == "/hs/pause" ? "paused" : "resumed") + " by " +
               req.peer);
      return reply({});
    }
    return http::error_response(404, "no such endpoint: " + path, "not_found");
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, log_level = "info";
  bool dry_run = false;
  po::options_description d("heteroscaled --config FILE [options]");
  d.add_options()("help,h", "this help")("config", po::value(&config_path)->value_name("FILE"),
                                         "service and daemon configuration (YAML)")(
      "dry-run", po::bool_switch(&dry_run), "decide and log, never change Slurm")(
      "check", "validate the configuration and exit")(
      "log-level", po::value(&log_level)->value_name("LEVEL"), "debug, info, warning, error");
  po::variables_map vm;
  if (int rc = cli::parse(po::command_line_parser(argc, argv), d, vm, "heteroscaled"); rc >= 0)
    return rc;
  if (config_path.empty()) {
    std::fprintf(stderr, "heteroscaled: --config FILE is required\n");
    return 2;
  }
  auto level = parse_log_level(log_level);
  if (!level.ok()) {
    std::fprintf(stderr, "heteroscaled: --log-level: %s\n", level.error().message.c_str());
    return 2;
  }
  auto cfg = load_daemon_config(config_path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "heteroscaled: configuration refused:\n%s\n",
                 cfg.error().to_string().c_str());
    return 2;
  }
  auto fabric = load_fabric(*cfg);
  if (!fabric.ok()) {
    std::fprintf(stderr, "heteroscaled: %s\n", fabric.error().to_string().c_str());
    return 2;
  }
  auto token = load_token(cfg->daemon.token_file);
  if (!token.ok()) {
    std::fprintf(stderr, "heteroscaled: %s\n", token.error().to_string().c_str());
    return 2;
  }
  if (vm.count("check")) {
    std::printf("%s: OK (%zu services)\n", config_path.c_str(), cfg->services.services.size());
    return 0;
  }
  if (dry_run) cfg->daemon.dry_run = true;

  Daemon dm;
  dm.log = Logger("heteroscaled", *level, stderr_sink());
  dm.config = *cfg;
  dm.token = *token;
  if (const char* c = std::getenv("HS_TEST_CRASH_AT")) dm.crash_at = c;  // tests only
  dm.controller = std::make_unique<Controller>(*cfg, std::move(*fabric), dm.clock.now());

  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&sigs, s);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  auto colon = cfg->daemon.listen.rfind(':');
  http::ServerOptions so;
  so.host = cfg->daemon.listen.substr(0, colon);
  so.port = static_cast<uint16_t>(std::stoi(cfg->daemon.listen.substr(colon + 1)));
  so.max_body_bytes = 1 << 20;
  auto server = http::Server::start(so, [&](const http::Request& r) { return dm.handle(r); });
  if (!server.ok()) {
    std::fprintf(stderr, "heteroscaled: %s\n", server.error().to_string().c_str());
    return 1;
  }
  auto api = make_libslurm_api(cfg->daemon.slurm_conf);
  dm.log.info("listening on " + so.host + ":" + std::to_string((*server)->port()) + "; " +
              std::to_string(cfg->services.services.size()) + " services" +
              (cfg->daemon.dry_run ? "; dry run" : ""));
  std::printf("%u\n", (*server)->port());
  std::fflush(stdout);
  std::thread slurm([&] { dm.slurm_thread(*api); });
  std::thread ticker([&] { dm.tick_thread(); });
  sd_notify_state("READY=1");
  for (;;) {
    int sig = 0;
    sigwait(&sigs, &sig);
    if (sig != SIGHUP) break;
    sd_notify_state("RELOADING=1");
    auto fresh = load_daemon_config(config_path);
    Result<topo::Fabric> fab =
        fresh.ok() ? load_fabric(*fresh) : Result<topo::Fabric>(fresh.error());
    if (!fresh.ok() || !fab.ok()) {
      sd_notify_state("READY=1");
      dm.log.error("SIGHUP: new configuration refused, the running one stays in force:\n" +
                   (fresh.ok() ? fab.error() : fresh.error()).to_string());
      continue;
    }
    if (dry_run) fresh->daemon.dry_run = true;
    std::lock_guard lock(dm.mu);
    dm.config = *fresh;
    dm.controller->reload(*fresh, std::move(*fab));
    sd_notify_state("READY=1");
    dm.log.info("SIGHUP: configuration reloaded (" +
                std::to_string(fresh->services.services.size()) + " services)");
  }
  sd_notify_state("STOPPING=1");
  dm.log.info("stopping");
  dm.stop = true;
  dm.cv.notify_all();
  ticker.join();
  slurm.join();
  (*server)->stop();
  return 0;
}
