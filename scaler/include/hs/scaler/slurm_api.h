// What the daemon needs from Slurm, as plain values and one narrow interface. The real
// implementation (libslurm_api.cc, linked only into heteroscaled and its tests) uses calls
// that exist from Slurm 22.05 to 24.x: slurm_load_jobs, slurm_load_job, slurm_load_node,
// slurm_update_job, slurm_kill_job2; submissions go through the sbatch command (sbatch_argv). Unit
// tests use SimSlurm. Every call may block while slurmctld is unreachable, so the daemon makes them
// on one thread of its own.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/common/role.h"

namespace hs::scaler {

enum class JobState { kPending, kRunning, kSuspended, kCompleting, kFinished };
std::string_view to_string(JobState s);

// One record of slurm_load_jobs: a running/finished array task has its own record; the
// array's pending tasks share one "meta" record (no task id, `pending_tasks` names them).
struct SlurmJob {
  uint32_t job_id = 0;
  uint32_t array_job_id = 0;              // 0: not an array
  std::optional<uint32_t> array_task_id;  // empty on the pending meta record
  std::string pending_tasks;              // meta record: e.g. "3-31" (throttle suffix removed)
  uint32_t array_max_tasks = 0;           // the throttle; 0 = unlimited
  JobState state = JobState::kPending;
  std::string state_reason;  // e.g. "JobArrayTaskLimit", "Resources"
  std::string comment;
  std::string name;
  std::string nodes;     // allocated nodes (Slurm host list), empty when pending
  std::string features;  // the job's --constraint
  std::string partition;
  uint32_t user_id = 0;
  int64_t submit_time = 0;    // Unix seconds
  int64_t start_time = 0;     // Unix seconds (actual, or expected when pending)
  int64_t end_time = 0;       // Unix seconds: when the time limit ends it (0: none)
  std::string tres_per_node;  // e.g. "gres:gpu:h100:1"
};

struct SlurmNode {
  std::string name;
  std::string state;   // base state in lower case: "idle", "mixed", "allocated", "down", ...
  bool drain = false;  // DRAIN flag (draining or drained: no new work)
  bool not_responding = false;
  bool fail = false;      // FAIL flag or maintenance
  std::string gres;       // e.g. "gpu:h100:4"
  std::string gres_used;  // e.g. "gpu:h100:2(IDX:0-1)"
  std::string features;   // e.g. "leaf1,h100"
  std::string reason;
};

// The slurmctld settings a graceful stop depends on (slurm_load_ctl_conf,
// slurm_load_partitions), read at start and on SIGHUP and checked by site_check.h.
struct SlurmPartition {
  std::string name;
  bool is_default = false;
  bool preemptable = true;    // its PreemptMode (or the cluster's) is not OFF
  uint32_t grace_time_s = 0;  // GraceTime: from the preemption warning to TERM
};
struct SlurmSiteConfig {
  uint32_t kill_wait_s = 30;         // KillWait: from TERM to KILL
  std::string preempt_type;          // PreemptType, e.g. "preempt/partition_prio"
  bool preempt_user_signal = false;  // preempt_send_user_signal (24.11: send_user_signal)
  std::vector<SlurmPartition> partitions;
};

// A batch array the daemon submits from a service's template (a new deployment group, or a
// continuation of a pool whose array has no pending index left).
// The real implementation runs `sbatch --parsable` with these as options, so that the
// template's #SBATCH lines, SPANK options, cli_filter and SBATCH_* defaults apply exactly as
// for a person submitting it.
struct SubmitSpec {
  std::string name;
  std::string script;       // the batch script's text (SimSlurm; sbatch's stdin without a path)
  std::string script_path;  // the template: what sbatch reads, as a person would run it
  std::string comment;      // the JobTag
  std::string array;        // e.g. "0-63%1"
  std::string partition, qos, account, reservation;
  std::string constraint;     // node features, e.g. "leaf1"
  std::string tres_per_node;  // e.g. "gres:gpu:h100:1"
  std::string work_dir;
  std::string std_out;  // Slurm's %A/%a patterns allowed
  std::string signal;   // sbatch --signal, e.g. "B:USR1@135" (not added when the template sets it)
  uint32_t time_limit_min = 0;           // 0: the partition's default
  std::vector<std::string> environment;  // "K=V": exported to the job (--export of the names)
  Role role = Role::kDecode;             // for the plugin's --hs-role where sbatch knows it
};

class SlurmApi {
 public:
  virtual ~SlurmApi() = default;
  virtual Result<std::vector<SlurmJob>> load_jobs() = 0;
  virtual Result<std::vector<SlurmNode>> load_nodes() = 0;
  // One job's record (slurm_load_job): for an array id, its meta record (or, when every index
  // has started, the record that took over the array's id). NotFound when Slurm has none.
  virtual Result<SlurmJob> load_job(uint32_t job_id) = 0;
  // `max_running` >= 1: a throttle of 0 means unlimited to Slurm and is refused here.
  virtual Status set_throttle(uint32_t array_job_id, uint32_t max_running) = 0;
  virtual Status set_comment(uint32_t job_id, const std::string& comment) = 0;
  // Cancels one task ("A_i": Slurm refuses a task's own job id here), as scancel does: TERM,
  // then KILL after KillWait.
  virtual Status cancel_task(const std::string& task) = 0;
  // Cancels an array's pending tasks and its running ones (a pool closed for good).
  virtual Status cancel_array(uint32_t array_job_id) = 0;
  virtual Result<uint32_t> submit(const SubmitSpec& spec) = 0;
  virtual Result<SlurmSiteConfig> load_site_config() = 0;
};

// Whether a batch script's #SBATCH lines set `option` (e.g. "--signal"): the template's own
// choice is left to it.
bool template_sets(std::string_view script, std::string_view option);

// sbatch's argv for a submission (without the program name's path lookup): the daemon's own
// options on the command line, everything else left to the template. `with_role_option`:
// add --hs-role (only where the plugin is loaded and the template does not set it). The
// environment is exported by name (--export=NAMES): its values go in sbatch's own
// environment (sbatch_env), so a comma in a value cannot break --export's list.
std::vector<std::string> sbatch_argv(const SubmitSpec& s, bool with_role_option);
// Parses `sbatch --parsable` output ("123" or "123;cluster").
Result<uint32_t> parse_sbatch_output(const std::string& out);
// The "K=V" entries sbatch runs with so that --export=NAMES carries their values.
std::vector<std::string> sbatch_env(const SubmitSpec& s);

// Which jobs and nodes a read loads (daemon.slurm_reads): kOwn, the default, only the daemon
// user's jobs (the arrays it may change are its own) and the node table only when it changed;
// kAll every user's jobs, when the job table changed; kFull both whole on every read (what
// heteroscale 0.1 did; for comparison and diagnosis).
enum class SlurmReads { kOwn, kAll, kFull };
Result<SlurmReads> parse_slurm_reads(std::string_view s);

// libslurm, reading `slurm_conf` (empty: $SLURM_CONF or the default).
std::unique_ptr<SlurmApi> make_libslurm_api(const std::string& slurm_conf,
                                            SlurmReads reads = SlurmReads::kOwn);

}  // namespace hs::scaler
