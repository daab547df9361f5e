// The daemon in the simulation: heteroscaled's Controller decides every tick from what a
// SimSlurm shows and what the engines report, its ActionExecutor carries the actions out on
// that SimSlurm, and the endpoint set the router follows is the daemon's own
// served_endpoints(). Nothing here maps a decision to instances: every policy and baseline
// is evaluated through the code the daemon runs (reconcile, lockstep and rollback, drains,
// continuations, placement, actuation). The virtual clock is Unix time wall0_ + simulated
// seconds; Slurm's own changes between ticks (a queue wait over) come as kSlurm events.
#include <cmath>
#include <cstdint>

#include "hs/scaler/placement.h"
#include "hs/scaler/pools.h"
#include "sim.h"

namespace hs::sim {

using scaler::Role;

namespace {

TimePoint vt(double s) { return TimePoint{} + from_seconds(s); }

// Indices per array the daemon submits (its template's array_size, the shipped default):
// a long run exhausts arrays and continues them, as a real fleet does.
constexpr uint32_t kArraySize = 64;

// Switch names containing each node, at every level: the node features a site's
// topology-aware constraint names (the daemon constrains a group to its switch).
std::map<std::string, std::vector<std::string>> switch_features(const topo::Fabric& fabric) {
  std::map<std::string, std::vector<std::string>> out;
  for (int level = 0; level < 16; ++level) {
    auto doms = fabric.domains(level);
    if (doms.empty()) break;
    for (const auto& d : doms)
      for (const auto& n : d.nodes) out[n].push_back(d.switch_name);
  }
  return out;
}

}  // namespace

// The warm start: the initial units placed and submitted as the daemon submits a new group
// (one tagged array pair per group from the template, constrained to its switch), running by
// the first moment.
Status Sim::start_daemon(uint32_t units) {
  wall0_ = o_.wall_start_utc;
  auto features = switch_features(cl_.fabric);
  std::vector<scaler::SimNode> nodes;
  for (const auto& n : cl_.nodes) {
    scaler::SimNode s{n.name, n.gpu_type, n.free_gpus, features[n.name]};
    s.features.push_back(n.gpu_type);
    nodes.push_back(std::move(s));
  }
  scaler::SimSlurmOptions so;
  so.queue_wait_s = o_.zero_startup ? 0 : cl_.spec.queue_wait_s;
  auto wait = static_cast<int64_t>(std::ceil(so.queue_wait_s));
  slurm_ = std::make_unique<scaler::SimSlurm>(std::move(nodes), wall0_ - wait - 1, so);

  scaler::DaemonConfig cfg;
  cfg.path = "hs-sim";
  cfg.services.services = {svc_};
  cfg.daemon.tick = from_seconds(o_.tick_s);
  cfg.daemon.routers[svc_.name] = {"sim://router"};
  cfg.daemon.drain_timeout = from_seconds(o_.drain_timeout_s);
  scaler::ServiceTemplate tpl;
  tpl.prefill_script_text = tpl.decode_script_text = "#!/bin/sh\n";
  tpl.array_size = kArraySize;
  cfg.daemon.templates[svc_.name] = tpl;
  // The daemon has been up long before the replay: no cooldown is running at its start.
  TimePoint started = vt(0) - std::chrono::hours(24);
  // The caller owns the policy and outlives the run: a non-owning pointer.
  std::shared_ptr<const scaler::Policy> policy(std::shared_ptr<const scaler::Policy>{}, &pol_);
  ctl_ = std::make_unique<scaler::Controller>(cfg, cl_.fabric, started, policy);
  exec_ = std::make_unique<scaler::ActionExecutor>(*slurm_, clock_,
                                                   Logger("hs-sim", LogLevel::kOff, null_sink()));

  auto pr = scaler::place(cl_.fabric, scaler::inventory_from(*slurm_->load_nodes()), {},
                          {{&svc_, static_cast<int64_t>(units)}}, {});
  scaler::GroupRatios ratios;
  uint32_t groups = 0;
  for (const auto& ga : pr.actions) {
    if (ga.kind != scaler::GroupAction::Kind::kOpen || ga.units <= 0) continue;
    const scaler::Variant& v = variant_of(ga.variant);
    std::string gname = "g" + std::to_string(++groups);
    for (Role role : {Role::kPrefill, Role::kDecode}) {
      auto n = static_cast<uint32_t>(ga.units) *
               (role == Role::kPrefill ? v.ratio.prefill : v.ratio.decode);
      for (; n > 0; n -= std::min(n, kArraySize)) {
        auto id = slurm_->submit(scaler::template_submission(
            svc_, tpl, v, gname, role, ga.domain == "*" ? "" : ga.domain, std::min(n, kArraySize)));
        if (!id.ok()) return id.error();
      }
    }
    ratios[svc_.name][gname] = {v.ratio.prefill, v.ratio.decode};
  }
  if (groups == 0)
    return failed_precondition("the cluster cannot hold the service's initial " +
                               std::to_string(units) + " units");
  slurm_->advance_to(wall0_);
  scaler::SlurmSnapshot snap = read_slurm();
  sync_tasks(snap.view, /*initial=*/true);
  publish(registrations(), snap.view, std::move(ratios));
  schedule_slurm();
  return {};
}

scaler::SlurmSnapshot Sim::read_slurm() {
  scaler::SlurmSnapshot s;
  s.seq = ++snap_seq_;
  s.view = scaler::build_view(*slurm_->load_jobs());
  s.nodes = *slurm_->load_nodes();
  s.read_at = vt(now_);
  s.read_at_unix_s = unix_at(now_);
  return s;
}

// As hs-launch registers each engine once it is up, heartbeating since.
std::vector<scaler::Registration> Sim::registrations() const {
  std::vector<scaler::Registration> out;
  for (uint32_t id : live_) {
    const Inst& in = insts_[id];
    if (!in.ready) continue;
    scaler::Registration r;
    r.url = in.url;
    r.service = svc_.name;
    r.group = group_names_[in.group];
    r.gpu_type = in.gpu;
    r.role = in.role;
    auto us = in.name.find('_');
    r.job_id = in.name.substr(0, us);
    r.array_task_id = in.name.substr(us + 1);
    // The warm fleet has been up for long.
    r.registered =
        in.created == 0 && in.ready_at == 0 ? vt(0) - std::chrono::hours(24) : vt(in.ready_at);
    r.last_heartbeat = vt(now_);
    out.push_back(std::move(r));
  }
  return out;
}

// What the daemon's scraper would hold: each registered engine's series, the router's
// per-group histograms, and what is in flight per engine (engine and router together).
std::map<std::string, scaler::ServiceMetrics> Sim::service_metrics() const {
  scaler::ServiceMetrics m;
  m.router_known = true;
  for (uint32_t id : live_) {
    const Inst& in = insts_[id];
    if (!in.ready) continue;
    m.window.instances.push_back(in.series);
    m.engine_in_flight[in.url] = in.in_flight();
  }
  for (const auto& [g, s] : group_series_) m.window.groups.push_back(s);
  m.window.offered.push_back(offered_series_);
  return {{svc_.name, std::move(m)}};
}

// The endpoint set published at the end of a tick, from that tick's registrations and Slurm
// view (the daemon's served_endpoints, ratio gate and drain flags included); the router
// routes to what it lists.
void Sim::publish(const std::vector<scaler::Registration>& regs, const scaler::ClusterView& view,
                  scaler::GroupRatios ratios) {
  scaler::EndpointInputs in;
  in.registrations = &regs;
  in.view = &view;
  in.ratios = std::move(ratios);
  in.draining_ids = ctl_->draining_ids();
  in.published = published_;
  in.now = vt(now_);
  in.heartbeat_timeout = ctl_->config().daemon.heartbeat_timeout;
  std::map<std::string, bool> listed;  // URL -> draining
  published_.clear();
  for (const auto& e : scaler::served_endpoints(in)) {
    listed[e.url] = e.draining;
    published_.insert(e.url);
  }
  for (uint32_t id : live_) {
    Inst& x = insts_[id];
    auto it = listed.find(x.url);
    bool served = it != listed.end(), draining = served && it->second;
    if (served == x.served && draining == x.draining) continue;
    x.served = served;
    x.draining = draining;
    reindex(x);
  }
  flush_waits(Role::kPrefill);
  flush_waits(Role::kDecode);
}

void Sim::control_tick() {
  clock_.set(vt(now_));
  slurm_->advance_to(unix_at(now_));
  scaler::SlurmSnapshot snap = read_slurm();
  sync_tasks(snap.view, false);
  auto regs = registrations();
  auto metrics = service_metrics();
  auto actions = ctl_->tick(&snap, regs, metrics, vt(now_), unix_at(now_));
  publish(regs, snap.view, ctl_->ratios());
  scaler::BatchResult done = exec_->run(actions);
  bool changed = false;
  for (const auto& o : done.done) {
    ++res_.slurm_actions;
    res_.slurm_action_failures += !o.status.ok();
    changed |= o.status.ok();
  }
  sync_tasks(scaler::build_view(*slurm_->load_jobs()), false);
  schedule_slurm();
  record_tick(scaler::compute_signals(metrics.at(svc_.name).window, svc_, vt(now_), {}), changed);
}

void Sim::slurm_event() {
  slurm_->advance_to(unix_at(now_));
  sync_tasks(scaler::build_view(*slurm_->load_jobs()), false);
  schedule_slurm();
}

void Sim::schedule_slurm() {
  auto next = slurm_->next_change();
  if (!next) return;
  double t = static_cast<double>(*next - wall0_);
  if (slurm_event_at_ > now_ && slurm_event_at_ <= t) return;  // one already queued
  slurm_event_at_ = t;
  push(t, Ev::kSlurm, 0);
}

}  // namespace hs::sim
