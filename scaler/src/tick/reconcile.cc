// Phase 1: every array's drain marks against its throttle, and drained tasks to their end.
// Runs every tick, so a crash between any two Slurm writes converges here.
#include <algorithm>
#include <cstdint>

#include "tick/service_tick.h"

namespace hs::scaler::tick {

namespace {

// The throttle says more tasks are meant to serve than do, while some drain: revive those
// (warm) instead of letting Slurm start cold ones after they end. A crash between a revival's
// throttle raise and its mark clearing, or an admin's throttle raise, converges here. (Slurm
// counts draining tasks against the throttle, so none would start meanwhile.) Not in an array
// whose every task drains: that is a pool being closed (pending indices cancelled, the
// throttle left as it was since 0 would mean unlimited), above its serving count on purpose.
bool revive_below_throttle(ServiceTick& t, const std::string& gname, const PoolArray& a,
                           size_t serving, std::set<std::string>& revived) {
  if (a.throttle == 0 || serving >= a.throttle || serving == 0) return false;
  size_t deficit = a.throttle - serving;
  double lead = to_seconds(t.daemon.replace_before);
  bool changed = false;
  for (const auto& task : a.tasks) {
    if (deficit == 0) break;
    bool near_end = task.end_time > 0 && static_cast<double>(task.end_time - t.wall) <= lead;
    // Registration is not required: right after a restart it comes back with the next
    // heartbeat, and the task is running in Slurm. One stopping by itself is not revived.
    const Registration* r = t.registration(task.id());
    bool stopping = r && r->self_draining;
    if (!task.draining() || task.state != JobState::kRunning || stopping ||
        t.unavailable_nodes.count(task.node) || near_end)
      continue;
    revived.insert(task.id());
    t.add(mark_task(gname, task, Mark::kUndrain, t.wall,
                    "throttle " + std::to_string(a.throttle) + " above " + std::to_string(serving) +
                        " serving: revived"));
    --deficit;
    changed = true;
  }
  return changed;
}

// More serving than the throttle: drain the excess, unavailable nodes first, then the newest.
bool drain_above_throttle(ServiceTick& t, const std::string& gname, const PoolArray& a,
                          std::vector<const PoolTask*> serving) {
  if (a.throttle == 0 || serving.size() <= a.throttle) return false;
  std::sort(serving.begin(), serving.end(), [&](const PoolTask* x, const PoolTask* y) {
    bool ux = t.unavailable_nodes.count(x->node), uy = t.unavailable_nodes.count(y->node);
    if (ux != uy) return ux;
    return x->task_id > y->task_id;
  });
  for (size_t i = 0; i < serving.size() - a.throttle; ++i)
    t.add(mark_task(
        gname, *serving[i], Mark::kDrain, t.wall,
        std::to_string(serving.size()) + " serving above throttle " + std::to_string(a.throttle)));
  return true;
}

// Nothing in flight at the router and the engine, seen after the router had time to take the
// drain (two ticks).
bool idle(const ServiceTick& t, const Registration& r, double drained_for, bool router_needed) {
  const ServiceMetrics* m = t.metrics;
  if (!m || (!m->router_known && router_needed) || drained_for < 2 * to_seconds(t.daemon.tick))
    return false;
  double in = 0;
  if (auto it = m->router_outstanding.find(r.url); it != m->router_outstanding.end())
    in += it->second;
  if (auto it = m->engine_in_flight.find(r.url); it != m->engine_in_flight.end())
    in += it->second;
  else
    in += 1;  // engine not scraped: not known to be idle
  return in == 0;
}

// Drained tasks: cancelled at the drain timeout, when no longer registered, or once idle for
// the soft scale-in grace; within the grace a latency breach puts one back.
bool finish_drains(ServiceTick& t, TickTimers& timers, const std::string& gname, Role role,
                   const PoolArray& a, const std::set<std::string>& revived, bool latency_breach) {
  bool changed = false;
  bool router_needed = t.daemon.routers.count(t.svc.name) > 0;
  uint32_t put_back = 0;  // this tick, in this array: the throttle rises by each
  for (const auto& task : a.tasks) {
    // A completing task is already on its way out: nothing to cancel.
    if (!task.draining() || task.state != JobState::kRunning || revived.count(task.id())) continue;
    const Registration* r = t.registration(task.id());
    double drained_for = static_cast<double>(t.wall - *task.drain_since_unix_s);
    Action cancel = cancel_task(gname, task, "");
    if (drained_for >= to_seconds(t.daemon.drain_timeout)) {
      cancel.why = "drain timeout (" + std::to_string(static_cast<int64_t>(drained_for)) + " s)";
      t.add(cancel);
      continue;
    }
    if (!r) {
      // After a restart registrations come back with the next heartbeats: until a heartbeat
      // timeout has passed, a missing one proves nothing.
      if (t.now - t.started >= t.daemon.heartbeat_timeout) {
        cancel.why = "drained and no longer registered";
        t.add(cancel);
      }
      continue;
    }
    if (!idle(t, *r, drained_for, router_needed)) {
      timers.idle_since.erase(task.id());
      continue;
    }
    auto [it, fresh] = timers.idle_since.try_emplace(task.id(), t.now);
    (void)fresh;
    if (latency_breach && a.throttle != 0) {
      t.add(set_throttle(gname, role, a.array_job_id, a.throttle + ++put_back,
                         "put back " + task.id()));
      t.add(mark_task(gname, task, Mark::kUndrain, t.wall,
                      "soft scale-in: latency guard breached during the grace"));
      timers.idle_since.erase(task.id());
      changed = true;
      continue;
    }
    if (t.now - it->second >= t.svc.scaling.soft_scale_in_grace) {
      cancel.why = "drained: nothing in flight, grace over";
      t.add(cancel);
      timers.idle_since.erase(task.id());
    }
  }
  return changed;
}

}  // namespace

bool reconcile_marks(ServiceTick& t, TickTimers& timers, bool latency_breach) {
  bool reconciled = false;
  std::set<std::string> revived;
  t.st.counts.clear();
  t.st.group_variants.clear();
  for (const auto& [gname, gp] : t.groups) {
    t.st.group_variants[gname] = gp.variant;
    for (Role role : {Role::kPrefill, Role::kDecode}) {
      const RolePool& rp = gp.role(role);
      uint32_t ready = 0;
      for (const auto& a : rp.arrays) {
        std::vector<const PoolTask*> serving;
        for (const auto& task : a.tasks)
          if (task.state == JobState::kRunning && !task.draining()) {
            serving.push_back(&task);
            if (t.registered(task.id())) ++ready;
          }
        reconciled |= revive_below_throttle(t, gname, a, serving.size(), revived);
        reconciled |= drain_above_throttle(t, gname, a, serving);
        reconciled |= finish_drains(t, timers, gname, role, a, revived, latency_breach);
      }
      t.st.counts[gname][std::string(to_string(role))] = {rp.target(), ready};
    }
  }
  return reconciled;
}

}  // namespace hs::scaler::tick
