// One tick of heteroscaled, without threads or I/O: from Slurm's state (a ClusterView and its
// nodes), the registrations and the scraped metrics, to a decision per service and the Slurm
// actions that carry it out. The daemon executes the actions on its Slurm thread; tests feed
// snapshots by hand. Everything that must survive a restart is in Slurm (throttles, drain
// marks on tasks); what lives here (policy memory, drain timers) is rebuilt conservatively:
// cooldowns restart at the daemon's start.
//
// Reconciliation, per array, every tick (so a crash between any two Slurm writes converges):
//  - the throttle is the number of tasks meant to serve; running tasks without a drain mark
//    beyond it get one (newest first, tasks on unavailable nodes first);
//  - a draining task is cancelled once the router and the engine report nothing in flight and
//    the soft scale-in grace has passed, or at the drain timeout; within the grace a latency
//    guard breach puts it back (drain mark cleared, throttle raised);
//  - a scale-out first revives draining tasks, then raises throttles of existing groups
//    (placement decides which), continues an exhausted array with a new one, or opens a group.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hs/scaler/daemon_config.h"
#include "hs/scaler/placement.h"
#include "hs/scaler/policy.h"
#include "hs/scaler/pools.h"
#include "hs/scaler/registrations.h"
#include "hs/topo/fabric.h"

namespace hs::scaler {

struct ShortageState;
namespace tick {
struct ServiceTick;
struct OutsideMemory;
}  // namespace tick

struct Action {
  enum class Kind { kThrottle, kMarkDrain, kClearDrain, kCancelTask, kCancelArray, kSubmit };
  Kind kind = Kind::kThrottle;
  std::string service, group;
  Role role = Role::kDecode;
  uint32_t job_id = 0;  // array id (throttle) or task job id (drain marks, cancel)
  uint32_t value = 0;   // the new throttle
  std::string comment;  // drain marks: the full new comment
  std::string task;     // "A_i" for drain marks and cancels
  SubmitSpec submit;
  bool opens_group = false;  // a submission that opens a new deployment group
  std::string why;
  std::string describe() const;
};
std::string_view to_string(Action::Kind k);

struct SlurmSnapshot {
  uint64_t seq = 0;            // increases with every successful read
  std::vector<SlurmJob> jobs;  // as read (what --record writes); the view is built from them
  ClusterView view;
  std::vector<SlurmNode> nodes;
  TimePoint read_at;
  int64_t read_at_unix_s = 0;
};

// What the scrapes of one service gave, kept by the caller across ticks.
struct ServiceMetrics {
  MetricsWindow window;
  std::map<std::string, double> router_outstanding;  // engine URL -> in flight at the router
  std::map<std::string, double> engine_in_flight;    // engine URL -> running + waiting
  bool router_known = false;                         // a router scrape succeeded this tick
};

struct ServiceStatus {
  std::string service;
  Decision decision;
  bool decided = false;
  std::string hold_reason;  // when no decision was taken
  std::vector<std::string> actions;
  std::map<std::string, std::map<std::string, std::pair<uint32_t, uint32_t>>> counts;
  // group -> role -> (target, ready)
  std::map<std::string, std::string> group_variants;  // group -> its variant (job tag)
  // Changes made to managed arrays outside the daemon since the last tick, and the rule
  // followed (tick/outside.cc); the daemon logs them as warnings.
  std::vector<std::string> outside_changes;
};

class Controller {
 public:
  // `policy`: how each service decides (null: HeteroScalePolicy).
  Controller(DaemonConfig config, topo::Fabric fabric, TimePoint started,
             std::shared_ptr<const Policy> policy = nullptr);
  void reload(DaemonConfig config, topo::Fabric fabric);
  const DaemonConfig& config() const { return config_; }
  TimePoint started() const { return started_; }

  // `slurm`: the newest snapshot, or null when Slurm has not been read or is stale (then no
  // scale action is taken; drains keep their marks and wait).
  std::vector<Action> tick(const SlurmSnapshot* slurm, const std::vector<Registration>& regs,
                           const std::map<std::string, ServiceMetrics>& metrics, TimePoint now,
                           int64_t wall_unix_s);

  void set_paused(bool p) { paused_ = p; }
  bool paused() const { return paused_; }
  const std::map<std::string, ServiceStatus>& status() const { return status_; }
  // Ids of tasks the routers must not send new work to.
  const std::set<std::string>& draining_ids() const { return draining_ids_; }
  // Per service, per group: the P:D of the group's own variant (the router's ratio gate).
  GroupRatios ratios() const;

 private:
  // What a service's planning phases leave for actuation: the pool, the desired counts and
  // whether they repair a group's ratio rather than carry a decision.
  struct Plan {
    PoolState pool;
    uint32_t desired_prefill = 0, desired_decode = 0;
    bool repairing = false;
  };
  // Phases 1-4 (tick/service_tick.h); none when the service's tick ends before actuation.
  std::optional<Plan> plan_service(tick::ServiceTick& t);
  // After the tick's placement: yields for the growth placed short (shortage.h).
  void note_shortage(const std::deque<tick::ServiceTick>& ticks,
                     const std::vector<PlacementRequest>& requests, const PlacementResult& pr);

  DaemonConfig config_;
  topo::Fabric fabric_;
  TimePoint started_;
  std::shared_ptr<const Policy> policy_;
  bool paused_ = false;
  std::map<std::string, PolicyMemory> memory_;
  std::map<std::string, ServiceStatus> status_;
  std::set<std::string> draining_ids_;
  // Drained task id -> when nothing was in flight any more (start of the soft grace).
  std::map<std::string, TimePoint> idle_since_;
  // Switch name -> its nodes (every level), built when the fabric is set.
  std::map<std::string, std::set<std::string>> domain_nodes_;
  void index_fabric();
  std::vector<DeploymentGroup> deployment_groups(const std::string& service,
                                                 const std::map<std::string, GroupPools>& groups,
                                                 const std::set<std::string>& frozen) const;
  // Array id -> since when it has had fewer tasks running than its throttle asks for.
  std::map<uint32_t, TimePoint> short_since_;
  // Per service: Slurm's arrays as last seen and written (outside changes, tick/outside.cc).
  std::map<std::string, std::shared_ptr<tick::OutsideMemory>> outside_;
  // Lower-priority services giving units to a higher-priority one short of GPUs (shortage.h).
  std::shared_ptr<ShortageState> shortage_;
};

// Free GPUs per node from Slurm's gres and gres_used ("gpu:h100:4(S:0-1)",
// "gpu:h100:2(IDX:0-1)"); nodes down, drained or failing are unavailable.
std::vector<NodeInventory> inventory_from(const std::vector<SlurmNode>& nodes);

}  // namespace hs::scaler
