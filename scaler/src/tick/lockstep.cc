// Phase 2: a group's prefill and decode move together. A group whose new tasks stay pending
// past start_timeout is rolled back to the units both roles really run, so the ratio holds
// (the other role's started tasks are drained by the next tick's reconciliation); a group
// with nothing running is closed. A group out of ratio is repaired before any decision.
#include <algorithm>
#include <cstdint>

#include "hs/scaler/ratio_band.h"
#include "tick/service_tick.h"

namespace hs::scaler::tick {

namespace {

bool overdue(ServiceTick& t, TickTimers& timers, const GroupPools& gp) {
  bool late = false;
  for (Role role : {Role::kPrefill, Role::kDecode})
    for (const auto& a : gp.role(role).arrays) {
      uint32_t want = a.throttle == 0 ? 0 : std::min(a.throttle, a.running_serving() + a.pending);
      if (want > a.running_serving() && a.pending > 0) {
        auto [it, fresh] = timers.short_since.try_emplace(a.array_job_id, t.now);
        (void)fresh;
        if (t.now - it->second >= t.svc.scaling.start_timeout) late = true;
      } else {
        timers.short_since.erase(a.array_job_id);
      }
    }
  // A group with nothing running whose arrays all waited past start_timeout since they were
  // submitted is closed, not repaired: after a restart (timers lost) half of a rolled-back
  // group must not be completed again.
  bool nothing_running = gp.prefill.running_serving() == 0 && gp.decode.running_serving() == 0;
  bool all_old = true, any_pending = false;
  for (Role role : {Role::kPrefill, Role::kDecode})
    for (const auto& a : gp.role(role).arrays) {
      any_pending |= a.pending > 0;
      all_old &= a.submit_time > 0 && static_cast<double>(t.wall - a.submit_time) >=
                                          to_seconds(t.svc.scaling.start_timeout);
    }
  return late || (nothing_running && any_pending && all_old);
}

bool roll_back(ServiceTick& t, TickTimers& timers, const std::string& gname, const GroupPools& gp,
               const Variant& v) {
  bool changed = false;
  const double band = t.svc.ratio_band;
  const uint32_t run_p = gp.prefill.running_serving();
  uint32_t units = std::min(units_carried_by_prefill(run_p, v.ratio, band),
                            gp.decode.running_serving() / v.ratio.decode);
  for (Role role : {Role::kPrefill, Role::kDecode}) {
    // Prefill keeps what runs, up to the band's top for the units kept (exactly the ratio
    // without a band).
    uint32_t keep = role == Role::kPrefill ? std::min(run_p, prefill_band(units, v.ratio, band).hi)
                                           : units * v.ratio.decode;
    for (const auto& a : gp.role(role).arrays) {
      timers.short_since.erase(a.array_job_id);
      uint32_t mine = std::min(keep, a.running_serving());
      keep -= mine;
      Action act;
      act.group = gname;
      act.role = role;
      act.job_id = a.array_job_id;
      bool runs = std::any_of(a.tasks.begin(), a.tasks.end(),
                              [](const PoolTask& x) { return x.state == JobState::kRunning; });
      if (mine == 0 && runs) {
        // Its running tasks serve (or finish) requests: closed as a shrink closes a pool, its
        // pending indices cancelled and its serving tasks drained (cancelled once idle),
        // never killed with requests in flight.
        std::string why = "rollback: pending past start_timeout and nothing of the ratio running";
        if (a.pending > 0) t.add(cancel_pending(gname, role, a, why));
        for (const auto& task : a.tasks)
          if (task.state == JobState::kRunning && !task.draining())
            t.add(mark_task(gname, task, Mark::kDrain, t.wall, why));
        changed = true;
        continue;
      }
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
      t.add(act);
      changed = true;
    }
  }
  return changed;
}

}  // namespace

bool roll_back_overdue(ServiceTick& t, TickTimers& timers, bool reconciled) {
  for (const auto& [gname, gp] : t.groups) {
    if (t.frozen(gname)) {  // held by an admin: not rolled back, and no timer runs meanwhile
      for (Role role : {Role::kPrefill, Role::kDecode})
        for (const auto& a : gp.role(role).arrays) timers.short_since.erase(a.array_job_id);
      continue;
    }
    // The timers run whether or not this tick may act on them.
    if (!overdue(t, timers, gp) || reconciled) continue;
    const Variant* v = t.svc.variant_named(gp.variant);
    if (!v) continue;
    reconciled |= roll_back(t, timers, gname, gp, *v);
  }
  return reconciled;
}

bool ratio_out_of_line(const ServiceTick& t, std::string* reason) {
  bool out = false;
  for (const auto& [gname, gp] : t.groups) {
    const Variant* v = t.svc.variant_named(gp.variant);
    if (!v || t.frozen(gname)) continue;
    uint32_t tp = counted(gp.prefill), td = counted(gp.decode);
    // In line: decode whole units, prefill inside the band for them (the ratio band of the
    // current decision is not "repaired" back to the calibrated ratio).
    uint32_t units = group_units(tp, td, v->ratio, t.svc.ratio_band);
    if (td == units * v->ratio.decode && prefill_band(units, v->ratio, t.svc.ratio_band).holds(tp))
      continue;
    out = true;
    *reason = "repairing the P:D ratio of group " + gname + " (" + std::to_string(tp) + ":" +
              std::to_string(td) + ")";
  }
  return out;
}

}  // namespace hs::scaler::tick
