// Slurm's job records seen as heteroscale's pools: jobs whose comment carries a JobTag are
// grouped by service, deployment group and role into arrays and their tasks. Pure: built from
// one slurm_load_jobs snapshot, so after any restart of the daemon the same records give the
// same view (Slurm is the truth: throttles, running tasks, drain marks).
//
// Per array the daemon keeps one invariant: the throttle is the number of tasks that should
// be running and serving; tasks marked draining run *above* it until they are cancelled, so
// lowering the throttle (first) and marking drains (second) never lets a pending task start.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hs/common/job_tag.h"
#include "hs/scaler/slurm_api.h"

namespace hs::scaler {

struct PoolTask {
  uint32_t job_id = 0;  // the task's own job id (what cancel and comment updates take)
  uint32_t array_job_id = 0;
  uint32_t task_id = 0;
  JobState state = JobState::kRunning;
  std::string node;
  std::optional<int64_t> drain_since_unix_s;
  int64_t start_time = 0, end_time = 0;
  JobTag tag;
  std::string comment;  // the record's whole comment: the site's text around the tag is kept
  std::string id() const { return std::to_string(array_job_id) + "_" + std::to_string(task_id); }
  bool draining() const { return drain_since_unix_s.has_value(); }
  bool replacing() const { return !draining() && tag.replace_since_unix_s.has_value(); }
};

struct PoolArray {
  uint32_t array_job_id = 0;
  uint32_t throttle = 0;      // 0 = unlimited (never written by the daemon)
  uint32_t pending = 0;       // indices not started yet
  std::string pending_tasks;  // those indices, e.g. "4-15" (from the meta record)
  std::string pending_reason;
  int64_t pending_since = 0;  // the meta record's submit or eligible time (start estimate)
  int64_t submit_time = 0;    // when the array was submitted (Unix seconds)
  std::string features, partition, tres_per_node;
  uint32_t user_id = 0;
  std::vector<PoolTask> tasks;  // running, suspended or completing

  uint32_t running_serving() const;  // running, not draining
  uint32_t draining() const;
  uint32_t replacing() const;  // serving, marked to be replaced
  // Held by `scontrol hold` (an admin's or the user's): its pending indices wait.
  bool held() const { return pending_reason == "JobHeldAdmin" || pending_reason == "JobHeldUser"; }
};

struct RolePool {
  std::vector<PoolArray> arrays;  // ascending array id (oldest first)
  uint32_t running_serving() const;
  uint32_t draining() const;
  uint32_t pending() const;
  uint32_t replacing() const;
  // Instances the pool is meant to have: the throttles (capped by what each array can still
  // start), i.e. running-and-serving plus those Slurm will start.
  uint32_t target() const;
};

struct GroupPools {
  std::string service, group, variant;
  RolePool prefill, decode;
  RolePool& role(Role r) { return r == Role::kPrefill ? prefill : decode; }
  const RolePool& role(Role r) const { return r == Role::kPrefill ? prefill : decode; }
};

struct ClusterView {
  // service -> group -> pools
  std::map<std::string, std::map<std::string, GroupPools>> services;
  // Jobs whose comment claims to be a tag but is not one: "job 123: role: ..."
  std::vector<std::string> problems;
  // The task "ARRAY_TASK" (PoolTask::id()), or nullptr. A scan of every array: for many
  // lookups in one pass, build a TaskIndex.
  const PoolTask* find_task(const std::string& id) const;
};

// "ARRAY_TASK" -> (array job id, task id); nullopt for anything else.
std::optional<std::pair<uint32_t, uint32_t>> parse_task_id(std::string_view id);

// Every task of a view by id, for passes that look up each registration or instance (a
// find_task per registration made the served endpoint set quadratic: 1.2 s at 10,000).
// Points into the view: it must outlive the index and not change.
class TaskIndex {
 public:
  explicit TaskIndex(const ClusterView& v);
  const PoolTask* find(std::string_view id) const;

 private:
  std::unordered_map<uint64_t, const PoolTask*> by_id_;
};

ClusterView build_view(const std::vector<SlurmJob>& jobs);

}  // namespace hs::scaler
