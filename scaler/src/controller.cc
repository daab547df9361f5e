#include "hs/scaler/controller.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "hs/common/text.h"
#include "hs/scaler/signals.h"

namespace hs::scaler {

std::string_view to_string(Action::Kind k) {
  switch (k) {
    case Action::Kind::kThrottle:
      return "throttle";
    case Action::Kind::kMarkDrain:
      return "drain";
    case Action::Kind::kClearDrain:
      return "undrain";
    case Action::Kind::kCancelTask:
      return "cancel";
    case Action::Kind::kCancelArray:
      return "cancel-array";
    case Action::Kind::kSubmit:
      return "submit";
  }
  return "?";
}

std::string Action::describe() const {
  std::string s = std::string(to_string(kind)) + " service=" + service + " group=" + group +
                  " role=" + std::string(to_string(role));
  switch (kind) {
    case Kind::kThrottle:
      s += " array=" + std::to_string(job_id) + " throttle=" + std::to_string(value);
      break;
    case Kind::kMarkDrain:
    case Kind::kClearDrain:
    case Kind::kCancelTask:
      s += " task=" + task;
      break;
    case Kind::kCancelArray:
      s += " array=" + std::to_string(job_id);
      break;
    case Kind::kSubmit:
      s += " array=" + submit.array + " constraint=" + quote(submit.constraint);
      break;
  }
  return s + " why=" + quote(why);
}

namespace {

// "gpu:h100:4(S:0-1)" or "gpu:h100:2(IDX:0-1),gpu:l40s:0(IDX:N/A)" -> {type, count} pairs.
std::vector<std::pair<std::string, uint32_t>> parse_gres(const std::string& s) {
  std::vector<std::pair<std::string, uint32_t>> out;
  size_t depth = 0, start = 0;
  auto item = [&](std::string_view x) {
    x = x.substr(0, x.find('('));
    auto parts = split(x, ':');
    if (parts.size() < 2 || parts[0] != "gpu") return;
    auto n = parse_u64(parts.back());
    if (!n.ok()) return;
    out.emplace_back(parts.size() >= 3 ? std::string(parts[1]) : std::string(),
                     static_cast<uint32_t>(*n));
  };
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i < s.size() && s[i] == '(') ++depth;
    if (i < s.size() && s[i] == ')' && depth) --depth;
    if (i == s.size() || (s[i] == ',' && depth == 0)) {
      if (i > start) item(std::string_view(s).substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

uint32_t ceil_div(uint32_t a, uint32_t b) { return b ? (a + b - 1) / b : 0; }

Role other(Role r) { return r == Role::kPrefill ? Role::kDecode : Role::kPrefill; }

// Instances a role counts: what the throttles will run, less the tasks being replaced (their
// successors are in the throttle already).
uint32_t counted(const RolePool& rp) { return rp.target() - std::min(rp.target(), rp.replacing()); }

enum class Mark { kDrain, kUndrain, kReplace };

// One task's new comment: its tag with a drain or replace mark set or cleared.
Action mark_task(const std::string& group, const PoolTask& t, Mark m, int64_t wall,
                 std::string why) {
  Action a;
  a.kind = m == Mark::kUndrain ? Action::Kind::kClearDrain : Action::Kind::kMarkDrain;
  a.group = group;
  a.role = t.tag.role;
  a.job_id = t.job_id;
  a.task = t.id();
  JobTag tag = t.tag;
  switch (m) {
    case Mark::kDrain:
      tag.replace_since_unix_s.reset();
      tag.drain_since_unix_s = wall;
      break;
    case Mark::kUndrain:
      tag.drain_since_unix_s.reset();
      break;
    case Mark::kReplace:
      tag.replace_since_unix_s = wall;
      break;
  }
  a.comment = tag.to_string();
  a.why = std::move(why);
  return a;
}

Action cancel_task(const std::string& group, const PoolTask& t, std::string why) {
  Action a;
  a.kind = Action::Kind::kCancelTask;
  a.group = group;
  a.role = t.tag.role;
  a.job_id = t.job_id;
  a.task = t.id();
  a.why = std::move(why);
  return a;
}

// Cancels an array's pending indices (closing it: a throttle of 0 would mean unlimited).
Action cancel_pending(const std::string& group, Role role, const PoolArray& arr, std::string why) {
  Action a;
  a.kind = Action::Kind::kCancelTask;
  a.group = group;
  a.role = role;
  a.job_id = arr.array_job_id;
  a.task = std::to_string(arr.array_job_id) + "_[" + arr.pending_tasks + "]";
  a.why = std::move(why);
  return a;
}

Action set_throttle(const std::string& group, Role role, uint32_t array_job_id, uint32_t value,
                    std::string why) {
  Action a;
  a.kind = Action::Kind::kThrottle;
  a.group = group;
  a.role = role;
  a.job_id = array_job_id;
  a.value = value;
  a.why = std::move(why);
  return a;
}

}  // namespace

std::vector<NodeInventory> inventory_from(const std::vector<SlurmNode>& nodes) {
  std::vector<NodeInventory> out;
  for (const auto& n : nodes) {
    auto total = parse_gres(n.gres);
    auto used = parse_gres(n.gres_used);
    for (const auto& [type, count] : total) {
      uint32_t u = 0;
      for (const auto& [t2, c2] : used)
        if (t2 == type) u += c2;
      NodeInventory inv;
      inv.name = n.name;
      inv.gpu_type = type;
      inv.free_gpus = count > u ? count - u : 0;
      inv.available = !n.drain && !n.fail && !n.not_responding && n.state != "down" &&
                      n.state != "unknown" && n.state != "future";
      out.push_back(inv);
    }
  }
  return out;
}

Controller::Controller(DaemonConfig config, topo::Fabric fabric, TimePoint started)
    : config_(std::move(config)), fabric_(std::move(fabric)), started_(started) {
  index_fabric();
}

// The service's groups as placement sees them: running, serving tasks (newer = higher seq),
// the switch named in the arrays' constraint as the domain ("*" if none).
std::vector<DeploymentGroup> Controller::deployment_groups(
    const std::string& service, const std::map<std::string, GroupPools>& groups) const {
  std::vector<DeploymentGroup> out;
  for (const auto& [gname, gp] : groups) {
    DeploymentGroup d;
    d.service = service;
    d.id = gname;
    d.variant = gp.variant;
    d.domain = "*";
    for (Role role : {Role::kPrefill, Role::kDecode})
      for (const auto& a : gp.role(role).arrays) {
        d.created_seq = std::max<uint64_t>(d.created_seq, a.array_job_id);
        for (const auto& f : split(a.features, ','))
          if (domain_nodes_.count(std::string(trim(f)))) d.domain = std::string(trim(f));
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

std::map<std::string, std::map<std::string, std::pair<uint32_t, uint32_t>>> Controller::ratios()
    const {
  std::map<std::string, std::map<std::string, std::pair<uint32_t, uint32_t>>> out;
  for (const auto& [svc, st] : status_) {
    const ServiceConfig* sc = nullptr;
    for (const auto& s : config_.services.services)
      if (s.name == svc) sc = &s;
    if (!sc) continue;
    for (const auto& [g, roles] : st.counts) {
      (void)roles;
      // The group's own variant's ratio; a group of an unknown variant gates at the preferred.
      auto vn = st.group_variants.find(g);
      const Variant* v = vn == st.group_variants.end() ? nullptr : sc->variant_named(vn->second);
      const Ratio& r = v ? v->ratio : sc->preferred().ratio;
      out[svc][g] = {r.prefill, r.decode};
    }
  }
  return out;
}

std::vector<Action> Controller::tick(const SlurmSnapshot* slurm,
                                     const std::vector<Registration>& regs,
                                     const std::map<std::string, ServiceMetrics>& metrics,
                                     TimePoint now, int64_t wall_unix_s) {
  std::vector<Action> out;
  if (slurm) {
    draining_ids_.clear();
    for (const auto& [svc, groups] : slurm->view.services)
      for (const auto& [g, gp] : groups)
        for (const RolePool* rp : {&gp.prefill, &gp.decode})
          for (const auto& a : rp->arrays)
            for (const auto& t : a.tasks)
              if (t.draining()) draining_ids_.insert(t.id());
  }
  if (slurm) {
    // GPUs that raised throttles will take (tasks not started yet) are not free.
    inventory_ = inventory_from(slurm->nodes);
    std::unordered_map<std::string, std::vector<size_t>> by_node;
    for (size_t i = 0; i < inventory_.size(); ++i) by_node[inventory_[i].name].push_back(i);
    for (const auto& svc : config_.services.services) {
      auto it = slurm->view.services.find(svc.name);
      if (it == slurm->view.services.end()) continue;
      for (const auto& [gname, gp] : it->second) {
        const Variant* v = svc.variant_named(gp.variant);
        if (!v) continue;
        std::string domain = "*";
        for (Role role : {Role::kPrefill, Role::kDecode})
          for (const auto& a : gp.role(role).arrays)
            for (const auto& f : split(a.features, ','))
              if (domain_nodes_.count(std::string(trim(f)))) domain = std::string(trim(f));
        for (Role role : {Role::kPrefill, Role::kDecode}) {
          const RolePool& rp = gp.role(role);
          uint32_t unstarted =
              rp.target() > rp.running_serving() ? rp.target() - rp.running_serving() : 0;
          uint32_t need = unstarted * (role == Role::kPrefill ? v->prefill_gpus : v->decode_gpus);
          const std::string& type = role == Role::kPrefill ? v->prefill_gpu : v->decode_gpu;
          auto take_from = [&](size_t i) {
            NodeInventory& n = inventory_[i];
            if (n.gpu_type != type) return;
            uint32_t take = std::min(need, n.free_gpus);
            n.free_gpus -= take;
            need -= take;
          };
          if (domain == "*") {
            for (size_t i = 0; i < inventory_.size() && need > 0; ++i) take_from(i);
          } else {
            for (const auto& node : domain_nodes_[domain]) {
              if (need == 0) break;
              if (auto b = by_node.find(node); b != by_node.end())
                for (size_t i : b->second) take_from(i);
            }
          }
        }
      }
    }
  }
  // Higher priority first: they get GPUs first.
  std::vector<const ServiceConfig*> order;
  for (const auto& svc : config_.services.services) order.push_back(&svc);
  std::stable_sort(order.begin(), order.end(), [](const ServiceConfig* a, const ServiceConfig* b) {
    return a->priority > b->priority;
  });
  for (const ServiceConfig* sp : order) {
    const ServiceConfig& svc = *sp;
    ServiceStatus& st = status_[svc.name];
    st.service = svc.name;
    st.actions.clear();
    st.decided = false;
    if (!slurm) {
      st.hold_reason = "Slurm state unavailable or stale: holding (no scale actions)";
      continue;
    }
    auto m = metrics.find(svc.name);
    size_t before = out.size(), asked = asks_.size();
    PolicyMemory saved = memory_[svc.name];
    tick_service(svc, *slurm, regs, m == metrics.end() ? nullptr : &m->second, now, wall_unix_s,
                 out, st, nullptr);
    if (asks_.size() > asked) {  // redone in the second pass, from the same memory
      out.resize(before);
      memory_[svc.name] = std::move(saved);
    }
  }
  if (asks_.empty()) return out;
  // One placement for every service that grows or shrinks this tick, in priority order, so
  // no two services are given the same GPUs; then those services run again with its result.
  // (The policy memory is restored before the second run; the drain timers are keyed by
  // `now`, so running a service twice in one tick changes nothing else.)
  std::vector<DeploymentGroup> all_groups;
  std::vector<PlacementRequest> requests;
  for (auto& a : asks_) {
    for (auto& g : a.groups) all_groups.push_back(std::move(g));
    requests.push_back({a.svc, a.units});
  }
  PlacementResult pr =
      place(fabric_, inventory_, all_groups, requests, config_.services.gpu_budget);
  std::vector<const ServiceConfig*> again;
  for (const auto& a : asks_) again.push_back(a.svc);
  asks_.clear();
  for (const ServiceConfig* sp : again) {
    ServiceStatus& st = status_[sp->name];
    st.actions.clear();
    st.decided = false;
    auto m = metrics.find(sp->name);
    tick_service(*sp, *slurm, regs, m == metrics.end() ? nullptr : &m->second, now, wall_unix_s,
                 out, st, &pr);
  }
  asks_.clear();
  return out;
}

void Controller::tick_service(const ServiceConfig& svc, const SlurmSnapshot& s,
                              const std::vector<Registration>& regs, const ServiceMetrics* m,
                              TimePoint now, int64_t wall, std::vector<Action>& out,
                              ServiceStatus& st, const PlacementResult* batch) {
  static const std::map<std::string, GroupPools> kNoGroups;
  auto sit = s.view.services.find(svc.name);
  const auto& groups = sit == s.view.services.end() ? kNoGroups : sit->second;
  std::map<std::string, const Registration*> reg_by_id;
  for (const auto& r : regs)
    if (r.service == svc.name && now - r.last_heartbeat <= config_.daemon.heartbeat_timeout)
      reg_by_id[r.id()] = &r;
  // Nodes whose tasks must move: drained, failing or down. Not "not responding" or "unknown":
  // those also follow every slurmctld restart for a moment, and must not replace a fleet.
  std::set<std::string> unavailable_nodes;
  for (const auto& n : s.nodes)
    if (n.drain || n.fail || n.state == "down") unavailable_nodes.insert(n.name);

  PolicyMemory& mem = memory_[svc.name];
  if (!mem.last_out) {
    // After a (re)start the daemon does not know when it last acted: cooldowns start now.
    mem.last_out = started_;
    mem.last_in = started_;
  }
  auto add = [&](Action a) {
    a.service = svc.name;
    st.actions.push_back(a.describe());
    out.push_back(std::move(a));
  };

  // Signals first: the soft scale-in needs the latency guard.
  std::vector<std::string> expected_decode;
  for (const auto& [g, gp] : groups)
    for (const auto& a : gp.decode.arrays)
      for (const auto& t : a.tasks)
        if (t.state == JobState::kRunning && !t.draining() && reg_by_id.count(t.id()))
          expected_decode.push_back(t.id());
  // Each decode instance is rated at its own group's variant target.
  std::map<std::string, double> decode_target;
  for (const auto& [g, gp] : groups)
    if (const Variant* v = svc.variant_named(gp.variant))
      decode_target[g] = v->decode_tps_per_instance;
  Signals sig = compute_signals(m ? m->window : MetricsWindow{}, svc, now, expected_decode,
                                &decode_target);
  bool latency_breach = sig.ttft.tier >= 0 || sig.tbt.tier >= 0;

  // 1. Reconcile marks and drains (every array, every tick).
  bool reconciled = false;
  std::set<std::string> revived;
  st.counts.clear();
  st.group_variants.clear();
  for (const auto& [gname, gp] : groups) {
    st.group_variants[gname] = gp.variant;
    for (Role role : {Role::kPrefill, Role::kDecode}) {
      const RolePool& rp = gp.role(role);
      uint32_t ready = 0;
      for (const auto& a : rp.arrays) {
        std::vector<const PoolTask*> serving;
        for (const auto& t : a.tasks)
          if (t.state == JobState::kRunning && !t.draining()) {
            serving.push_back(&t);
            if (reg_by_id.count(t.id())) ++ready;
          }
        // The throttle says more tasks are meant to serve than do, while some drain: revive
        // those (warm) instead of letting Slurm start cold ones after they end. A crash
        // between a revival's throttle raise and its mark clearing, or an admin's throttle
        // raise, converges here. (Slurm counts draining tasks against the throttle, so none
        // would start meanwhile.) Not in an array whose every task drains: that is a pool
        // being closed (pending indices cancelled, the throttle left as it was since 0 would
        // mean unlimited), above its serving count on purpose.
        if (a.throttle != 0 && serving.size() < a.throttle && !serving.empty()) {
          size_t deficit = a.throttle - serving.size();
          double lead = to_seconds(config_.daemon.replace_before);
          for (const auto& t : a.tasks) {
            if (deficit == 0) break;
            bool near_end = t.end_time > 0 && static_cast<double>(t.end_time - wall) <= lead;
            // Registration is not required: right after a restart it comes back with the
            // next heartbeat, and the task is running in Slurm. One stopping by itself is not
            // revived.
            auto r = reg_by_id.find(t.id());
            bool stopping = r != reg_by_id.end() && r->second->self_draining;
            if (!t.draining() || t.state != JobState::kRunning || stopping ||
                unavailable_nodes.count(t.node) || near_end)
              continue;
            revived.insert(t.id());
            add(mark_task(gname, t, Mark::kUndrain, wall,
                          "throttle " + std::to_string(a.throttle) + " above " +
                              std::to_string(serving.size()) + " serving: revived"));
            --deficit;
            reconciled = true;
          }
        }
        if (a.throttle != 0 && serving.size() > a.throttle) {
          // Unavailable nodes first, then the newest.
          std::sort(serving.begin(), serving.end(), [&](const PoolTask* x, const PoolTask* y) {
            bool ux = unavailable_nodes.count(x->node), uy = unavailable_nodes.count(y->node);
            if (ux != uy) return ux;
            return x->task_id > y->task_id;
          });
          for (size_t i = 0; i < serving.size() - a.throttle; ++i) {
            add(mark_task(gname, *serving[i], Mark::kDrain, wall,
                          std::to_string(serving.size()) + " serving above throttle " +
                              std::to_string(a.throttle)));
            reconciled = true;
          }
        }
        for (const auto& t : a.tasks) {
          // A completing task is already on its way out: nothing to cancel.
          if (!t.draining() || t.state != JobState::kRunning || revived.count(t.id())) continue;
          const Registration* r = reg_by_id.count(t.id()) ? reg_by_id[t.id()] : nullptr;
          double drained_for = static_cast<double>(wall - *t.drain_since_unix_s);
          Action cancel = cancel_task(gname, t, "");
          if (drained_for >= to_seconds(config_.daemon.drain_timeout)) {
            cancel.why =
                "drain timeout (" + std::to_string(static_cast<int64_t>(drained_for)) + " s)";
            add(cancel);
            continue;
          }
          if (!r) {
            // After a restart registrations come back with the next heartbeats: until a
            // heartbeat timeout has passed, a missing one proves nothing.
            if (now - started_ >= config_.daemon.heartbeat_timeout) {
              cancel.why = "drained and no longer registered";
              add(cancel);
            }
            continue;
          }
          // Nothing in flight at the router and the engine, seen after the router had time
          // to take the drain (two ticks).
          bool idle = false;
          bool router_needed = config_.daemon.routers.count(svc.name) > 0;
          if (m && (m->router_known || !router_needed) &&
              drained_for >= 2 * to_seconds(config_.daemon.tick)) {
            double in = 0;
            if (auto it = m->router_outstanding.find(r->url); it != m->router_outstanding.end())
              in += it->second;
            if (auto it = m->engine_in_flight.find(r->url); it != m->engine_in_flight.end())
              in += it->second;
            else
              in += 1;  // engine not scraped: not known to be idle
            idle = in == 0;
          }
          if (!idle) {
            idle_since_.erase(t.id());
            continue;
          }
          auto [it, fresh] = idle_since_.try_emplace(t.id(), now);
          (void)fresh;
          if (latency_breach && a.throttle != 0) {
            add(set_throttle(gname, role, a.array_job_id, a.throttle + 1, "put back " + t.id()));
            add(mark_task(gname, t, Mark::kUndrain, wall,
                          "soft scale-in: latency guard breached during the grace"));
            idle_since_.erase(t.id());
            reconciled = true;
            continue;
          }
          if (now - it->second >= svc.scaling.soft_scale_in_grace) {
            cancel.why = "drained: nothing in flight, grace over";
            add(cancel);
            idle_since_.erase(t.id());
          }
        }
      }
      st.counts[gname][std::string(to_string(role))] = {rp.target(), ready};
    }
  }

  // 1b. Lockstep: a group whose new tasks stay pending past start_timeout is rolled back to
  // the units both roles really run, so the ratio holds (the other role's started tasks are
  // drained by the next tick's reconciliation). A group with nothing running is closed.
  for (const auto& [gname, gp] : groups) {
    bool overdue = false;
    for (Role role : {Role::kPrefill, Role::kDecode})
      for (const auto& a : gp.role(role).arrays) {
        uint32_t want = a.throttle == 0 ? 0 : std::min(a.throttle, a.running_serving() + a.pending);
        if (want > a.running_serving() && a.pending > 0) {
          auto [it, fresh] = short_since_.try_emplace(a.array_job_id, now);
          (void)fresh;
          if (now - it->second >= svc.scaling.start_timeout) overdue = true;
        } else {
          short_since_.erase(a.array_job_id);
        }
      }
    // A group with nothing running whose arrays all waited past start_timeout since they
    // were submitted is closed, not repaired: after a restart (timers lost) half of a
    // rolled-back group must not be completed again.
    bool nothing_running = gp.prefill.running_serving() == 0 && gp.decode.running_serving() == 0;
    bool all_old = true, any_pending = false;
    for (Role role : {Role::kPrefill, Role::kDecode})
      for (const auto& a : gp.role(role).arrays) {
        any_pending |= a.pending > 0;
        all_old &= a.submit_time > 0 &&
                   static_cast<double>(wall - a.submit_time) >= to_seconds(svc.scaling.start_timeout);
      }
    if (nothing_running && any_pending && all_old) overdue = true;
    if (!overdue || reconciled) continue;
    const Variant* v = svc.variant_named(gp.variant);
    if (!v) continue;
    uint32_t units = std::min(gp.prefill.running_serving() / v->ratio.prefill,
                              gp.decode.running_serving() / v->ratio.decode);
    for (Role role : {Role::kPrefill, Role::kDecode}) {
      uint32_t keep = units * (role == Role::kPrefill ? v->ratio.prefill : v->ratio.decode);
      for (const auto& a : gp.role(role).arrays) {
        short_since_.erase(a.array_job_id);
        uint32_t mine = std::min(keep, a.running_serving());
        keep -= mine;
        Action act;
        act.group = gname;
        act.role = role;
        act.job_id = a.array_job_id;
        if (mine == 0) {
          act.kind = Action::Kind::kCancelArray;
          act.why = "rollback: pending past start_timeout and nothing of the ratio running";
        } else if (mine != a.throttle) {
          act.kind = Action::Kind::kThrottle;
          act.value = mine;
          act.why = "rollback: pending past start_timeout; back to " + std::to_string(units) +
                    " units both roles run";
        } else {
          continue;
        }
        add(act);
        reconciled = true;
      }
    }
  }

  // Submits an array from the service's template (a continuation or a new group).
  const ServiceTemplate* tpl = nullptr;
  if (auto it = config_.daemon.templates.find(svc.name); it != config_.daemon.templates.end())
    tpl = &it->second;
  auto submit = [&](const std::string& gname, Role role, const std::string& variant,
                    const std::string& constraint, uint32_t n, const std::string& why) {
    const Variant* v = svc.variant_named(variant);
    if (!tpl || !v) {
      st.actions.push_back("shortfall: " + std::to_string(n) + " " + std::string(to_string(role)) +
                           " for group " + gname + " need a new array but daemon.templates." +
                           svc.name + " is not configured");
      return;
    }
    Action a;
    a.kind = Action::Kind::kSubmit;
    a.group = gname;
    a.role = role;
    SubmitSpec& sp = a.submit;
    sp.name = "hs-" + svc.name + "-" + std::string(to_string(role)) + "-" + gname;
    sp.script = role == Role::kPrefill ? tpl->prefill_script_text : tpl->decode_script_text;
    JobTag tag{svc.name, role, gname, variant, std::nullopt, std::nullopt};
    sp.comment = tag.to_string();
    sp.array = "0-" + std::to_string(tpl->array_size - 1) + "%" + std::to_string(n);
    sp.partition = tpl->partition;
    sp.qos = tpl->qos;
    sp.account = tpl->account;
    sp.reservation = tpl->reservation;
    sp.constraint = constraint;
    const std::string& gpu = role == Role::kPrefill ? v->prefill_gpu : v->decode_gpu;
    uint32_t gpus = role == Role::kPrefill ? v->prefill_gpus : v->decode_gpus;
    sp.tres_per_node = "gres:gpu:" + gpu + ":" + std::to_string(gpus);
    sp.work_dir = tpl->work_dir;
    sp.std_out = tpl->output;
    sp.time_limit_min = tpl->time_limit_min;
    sp.environment = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                      "HS_SERVICE=" + svc.name, "HS_ROLE=" + std::string(to_string(role)),
                      "HS_GROUP=" + gname, "HS_VARIANT=" + variant, "HS_GPU_TYPE=" + gpu,
                      // hs-launch takes the tensor-parallel size from the task's GPU count.
                      "HS_GPUS=" + std::to_string(gpus)};
    for (const auto& e : tpl->environment) sp.environment.push_back(e);
    a.why = why;
    add(a);
  };
  // 1c. Lifecycle: tasks whose time limit is near or whose node is drained, failing or down
  // are replaced before they go: mark them (replace=), raise throttles (or continue an
  // exhausted array) so successors start, and once those are registered, lower the throttles
  // and turn the marks into drains. The marks live in Slurm, so a restart resumes the round.
  for (const auto& [gname, gp] : groups) {
    if (reconciled) break;
    for (Role role : {Role::kPrefill, Role::kDecode}) {
      const RolePool& rp = gp.role(role);
      std::vector<const PoolTask*> expiring, marked;
      uint32_t ready_new = 0;
      for (const auto& a : rp.arrays)
        for (const auto& t : a.tasks) {
          if (t.state != JobState::kRunning || t.draining()) continue;
          if (t.replacing()) {
            marked.push_back(&t);
            continue;
          }
          if (reg_by_id.count(t.id())) ++ready_new;
          // A limit shorter than twice the lead time would have successors replaced at once.
          double lead = to_seconds(config_.daemon.replace_before);
          bool near_end = t.end_time > 0 && t.end_time - wall <= lead &&
                          static_cast<double>(t.end_time - t.start_time) > 2 * lead;
          if (near_end || unavailable_nodes.count(t.node)) expiring.push_back(&t);
        }
      if (!marked.empty()) {
        // Ready when the unmarked, registered tasks fill what the pool counts.
        if (ready_new < counted(rp)) continue;
        for (const auto& a : rp.arrays) {
          uint32_t r = a.replacing();
          if (r == 0) continue;
          if (a.throttle > r)
            add(set_throttle(gname, role, a.array_job_id, a.throttle - r, "replacements ready"));
          else if (a.pending > 0)
            add(cancel_pending(gname, role, a, "replacements ready; the array closes"));
        }
        for (const PoolTask* t : marked)
          add(mark_task(gname, *t, Mark::kDrain, wall, "replaced: its successor is ready"));
        reconciled = true;
        continue;
      }
      if (expiring.empty()) continue;
      for (const PoolTask* t : expiring)
        add(mark_task(gname, *t, Mark::kReplace, wall,
                      unavailable_nodes.count(t->node)
                          ? "node " + t->node + " is drained, failing or down"
                          : "time limit in " + std::to_string(t->end_time - wall) + " s"));
      uint32_t need = static_cast<uint32_t>(expiring.size());
      for (const auto& a : rp.arrays) {
        if (need == 0 || a.throttle == 0) break;
        uint32_t room = a.running_serving() + a.pending > a.throttle
                            ? a.running_serving() + a.pending - a.throttle
                            : 0;
        uint32_t n = std::min(room, need);
        if (n == 0) continue;
        add(set_throttle(gname, role, a.array_job_id, a.throttle + n,
                         "start " + std::to_string(n) + " replacement(s)"));
        need -= n;
      }
      if (need > 0) {
        std::string constraint = rp.arrays.empty() ? "" : rp.arrays.back().features;
        submit(gname, role, gp.variant, constraint, need,
               "start " + std::to_string(need) + " replacement(s) (continuation: array exhausted)");
      }
      reconciled = true;
    }
  }

  // 2. The pool as the policy sees it.
  PoolState pool;
  TimePoint newest_ready{};
  for (const auto& [gname, gp] : groups) {
    // Tasks being replaced are not counted: their successors are.
    pool.prefill += counted(gp.prefill);
    pool.decode += counted(gp.decode);
    const Variant* gv = svc.variant_named(gp.variant);
    pool.decode_capacity_tps +=
        counted(gp.decode) * (gv ? gv : &svc.preferred())->decode_tps_per_instance;
    for (Role role : {Role::kPrefill, Role::kDecode})
      for (const auto& a : gp.role(role).arrays)
        for (const auto& t : a.tasks)
          if (t.state == JobState::kRunning && !t.draining())
            if (auto r = reg_by_id.find(t.id()); r != reg_by_id.end()) {
              (role == Role::kPrefill ? pool.ready_prefill : pool.ready_decode) += 1;
              newest_ready = std::max(newest_ready, r->second->registered);
            }
  }
  uint32_t ready = pool.ready_prefill + pool.ready_decode;
  pool.starting = pool.prefill + pool.decode > ready ? pool.prefill + pool.decode - ready : 0;
  pool.newest_ready_age = newest_ready == TimePoint{} ? std::chrono::hours(24) : now - newest_ready;

  if (groups.empty()) {
    st.hold_reason = "no arrays tagged service=" + svc.name + " in Slurm";
    return;
  }
  if (reconciled) {
    st.hold_reason = "reconciling drain marks this tick";
    return;
  }
  uint32_t replacing = 0;
  for (const auto& [gname, gp] : groups)
    replacing += gp.prefill.replacing() + gp.decode.replacing();
  if (replacing > 0) {
    // A scale-in now could take the successors (the newest tasks): wait for the round.
    st.hold_reason = std::to_string(replacing) + " instance(s) being replaced";
    return;
  }
  const Ratio& ratio = svc.preferred().ratio;

  // 3. A group whose roles are out of ratio (a crash between two throttle writes or two
  // submissions) is repaired first, inside the group: its lagging role grows to the leading
  // role's units. No decision this tick.
  uint32_t desired_p = pool.prefill, desired_d = pool.decode;
  bool repairing = false;
  for (const auto& [gname, gp] : groups) {
    const Variant* v = svc.variant_named(gp.variant);
    if (!v) continue;
    uint32_t tp = counted(gp.prefill), td = counted(gp.decode);
    uint32_t units = std::max(ceil_div(tp, v->ratio.prefill), ceil_div(td, v->ratio.decode));
    if (tp == units * v->ratio.prefill && td == units * v->ratio.decode) continue;
    repairing = true;
    st.hold_reason = "repairing the P:D ratio of group " + gname + " (" + std::to_string(tp) + ":" +
                     std::to_string(td) + ")";
  }
  if (repairing) {
    // actuated group by group below
  } else if (paused_) {
    st.hold_reason = "paused";
    return;
  } else {
    HeteroScalePolicy policy;
    st.decision = policy.decide(svc, sig, pool, now, wall, mem);
    st.decided = true;
    st.hold_reason.clear();
    desired_p = st.decision.desired_prefill;
    desired_d = st.decision.desired_decode;
  }
  if (config_.daemon.dry_run) {
    if (desired_p != pool.prefill || desired_d != pool.decode)
      st.actions.push_back("dry-run: would move to " + std::to_string(desired_p) + "P/" +
                           std::to_string(desired_d) + "D");
    return;
  }

  // 4. Actuation.
  std::map<uint32_t, uint32_t> new_throttle;  // array id -> throttle, written before drains
  std::map<uint32_t, std::pair<std::string, Role>> array_owner;
  std::map<uint32_t, uint32_t> old_throttle;
  for (const auto& [gname, gp] : groups)
    for (Role role : {Role::kPrefill, Role::kDecode})
      for (const auto& a : gp.role(role).arrays) {
        new_throttle[a.array_job_id] = a.throttle;
        old_throttle[a.array_job_id] = a.throttle;
        array_owner[a.array_job_id] = {gname, role};
      }
  std::vector<Action> drains;
  // Raises a group's role by n: throttles of arrays with indices left, then a continuation.
  auto grow_role = [&](const GroupPools& gp, Role role, uint32_t n, const std::string& why) {
    for (const auto& a : gp.role(role).arrays) {
      if (n == 0) break;
      uint32_t serving = a.running_serving();
      uint32_t cur = new_throttle[a.array_job_id];
      uint32_t target = std::min(cur, serving + a.pending);
      uint32_t room = serving + a.pending - target;
      uint32_t add_n = std::min(room, n);
      if (add_n == 0) continue;
      new_throttle[a.array_job_id] = target + add_n;
      n -= add_n;
    }
    if (n > 0) {
      std::string constraint;
      if (!gp.role(role).arrays.empty())
        constraint = gp.role(role).arrays.back().features;
      else if (!gp.role(other(role)).arrays.empty())
        constraint = gp.role(other(role)).arrays.back().features;
      submit(gp.group, role, gp.variant, constraint, n, why + " (continuation: array exhausted)");
    }
  };

  int64_t dp = static_cast<int64_t>(desired_p) - pool.prefill;
  int64_t dd = static_cast<int64_t>(desired_d) - pool.decode;
  if (repairing) {
    for (const auto& [gname, gp] : groups) {
      const Variant* v = svc.variant_named(gp.variant);
      if (!v) continue;
      uint32_t tp = counted(gp.prefill), td = counted(gp.decode);
      uint32_t units = std::max(ceil_div(tp, v->ratio.prefill), ceil_div(td, v->ratio.decode));
      if (units * v->ratio.prefill > tp)
        grow_role(gp, Role::kPrefill, units * v->ratio.prefill - tp, st.hold_reason);
      if (units * v->ratio.decode > td)
        grow_role(gp, Role::kDecode, units * v->ratio.decode - td, st.hold_reason);
    }
  } else if (dp > 0 || dd > 0) {
    // Revive draining tasks first: they are warm.
    for (const auto& [gname, gp] : groups)
      for (Role role : {Role::kPrefill, Role::kDecode}) {
        int64_t& need = role == Role::kPrefill ? dp : dd;
        for (const auto& a : gp.role(role).arrays)
          for (const auto& t : a.tasks) {
            if (need <= 0 || !t.draining() || !reg_by_id.count(t.id())) continue;
            drains.push_back(
                mark_task(gname, t, Mark::kUndrain, wall, "scale-out revives a draining instance"));
            new_throttle[a.array_job_id] += 1;
            --need;
          }
      }
    uint32_t units =
        std::max(ceil_div(static_cast<uint32_t>(std::max<int64_t>(dp, 0)), ratio.prefill),
                 ceil_div(static_cast<uint32_t>(std::max<int64_t>(dd, 0)), ratio.decode));
    if (units > 0) {
      if (!batch) {  // first pass: ask, and come back with the tick's one placement
        asks_.push_back({&svc, static_cast<int64_t>(units), deployment_groups(svc.name, groups)});
        return;
      }
      const PlacementResult& pr = *batch;
      for (const auto& sf : pr.shortfalls)
        if (starts_with(sf, "service " + svc.name + ":")) st.actions.push_back("shortfall: " + sf);
      std::string why = st.decided ? st.decision.deciding_stage().stage + ": " +
                                         st.decision.deciding_stage().reason
                                   : st.hold_reason;
      for (const auto& ga : pr.actions) {
        if (ga.service != svc.name) continue;
        const Variant* v = svc.variant_named(ga.variant);
        if (!v) continue;
        uint32_t n = static_cast<uint32_t>(ga.units);
        if (ga.kind == GroupAction::Kind::kGrow) {
          const GroupPools& gp = groups.at(ga.group);
          int64_t& rem_p = dp;
          int64_t& rem_d = dd;
          uint32_t np = static_cast<uint32_t>(std::clamp<int64_t>(rem_p, 0, n * v->ratio.prefill));
          uint32_t nd = static_cast<uint32_t>(std::clamp<int64_t>(rem_d, 0, n * v->ratio.decode));
          if (np) grow_role(gp, Role::kPrefill, np, why);
          if (nd) grow_role(gp, Role::kDecode, nd, why);
          rem_p -= np;
          rem_d -= nd;
        } else if (ga.kind == GroupAction::Kind::kOpen) {
          std::string gname;
          for (int i = 1;; ++i) {
            gname = "g" + std::to_string(i);
            if (!groups.count(gname)) break;
          }
          std::string constraint = ga.domain == "*" ? "" : ga.domain;
          size_t first = out.size();
          submit(gname, Role::kPrefill, ga.variant, constraint, n * v->ratio.prefill,
                 why + " (open a group in " + ga.domain + ")");
          submit(gname, Role::kDecode, ga.variant, constraint, n * v->ratio.decode,
                 why + " (open a group in " + ga.domain + ")");
          for (size_t i = first; i < out.size(); ++i) out[i].opens_group = true;
          break;  // one new group per tick; the next tick sees it in Slurm
        }
      }
    }
  } else if (dp < 0 || dd < 0) {
    uint32_t units = std::min(static_cast<uint32_t>(-std::min<int64_t>(dp, 0)) / ratio.prefill,
                              static_cast<uint32_t>(-std::min<int64_t>(dd, 0)) / ratio.decode);
    if (!batch) {
      asks_.push_back({&svc, -static_cast<int64_t>(units), deployment_groups(svc.name, groups)});
      return;
    }
    PlacementResult pr = *batch;
    pr.actions.erase(std::remove_if(pr.actions.begin(), pr.actions.end(),
                                    [&](const GroupAction& a) { return a.service != svc.name; }),
                     pr.actions.end());
    std::string why =
        st.decided ? st.decision.deciding_stage().stage + ": " + st.decision.deciding_stage().reason
                   : st.hold_reason;
    std::map<uint32_t, uint32_t> removed;  // array -> tasks taken out
    for (const auto& ga : pr.actions)
      for (const auto& id : ga.remove)
        if (const PoolTask* t = s.view.find_task(id)) removed[t->array_job_id] += 1;
    // An array losing all its serving tasks is closed: a throttle of 0 would mean unlimited,
    // so its pending indices are cancelled instead (before the drains, so nothing starts when
    // the drained tasks end) and its throttle is left alone.
    for (const auto& [id, k] : removed) {
      uint32_t& th = new_throttle[id];
      if (th > k) {
        th -= k;
        continue;
      }
      for (const auto& [gname, gp] : groups)
        for (Role role : {Role::kPrefill, Role::kDecode})
          for (const auto& a : gp.role(role).arrays)
            if (a.array_job_id == id && a.pending > 0)
              drains.push_back(
                  cancel_pending(gname, role, a, "closing the pool: its last serving tasks drain"));
    }
    for (const auto& ga : pr.actions)
      for (const auto& id : ga.remove) {
        const PoolTask* t = s.view.find_task(id);
        if (!t) continue;
        drains.push_back(mark_task(ga.group, *t, Mark::kDrain, wall, why));
      }
  }
  // Throttles first (a lowered throttle before the drain mark, so nothing new starts), then
  // drain marks and revivals, then submissions (already added).
  std::vector<Action> throttles;
  for (const auto& [id, th] : new_throttle) {
    if (th == old_throttle[id] || th == 0) continue;
    throttles.push_back(
        set_throttle(array_owner[id].first, array_owner[id].second, id, th,
                     st.decided ? st.decision.deciding_stage().stage : st.hold_reason));
  }
  // Submissions were added to `out` already; throttles and drains go before them.
  size_t first_submit = out.size();
  while (first_submit > 0 && out[first_submit - 1].kind == Action::Kind::kSubmit &&
         out[first_submit - 1].service == svc.name)
    --first_submit;
  std::vector<Action> ordered;
  for (auto& a : throttles) ordered.push_back(a);
  for (auto& a : drains) ordered.push_back(a);
  for (auto& a : ordered) {
    a.service = svc.name;
    st.actions.push_back(a.describe());
  }
  out.insert(out.begin() + static_cast<std::ptrdiff_t>(first_submit), ordered.begin(),
             ordered.end());
}

}  // namespace hs::scaler
