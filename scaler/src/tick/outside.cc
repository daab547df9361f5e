// Changes an admin (or another tool) made to a managed array between two ticks, found by
// comparing Slurm's view with what the daemon saw and wrote last tick. Slurm's job records do
// not say who made a change (slurmctld's log does: "_update_job: ... uid=N"); the report says
// what changed and which rule the daemon follows (docs/admin-guide.md, "Changes made by
// hand"):
//  - ArrayTaskThrottle lowered: the tasks above it drain gracefully (reconcile, phase 1) and
//    the group's other role is lowered to the same units in the same tick, so the group
//    keeps its P:D at the admin's size (the policy may grow it again when load needs it:
//    to cap a service, lower its bounds or pause the daemon);
//  - ArrayTaskThrottle raised: followed; Slurm starts the tasks, the policy counts them and
//    the group's P:D is repaired by growing its other role;
//  - a serving task ended without the daemon cancelling it (scancel, a node failure or the
//    time limit): Slurm starts the array's next index if the throttle allows; nothing else;
//  - an array held (scontrol hold): its group is frozen (no growth, shrink, rollback, ratio
//    repair or replacement in it; growth goes to other groups) until it is released.
// After a restart the first tick is the baseline: nothing is reported for it.
#include <algorithm>
#include <cstdint>

#include "hs/scaler/ratio_band.h"
#include "tick/service_tick.h"

namespace hs::scaler::tick {

namespace {

std::string where(uint32_t array, const std::string& group, Role role) {
  return "array " + std::to_string(array) + " (group " + group + " " +
         std::string(to_string(role)) + ")";
}

}  // namespace

void note_outside_changes(ServiceTick& t, OutsideMemory& m) {
  auto report = [&](std::string s) { t.st.outside_changes.push_back("outside change: " + s); };
  for (const auto& [gname, gp] : t.groups)
    for (Role role : {Role::kPrefill, Role::kDecode})
      for (const auto& a : gp.role(role).arrays) {
        if (a.held()) t.frozen_groups.insert(gname);
        auto seen = m.arrays.find(a.array_job_id);
        if (seen == m.arrays.end()) continue;
        const OutsideMemory::Array& was = seen->second;
        std::string w = where(a.array_job_id, gname, role);
        if (a.throttle < was.throttle) t.lowered_outside.insert({gname, role});
        if (a.throttle != was.throttle)
          report("ArrayTaskThrottle of " + w + " " + std::to_string(was.throttle) + " -> " +
                 std::to_string(a.throttle) + ", not written by the daemon: " +
                 (a.throttle < was.throttle ? "the tasks above it drain; the other role follows"
                                            : "followed; the group's ratio is repaired"));
        for (uint32_t id : was.serving) {
          bool still = false;
          for (const auto& task : a.tasks)
            if (task.task_id == id && task.state == JobState::kRunning) still = true;
          std::string task_id = std::to_string(a.array_job_id) + "_" + std::to_string(id);
          if (!still && !m.cancelled.count(task_id))
            report("task " + task_id + " of " + w +
                   " ended without the daemon cancelling it (scancel, node failure or time "
                   "limit): Slurm starts the next index if the throttle allows");
        }
        if (a.held() && !was.held)
          report(w + " held (" + a.pending_reason + "): group " + gname +
                 " is frozen until it is released");
        if (!a.held() && was.held) report(w + " released: group " + gname + " is managed again");
      }
}

bool follow_outside_lowering(ServiceTick& t) {
  bool changed = false;
  for (const auto& [gname, role] : t.lowered_outside) {
    const GroupPools& gp = t.groups.at(gname);
    const Variant* v = t.svc.variant_named(gp.variant);
    if (!v || t.frozen(gname)) continue;
    Role other = role == Role::kPrefill ? Role::kDecode : Role::kPrefill;
    if (t.lowered_outside.count({gname, other})) continue;  // both set by hand: as they are
    // The units the lowered role still carries; the other role keeps what they hold (decode
    // whole units, prefill up to the ratio band's top for them).
    const double band = t.svc.ratio_band;
    uint32_t mine = counted(gp.role(role));
    uint32_t units = role == Role::kPrefill ? units_carried_by_prefill(mine, v->ratio, band)
                                            : mine / v->ratio.decode;
    uint32_t keep = std::max<uint32_t>(
        role == Role::kPrefill ? units * v->ratio.decode : prefill_band(units, v->ratio, band).hi,
        1);
    uint32_t have = counted(gp.role(other));
    if (have <= keep) continue;
    uint32_t cut = have - keep;
    // Newest arrays first, never to 0 (0 means unlimited): an array left with nothing
    // keeps 1 and the next ticks' policy and repair settle it.
    const auto& arrays = gp.role(other).arrays;
    for (auto it = arrays.rbegin(); it != arrays.rend() && cut > 0; ++it) {
      uint32_t th = it->throttle;
      if (th <= 1) continue;
      uint32_t down = std::min(cut, th - 1);
      t.add(set_throttle(
          gname, other, it->array_job_id, th - down,
          "follows the " + std::string(to_string(role)) + " throttle lowered outside the daemon"));
      cut -= down;
      changed = true;
    }
  }
  return changed;
}

void remember(const ServiceTick& t, OutsideMemory& m) {
  m.arrays.clear();
  m.cancelled.clear();
  for (const auto& [gname, gp] : t.groups)
    for (Role role : {Role::kPrefill, Role::kDecode})
      for (const auto& a : gp.role(role).arrays) {
        OutsideMemory::Array& r = m.arrays[a.array_job_id];
        r.throttle = a.throttle;
        r.held = a.held();
        for (const auto& task : a.tasks)
          if (task.state == JobState::kRunning) r.serving.insert(task.task_id);
      }
  // The daemon's own writes this tick are not outside changes next tick.
  for (const auto& act : t.out) {
    if (act.kind == Action::Kind::kThrottle) m.arrays[act.job_id].throttle = act.value;
    if (act.kind == Action::Kind::kCancelTask) m.cancelled.insert(act.task);
    if (act.kind == Action::Kind::kCancelArray) m.arrays.erase(act.job_id);
  }
}

}  // namespace hs::scaler::tick
