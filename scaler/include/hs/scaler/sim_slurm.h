// SimSlurm: a simulated slurmctld behind SlurmApi, for the Controller's tests and hs-sim. It
// models what the daemon relies on, as the real one behaves on the loopback cluster (the
// conformance suite, tests/unit/scaler/slurm_conformance.cc, runs the same sequences against
// both and compares snapshots):
//  - job arrays: the meta record keeps the array's job id and the pending indices; a task
//    that starts gets a new job id, except the last pending index, which takes over the meta
//    record's id (Slurm's job_array_split); ArrayTaskThrottle caps running tasks, 0 = none;
//    an array never grows past its last index;
//  - a pending index starts when the throttle allows, the array is not held and a node with
//    the job's features has its GPUs free; `queue_wait_s` models the scheduler's latency (an
//    index must have been startable that long); reasons as Slurm names them;
//  - cancel of a task ends it at once (the completing phase is not modelled); cancel of a
//    task that has ended, or of an unknown id, is NotFound as ESLURM_ALREADY_DONE /
//    ESLURM_INVALID_JOB_ID are; ended records are purged after MinJobAge;
//  - comments per record (a task's update touches that task only); drained nodes take no new
//    work (pending reason ReqNodeNotAvail); a failed node ends its tasks; time limits end
//    tasks at start + limit.
// Time is what the caller says (advance_to), never the wall clock. Not thread-safe: the daemon
// and hs-sim call it from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hs/common/id_set.h"
#include "hs/scaler/slurm_api.h"

namespace hs::scaler {

struct SimNode {
  std::string name;
  std::string gpu_type;
  uint32_t gpus = 0;
  std::vector<std::string> features;  // e.g. {"leaf1", "h100"}
};

struct SimSlurmOptions {
  double queue_wait_s = 0;         // how long an index must be startable before it starts
  int64_t min_job_age_s = 300;     // ended records are kept this long (slurm.conf MinJobAge)
  uint32_t max_array_size = 1001;  // slurm.conf MaxArraySize: indices must be below it
  uint32_t first_job_id = 1;
  uint32_t user_id = 0;  // the submitting user, as every record shows it
  // A site's job_submit plugin: may rewrite a submission's comment (empty: none).
  std::function<std::string(const std::string& comment)> job_submit_comment;
  SlurmSiteConfig site;  // what load_site_config() answers
};

class SimSlurm final : public SlurmApi {
 public:
  SimSlurm(std::vector<SimNode> nodes, int64_t now_unix_s, SimSlurmOptions options = {});
  // The nodes of a real cluster's load_nodes() (GPU type and count from gres, features).
  static std::vector<SimNode> nodes_like(const std::vector<SlurmNode>& real);

  // Moves the clock forward (never back) and runs the scheduler: time limits, purges, starts.
  void advance_to(int64_t now_unix_s);
  int64_t now() const { return now_; }
  // The earliest time after now() at which the scheduler changes something by itself (a
  // startable index's queue wait over, a time limit reached): a caller that moves time by
  // events (hs-sim) advances to it. None while nothing is due without a call.
  std::optional<int64_t> next_change() const;

  // The world and the admins, outside the daemon's SlurmApi.
  Status drain_node(const std::string& node, const std::string& reason);
  Status resume_node(const std::string& node);
  Status fail_node(const std::string& node);  // DOWN: its tasks end (NODE_FAIL)
  Status hold(uint32_t array_job_id);         // scontrol hold: pending indices wait
  Status release(uint32_t array_job_id);
  uint64_t calls() const { return calls_; }  // SlurmApi calls made (reads and writes)

  Result<std::vector<SlurmJob>> load_jobs() override;
  Result<std::vector<SlurmNode>> load_nodes() override;
  Result<SlurmJob> load_job(uint32_t job_id) override;
  Status set_throttle(uint32_t array_job_id, uint32_t max_running) override;
  Status set_comment(uint32_t job_id, const std::string& comment) override;
  Status cancel_task(const std::string& task) override;
  Status cancel_array(uint32_t array_job_id) override;
  Result<uint32_t> submit(const SubmitSpec& spec) override;
  Result<SlurmSiteConfig> load_site_config() override {
    ++calls_;
    return options_.site;
  }

 private:
  struct Task {
    uint32_t job_id = 0, index = 0;
    JobState state = JobState::kRunning;
    std::string node, comment;
    int64_t start = 0, end = 0;  // end: when it ended, or when its time limit ends it
    bool ended() const { return state == JobState::kFinished; }
  };
  struct Array {
    uint32_t id = 0;
    SubmitSpec spec;
    std::string gpu_type;
    uint32_t gpus_per_task = 0;
    IdSet pending;
    IdSet cancelled;  // indices cancelled before they started (the ended meta record)
    int64_t cancelled_at = 0;
    uint32_t throttle = 0;
    bool held = false;
    int64_t submit_time = 0;
    int64_t startable_since = -1;  // -1: not startable now
    std::string reason;
    std::string meta_comment;
    std::vector<Task> tasks;
    uint32_t running() const;
  };
  struct Node {
    SimNode spec;
    uint32_t used = 0;
    bool drain = false, down = false;
    std::string reason;
  };

  void schedule();
  void end_task(const Array& a, Task& t);  // frees its GPUs; ended now
  Node* node_for(const Array& a);
  bool matches(const Node& n, const Array& a) const;
  Array* array_of(uint32_t job_id);

  std::vector<Node> nodes_;
  std::map<uint32_t, Array> arrays_;  // by array job id, ascending = submission order
  SimSlurmOptions options_;
  int64_t now_ = 0;
  uint32_t next_id_ = 1;
  uint64_t calls_ = 0;
};

}  // namespace hs::scaler
