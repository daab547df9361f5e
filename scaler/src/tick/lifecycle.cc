// Phase 3: tasks whose time limit is near or whose node is drained, failing or down are
// replaced before they go: mark them (replace=), raise throttles (or continue an exhausted
// array) so successors start, and once those are registered, lower the throttles and turn the
// marks into drains. The marks live in Slurm, so a restart resumes the round.
#include <algorithm>
#include <cstdint>

#include "tick/service_tick.h"

namespace hs::scaler::tick {

namespace {

// The successors are ready: the throttles come down by the replaced tasks, which drain.
void finish_round(ServiceTick& t, const std::string& gname, Role role, const RolePool& rp,
                  const std::vector<const PoolTask*>& marked) {
  for (const auto& a : rp.arrays) {
    uint32_t r = a.replacing();
    if (r == 0) continue;
    if (a.throttle > r)
      t.add(set_throttle(gname, role, a.array_job_id, a.throttle - r, "replacements ready"));
    else if (a.pending > 0)
      t.add(cancel_pending(gname, role, a, "replacements ready; the array closes"));
  }
  for (const PoolTask* task : marked)
    t.add(mark_task(gname, *task, Mark::kDrain, t.wall, "replaced: its successor is ready"));
}

void start_round(ServiceTick& t, const std::string& gname, const GroupPools& gp, Role role,
                 const std::vector<const PoolTask*>& expiring) {
  const RolePool& rp = gp.role(role);
  for (const PoolTask* task : expiring)
    t.add(mark_task(gname, *task, Mark::kReplace, t.wall,
                    t.unavailable_nodes.count(task->node)
                        ? "node " + task->node + " is drained, failing or down"
                        : "time limit in " + std::to_string(task->end_time - t.wall) + " s"));
  uint32_t need = static_cast<uint32_t>(expiring.size());
  for (const auto& a : rp.arrays) {
    if (need == 0 || a.throttle == 0) break;
    uint32_t room = a.running_serving() + a.pending > a.throttle
                        ? a.running_serving() + a.pending - a.throttle
                        : 0;
    uint32_t n = std::min(room, need);
    if (n == 0) continue;
    t.add(set_throttle(gname, role, a.array_job_id, a.throttle + n,
                       "start " + std::to_string(n) + " replacement(s)"));
    need -= n;
  }
  if (need > 0) {
    std::string constraint = rp.arrays.empty() ? "" : rp.arrays.back().features;
    submit_from_template(
        t, gname, role, gp.variant, constraint, need,
        "start " + std::to_string(need) + " replacement(s) (continuation: array exhausted)");
  }
}

}  // namespace

bool replace_expiring(ServiceTick& t, bool reconciled) {
  double lead = to_seconds(t.daemon.replace_before);
  for (const auto& [gname, gp] : t.groups) {
    if (reconciled) break;
    if (t.frozen(gname)) continue;  // a held array could not start successors
    for (Role role : {Role::kPrefill, Role::kDecode}) {
      const RolePool& rp = gp.role(role);
      std::vector<const PoolTask*> expiring, marked;
      uint32_t ready_new = 0;
      for (const auto& a : rp.arrays)
        for (const auto& task : a.tasks) {
          if (task.state != JobState::kRunning || task.draining()) continue;
          if (task.replacing()) {
            marked.push_back(&task);
            continue;
          }
          if (t.registered(task.id())) ++ready_new;
          // A limit shorter than twice the lead time would have successors replaced at once.
          bool near_end = task.end_time > 0 && task.end_time - t.wall <= lead &&
                          static_cast<double>(task.end_time - task.start_time) > 2 * lead;
          if (near_end || t.unavailable_nodes.count(task.node)) expiring.push_back(&task);
        }
      if (!marked.empty()) {
        // Ready when the unmarked, registered tasks fill what the pool counts.
        if (ready_new < counted(rp)) continue;
        finish_round(t, gname, role, rp, marked);
        reconciled = true;
        continue;
      }
      if (expiring.empty()) continue;
      start_round(t, gname, gp, role, expiring);
      reconciled = true;
    }
  }
  return reconciled;
}

}  // namespace hs::scaler::tick
