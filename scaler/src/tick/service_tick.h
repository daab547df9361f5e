// One service's tick, phase by phase. controller.cc runs the phases in this order:
//  1. reconcile.cc   marks and drains against the throttles (every array, every tick);
//  2. lockstep.cc    rollback of a group pending past start_timeout; P:D ratio repair;
//  3. lifecycle.cc   replacement of tasks near their time limit or on unavailable nodes;
//  4. the policy     (injected) on the pool as the policy sees it (pool_state());
//  5. actuation.cc   the decision as an ordered action plan, after the tick's one placement.
// A phase that changed Slurm's state ends the service's tick (the next tick decides from
// the state it produced). Internal to hs_scaler_daemon.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hs/scaler/controller.h"

namespace hs::scaler::tick {

// The inputs every phase reads and the actions and status they write.
struct ServiceTick {
  // `regs`: this service's registrations; `unavailable`: the tick's, shared by every service
  // (both found once per tick: scanning them per service was quadratic at scale).
  ServiceTick(const ServiceConfig& svc, const DaemonSettings& daemon, const SlurmSnapshot& slurm,
              const std::vector<const Registration*>& regs,
              const std::set<std::string>& unavailable, const ServiceMetrics* metrics,
              TimePoint now, TimePoint started, int64_t wall, ServiceStatus& st);
  const ServiceConfig& svc;
  const DaemonSettings& daemon;
  const SlurmSnapshot& slurm;
  const std::map<std::string, GroupPools>& groups;  // this service's, from Slurm's view
  const ServiceMetrics* metrics;                    // null: no scrape this tick
  TimePoint now, started;
  int64_t wall;
  std::map<std::string, const Registration*> reg_by_id;  // heartbeat fresh
  // Nodes whose tasks must move: drained, failing or down (unavailable_nodes()).
  const std::set<std::string>& unavailable_nodes;
  ServiceStatus& st;
  std::vector<Action> out;  // this service's actions, in the order they must run
  // Groups with a held array: the admin's until released (outside.cc).
  std::set<std::string> frozen_groups;
  std::set<std::pair<std::string, Role>> lowered_outside;  // group, role: throttle lowered
  bool frozen(const std::string& group) const { return frozen_groups.count(group) > 0; }

