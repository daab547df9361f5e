#include "hs/scaler/controller.h"

#include <algorithm>
#include <cstdint>
#include <deque>

#include "hs/common/text.h"
#include "hs/scaler/shortage.h"
#include "hs/scaler/signals.h"
#include "tick/service_tick.h"

namespace hs::scaler {

namespace tick {

ServiceTick::ServiceTick(const ServiceConfig& s, const DaemonSettings& d, const SlurmSnapshot& sn,
                         const std::vector<const Registration*>& regs,
                         const std::set<std::string>& unavailable, const ServiceMetrics* m,
                         TimePoint n, TimePoint st_at, int64_t w, ServiceStatus& status)
    : svc(s),
      daemon(d),
      slurm(sn),
      groups([&]() -> const std::map<std::string, GroupPools>& {
        static const std::map<std::string, GroupPools> kNoGroups;
        auto it = sn.view.services.find(s.name);
        return it == sn.view.services.end() ? kNoGroups : it->second;
      }()),
      metrics(m),
      now(n),
      started(st_at),
      wall(w),
      unavailable_nodes(unavailable),
      st(status) {
  for (const Registration* r : regs)
    if (now - r->last_heartbeat <= daemon.heartbeat_timeout) reg_by_id[r->id()] = r;
}

std::set<std::string> unavailable_nodes(const std::vector<SlurmNode>& nodes) {
  std::set<std::string> out;
  for (const auto& node : nodes)
    if (node.drain || node.fail || node.state == "down") out.insert(node.name);
  return out;
}

void ServiceTick::add(Action a, std::vector<Action>* to) {
  a.service = svc.name;
  st.actions.push_back(a.describe());
  (to ? to : &out)->push_back(std::move(a));
}

const Registration* ServiceTick::registration(const std::string& id) const {
  auto it = reg_by_id.find(id);
  return it == reg_by_id.end() ? nullptr : it->second;
}

}  // namespace tick

Controller::Controller(DaemonConfig config, topo::Fabric fabric, TimePoint started,
                       std::shared_ptr<const Policy> policy)
    : config_(std::move(config)),
      fabric_(std::move(fabric)),
      started_(started),
      policy_(policy ? std::move(policy) : std::make_shared<HeteroScalePolicy>()),
      shortage_(std::make_shared<ShortageState>()) {
  index_fabric();
}

// The service's groups as placement sees them: running, serving tasks (newer = higher seq),
// the switch named in the arrays' constraint as the domain ("*" if none).
std::vector<DeploymentGroup> Controller::deployment_groups(
    const std::string& service, const std::map<std::string, GroupPools>& groups,
    const std::set<std::string>& frozen) const {
  std::vector<DeploymentGroup> out;
  for (const auto& [gname, gp] : groups) {
    DeploymentGroup d;
    d.service = service;
    d.id = gname;
    d.variant = gp.variant;
    d.domain = tick::group_domain(gp, domain_nodes_);
    d.frozen = frozen.count(gname) > 0;
    for (Role role : {Role::kPrefill, Role::kDecode})
      for (const auto& a : gp.role(role).arrays) {
        d.created_seq = std::max<uint64_t>(d.created_seq, a.array_job_id);
        for (const auto& t : a.tasks)
          if (t.state == JobState::kRunning && !t.draining())
            d.instances.push_back(
                {t.id(), role, t.node, (uint64_t{t.array_job_id} << 24) | t.task_id});
      }
    out.push_back(std::move(d));
  }
  return out;
}

void Controller::index_fabric() {
  domain_nodes_.clear();
  for (int level = 0; level < 16; ++level) {
    auto doms = fabric_.domains(level);
    if (doms.empty()) break;
    for (const auto& d : doms) domain_nodes_[d.switch_name].insert(d.nodes.begin(), d.nodes.end());
  }
}

void Controller::reload(DaemonConfig config, topo::Fabric fabric) {
  config_ = std::move(config);
  fabric_ = std::move(fabric);
  index_fabric();
  for (auto it = status_.begin(); it != status_.end();) {
    bool known = false;
    for (const auto& s : config_.services.services) known |= s.name == it->first;
    it = known ? std::next(it) : status_.erase(it);
  }
}

GroupRatios Controller::ratios() const {
  GroupRatios out;
  for (const auto& [svc, st] : status_) {
    const ServiceConfig* sc = nullptr;
    for (const auto& s : config_.services.services)
      if (s.name == svc) sc = &s;
    if (!sc) continue;
    for (const auto& [g, roles] : st.counts) {
      // The group's own variant's ratio; a group of an unknown variant gates at the preferred.
      auto vn = st.group_variants.find(g);
      const Variant* v = vn == st.group_variants.end() ? nullptr : sc->variant_named(vn->second);
      const Ratio& r = v ? v->ratio : sc->preferred().ratio;
      std::pair<double, double> gate{r.prefill, r.decode};
      // Inside a ratio band: the group's prefill per unit as the daemon set it (its targets),
      // so a band move is not held back by the gate.
      auto p = roles.find("prefill"), d = roles.find("decode");
      if (sc->ratio_band > 0 && v && p != roles.end() && d != roles.end() &&
          d->second.first >= r.decode && p->second.first > 0)
        gate.first = static_cast<double>(p->second.first) / (d->second.first / r.decode);
      out[svc][g] = gate;
    }
  }
  return out;
}

std::optional<Controller::Plan> Controller::plan_service(tick::ServiceTick& t) {
  const ServiceConfig& svc = t.svc;
  ServiceStatus& st = t.st;
  PolicyMemory& mem = memory_[svc.name];
  if (!mem.last_out) {
    // After a (re)start the daemon does not know when it last acted: cooldowns start now.
    mem.last_out = started_;
    mem.last_in = started_;
  }
  // Signals first: the soft scale-in needs the latency guard. Each decode instance is rated
  // at its own group's variant target.
  std::vector<std::string> expected_decode;
  std::map<std::string, double> decode_target;
  for (const auto& [g, gp] : t.groups) {
    for (const auto& a : gp.decode.arrays)
      for (const auto& task : a.tasks)
        if (task.state == JobState::kRunning && !task.draining() && t.registered(task.id()))
          expected_decode.push_back(task.id());
    if (const Variant* v = svc.variant_named(gp.variant))
      decode_target[g] = v->decode_tps_per_instance;
  }
  Signals sig = compute_signals(t.metrics ? t.metrics->window : MetricsWindow{}, svc, t.now,
                                expected_decode, &decode_target);
  bool latency_breach = sig.ttft.tier >= 0 || sig.tbt.tier >= 0;

  tick::TickTimers timers{idle_since_, short_since_};
  bool reconciled = tick::reconcile_marks(t, timers, latency_breach);
  // Acts in the tick that sees the change: the next one would take it for a broken ratio.
  reconciled |= tick::follow_outside_lowering(t);
  reconciled = tick::roll_back_overdue(t, timers, reconciled);
  reconciled = tick::replace_expiring(t, reconciled);
  PoolState pool = tick::pool_state(t);
  if (t.groups.empty()) {
    st.hold_reason = "no arrays tagged service=" + svc.name + " in Slurm";
    return std::nullopt;
  }
  if (reconciled) {
    st.hold_reason = "reconciling drain marks this tick";
    return std::nullopt;
  }
  uint32_t replacing = 0;
  for (const auto& [gname, gp] : t.groups)
    replacing += gp.prefill.replacing() + gp.decode.replacing();
  if (replacing > 0) {
    // A scale-in now could take the successors (the newest tasks): wait for the round.
    st.hold_reason = std::to_string(replacing) + " instance(s) being replaced";
    return std::nullopt;
  }
  // A group out of ratio (a crash between two throttle writes or two submissions) is repaired
  // first, inside the group: its lagging role grows to the leading role's units.
  Plan plan{pool, pool.prefill, pool.decode, tick::ratio_out_of_line(t, &st.hold_reason)};
  if (!plan.repairing) {
    if (paused_) {
      st.hold_reason = "paused";
      return std::nullopt;
    }
    st.decision = policy_->decide(svc, sig, pool, t.now, t.wall, mem);
    st.decided = true;
    st.hold_reason.clear();
    // A yield to a higher-priority service short of GPUs caps this one (shortage.h).
    if (auto y = shortage_->yields.find(svc.name); y != shortage_->yields.end())
      if (apply_yield(y->second, svc, pool, st.decision)) {
        st.actions.push_back(y->second.why);
        if (st.decision.direction == Direction::kIn) mem.last_in = t.now;
      }
    plan.desired_prefill = st.decision.desired_prefill;
    plan.desired_decode = st.decision.desired_decode;
  }
  if (config_.daemon.dry_run) {
    if (plan.desired_prefill != pool.prefill || plan.desired_decode != pool.decode)
      st.actions.push_back("dry-run: would move to " + std::to_string(plan.desired_prefill) + "P/" +
                           std::to_string(plan.desired_decode) + "D");
    return std::nullopt;
  }
  return plan;
}

void Controller::note_shortage(const std::deque<tick::ServiceTick>& ticks,
                               const std::vector<PlacementRequest>& requests,
                               const PlacementResult& pr) {
  // The common tick: nothing placed short, so every yield ends and no donor is needed (the
  // donors' pools are not walked again).
  if (pr.shortfalls.empty()) {
    shortage_->yields.clear();
    return;
  }
  std::map<std::string, DonorState> donors;
  for (const auto& t : ticks) {
    DonorState d;
    d.service = &t.svc;
    d.units = tick::ceil_div(tick::pool_state(t).decode, t.svc.preferred().ratio.decode);
    for (const auto& [g, gp] : t.groups)
      d.draining |= gp.prefill.draining() + gp.decode.draining() > 0;
    donors[t.svc.name] = d;
  }
  auto before = shortage_->yields;
  update_yields(shortage_->yields, requests, pr, donors);
  for (const auto& [donor, y] : shortage_->yields) {
    auto was = before.find(donor);
    if (was == before.end() || was->second.cap_units != y.cap_units)
      status_[y.to].actions.push_back(y.why);
  }
}

std::vector<Action> Controller::tick(const SlurmSnapshot* slurm,
                                     const std::vector<Registration>& regs,
                                     const std::map<std::string, ServiceMetrics>& metrics,
                                     TimePoint now, int64_t wall_unix_s) {
  std::vector<Action> out;
  // Free GPUs this tick, less what raised throttles will take; the one placement shares them
  // among the services in priority order, so two services never get the same GPUs.
  std::vector<NodeInventory> inventory;
  if (slurm) {
    draining_ids_.clear();
    for (const auto& [svc, groups] : slurm->view.services)
      for (const auto& [g, gp] : groups)
        for (const RolePool* rp : {&gp.prefill, &gp.decode})
          for (const auto& a : rp->arrays)
            for (const auto& t : a.tasks)
              if (t.draining()) draining_ids_.insert(t.id());
    inventory = inventory_from(slurm->nodes);
    tick::reserve_unstarted(inventory, slurm->view, config_.services, domain_nodes_);
  }
  // Higher priority first: they get GPUs first.
  std::vector<const ServiceConfig*> order;
  for (const auto& svc : config_.services.services) order.push_back(&svc);
  std::stable_sort(order.begin(), order.end(), [](const ServiceConfig* a, const ServiceConfig* b) {
    return a->priority > b->priority;
  });
  // Services that grow or shrink wait for the one placement of all of them; the others' actions
  // go first. (Deques: the ticks and actuations are referred to by address.)
  std::map<std::string, std::vector<const Registration*>> regs_of;
  for (const auto& r : regs) regs_of[r.service].push_back(&r);
  const std::set<std::string> unavailable =
      slurm ? tick::unavailable_nodes(slurm->nodes) : std::set<std::string>{};
  std::deque<tick::ServiceTick> ticks;
  std::deque<tick::Actuation> waiting;
  std::vector<DeploymentGroup> all_groups;
  std::vector<PlacementRequest> requests;
  auto take = [&](tick::ServiceTick& t) {
    tick::remember(t, *outside_[t.svc.name]);
    for (auto& a : t.out) out.push_back(std::move(a));
    t.out.clear();
  };
  for (const ServiceConfig* sp : order) {
    ServiceStatus& st = status_[sp->name];
    st.service = sp->name;
    st.actions.clear();
    st.outside_changes.clear();
    st.decided = false;
    if (!slurm) {
      st.hold_reason = "Slurm state unavailable or stale: holding (no scale actions)";
      continue;
    }
    auto m = metrics.find(sp->name);
    tick::ServiceTick& t = ticks.emplace_back(
        *sp, config_.daemon, *slurm, regs_of[sp->name], unavailable,
        m == metrics.end() ? nullptr : &m->second, now, started_, wall_unix_s, st);
    auto& memory = outside_[sp->name];
    if (!memory) memory = std::make_shared<tick::OutsideMemory>();
    tick::note_outside_changes(t, *memory);
    auto plan = plan_service(t);
    if (!plan) {
      take(t);
      continue;
    }
    tick::Actuation& act = waiting.emplace_back(t, plan->pool, plan->desired_prefill,
                                                plan->desired_decode, plan->repairing);
    if (auto units = act.prepare()) {
      for (auto& g : deployment_groups(sp->name, t.groups, t.frozen_groups))
        all_groups.push_back(std::move(g));
      requests.push_back({sp, *units});
      continue;
    }
    act.finish(nullptr);
    take(t);
    waiting.pop_back();
  }
  PlacementResult pr;
  if (!requests.empty())
    pr = place(fabric_, inventory, all_groups, requests, config_.services.gpu_budget);
  for (size_t i = 0; i < waiting.size(); ++i) waiting[i].finish(&pr);
  if (slurm) note_shortage(ticks, requests, pr);
  for (auto& t : ticks) take(t);
  return out;
}

}  // namespace hs::scaler