  // Records `a` (service set, described in the status) and appends it to `to` (default out).
  void add(Action a, std::vector<Action>* to = nullptr);
  bool registered(const std::string& id) const { return reg_by_id.count(id) > 0; }
  const Registration* registration(const std::string& id) const;
};

// Nodes whose tasks must move: drained, failing or down. Not "not responding" or "unknown":
// those also follow every slurmctld restart for a moment, and must not replace a fleet.
std::set<std::string> unavailable_nodes(const std::vector<SlurmNode>& nodes);

// Timers the Controller keeps across ticks (lost on restart, rebuilt conservatively).
struct TickTimers {
  std::map<std::string, TimePoint>& idle_since;  // drained task -> nothing in flight since
  std::map<uint32_t, TimePoint>& short_since;    // array -> fewer running than its throttle since
};

// Instances a role counts: what the throttles will run, less the tasks being replaced (their
// successors are in the throttle already).
uint32_t counted(const RolePool& rp);
uint32_t ceil_div(uint32_t a, uint32_t b);

// --- GPU inventory (gpu_inventory.cc) ---
using DomainNodes = std::map<std::string, std::set<std::string>>;  // switch -> its nodes
// The switch a group's arrays are constrained to ("*": none named).
std::string group_domain(const GroupPools& gp, const DomainNodes& domains);
// Deducts the GPUs that raised throttles will take (tasks not started yet) from `inv`.
void reserve_unstarted(std::vector<NodeInventory>& inv, const ClusterView& view,
                       const ServicesConfig& services, const DomainNodes& domains);

// --- action constructors (actions.cc) ---
enum class Mark { kDrain, kUndrain, kReplace };
Action mark_task(const std::string& group, const PoolTask& t, Mark m, int64_t wall,
                 std::string why);
Action cancel_task(const std::string& group, const PoolTask& t, std::string why);
// Cancels an array's pending indices (closing it: a throttle of 0 would mean unlimited).
Action cancel_pending(const std::string& group, Role role, const PoolArray& arr, std::string why);
Action set_throttle(const std::string& group, Role role, uint32_t array_job_id, uint32_t value,
                    std::string why);
// Submits `n` tasks of `role` for group `gname` from the service's template (a continuation
// or a new group) into `to`; without a template only a shortfall note in the status.
void submit_from_template(ServiceTick& t, const std::string& gname, Role role,
                          const std::string& variant, const std::string& constraint, uint32_t n,
                          const std::string& why, std::vector<Action>* to = nullptr);

// --- outside changes (outside.cc) ---
// What the daemon saw and wrote last tick, per array of one service.
struct OutsideMemory {
  struct Array {
    uint32_t throttle = 0;
    bool held = false;
    std::set<uint32_t> serving;  // task ids running
  };
  std::map<uint32_t, Array> arrays;
  std::set<std::string> cancelled;  // tasks ("A_i", "A_[list]") the daemon cancelled
};
// 0. Reports changes made outside the daemon into the status and fills t.frozen_groups.
void note_outside_changes(ServiceTick& t, OutsideMemory& m);
// 0b. Lowers the other role of a group whose throttle was lowered outside (same units).
bool follow_outside_lowering(ServiceTick& t);
// After the tick: Slurm's state as seen, with the daemon's own writes applied.
void remember(const ServiceTick& t, OutsideMemory& m);

// --- phases ---
// 1. Also fills the status' counts and group variants. True when it changed anything.
bool reconcile_marks(ServiceTick& t, TickTimers& timers, bool latency_breach);
// 2a. True when it rolled a group back (or `reconciled` already was: timers still run).
bool roll_back_overdue(ServiceTick& t, TickTimers& timers, bool reconciled);
// 2b. Groups whose roles are out of their variant's ratio, with the reason for the status.
bool ratio_out_of_line(const ServiceTick& t, std::string* reason);
// 3. True when it started or finished a replacement round (or `reconciled` already was).
bool replace_expiring(ServiceTick& t, bool reconciled);
// 4. The pool as the policy sees it.
PoolState pool_state(const ServiceTick& t);

// 5. The decision as actions: revivals and the placement request first (prepare), then,
// with the tick's one placement for all services, throttles, drains and submissions.
class Actuation {
 public:
  Actuation(ServiceTick& t, const PoolState& pool, uint32_t desired_prefill,
            uint32_t desired_decode, bool repairing);
  // Units to place (+ grow, - shrink); none when no placement is needed.
  std::optional<int64_t> prepare();
  // Appends the plan to the tick's actions; `placement` is the tick's (null if none asked).
  void finish(const PlacementResult* placement);

 private:
  void grow_role(const GroupPools& gp, Role role, uint32_t n, const std::string& why);
  // Scale-out revives a group's registered draining tasks in whole units of its ratio.
  void revive_units(const std::string& gname, const GroupPools& gp);
  void grow_from(const PlacementResult& pr);
  void shrink_from(const PlacementResult& pr);
  void lower_role(const GroupPools& gp, Role role, uint32_t n);
  void shape_prefill();
  std::string why() const;
  ServiceTick& t_;
  int64_t dp_, dd_;  // instances still to add (+) or remove (-) per role
  bool repairing_;
  double band_;   // the service's ratio_band (0: whole units of each group's ratio)
  double scale_;  // the decision's prefill per unit over the calibrated ratio's
  bool growing_ = false, shrinking_ = false;
  // Instances this tick adds (+) or takes out (-) per group and role, for shape_prefill.
  std::map<std::pair<std::string, Role>, int64_t> moved_;
  std::map<uint32_t, uint32_t> new_throttle_, old_throttle_;  // array id -> throttle
  std::map<uint32_t, std::pair<std::string, Role>> owner_;    // array id -> group, role
  std::vector<Action> drains_, submits_;                      // submits_ described already
};

}  // namespace hs::scaler::tick
