// SlurmApi over libslurm. Only calls present from 22.05 to 24.x; slurm.h is C, so it is
// included inside extern "C". libslurm keeps process-wide state (its configuration): it is
// initialised once, by the first make_libslurm_api().
#include <csignal>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>

#include <unistd.h>

#include "hs/common/id_set.h"
#include "hs/common/subprocess.h"
#include "hs/common/text.h"
#include "hs/scaler/slurm_api.h"

extern "C" {
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>
}

#include "slurm_shim.h"

namespace hs::scaler {
namespace {

std::string str(const char* s) { return s ? std::string(s) : std::string(); }

Error slurm_error(std::string_view what) {
  int e = slurm_shim::last_error();
  std::string msg = std::string(what) + ": " + str(slurm_strerror(e));
  // Communication failures mean slurmctld is down or unreachable: retry later.
  if (e == SLURM_COMMUNICATIONS_CONNECTION_ERROR || e == SLURM_COMMUNICATIONS_SEND_ERROR ||
      e == SLURM_COMMUNICATIONS_RECEIVE_ERROR || e == SLURM_COMMUNICATIONS_SHUTDOWN_ERROR ||
      e == SLURMCTLD_COMMUNICATIONS_CONNECTION_ERROR || e == SLURMCTLD_COMMUNICATIONS_SEND_ERROR ||
      e == SLURMCTLD_COMMUNICATIONS_RECEIVE_ERROR || e == SLURMCTLD_COMMUNICATIONS_SHUTDOWN_ERROR ||
      e == SLURM_PROTOCOL_SOCKET_IMPL_TIMEOUT || e == ESLURM_DISABLED)
    return unavailable(msg, "slurmctld");
  if (e == ESLURM_INVALID_JOB_ID || e == ESLURM_ALREADY_DONE) return not_found(msg, "slurmctld");
#if SLURM_VERSION_NUMBER >= SLURM_VERSION_NUM(23, 2, 0)
  // slurmctld's RPC rate limiting (rl_enable) refused the call after libslurm's own retries.
  if (e == SLURMCTLD_COMMUNICATIONS_BACKOFF)
    return unavailable(msg + " (rate limited)", "slurmctld");
#endif
  if (e == ESLURM_ACCESS_DENIED || e == ESLURM_USER_ID_MISSING)
    return permission_denied(msg, "slurmctld");
  return failed_precondition(msg, "slurmctld");
}

JobState job_state(uint32_t s) {
  if (s & JOB_COMPLETING) return JobState::kCompleting;
  switch (s & JOB_STATE_BASE) {
    case JOB_PENDING:
      return JobState::kPending;
    case JOB_RUNNING:
      return JobState::kRunning;
    case JOB_SUSPENDED:
      return JobState::kSuspended;
    default:
      return JobState::kFinished;
  }
}

// The reasons the daemon reports; the rest by number (slurm.h has no public name table).
std::string reason_name(uint16_t r) {
  switch (r) {
    case WAIT_NO_REASON:
      return "";
    case WAIT_PRIORITY:
      return "Priority";
    case WAIT_DEPENDENCY:
      return "Dependency";
    case WAIT_RESOURCES:
      return "Resources";
    case WAIT_PART_NODE_LIMIT:
      return "PartitionNodeLimit";
    case WAIT_HELD:
      return "JobHeldAdmin";
    case WAIT_TIME:
      return "BeginTime";
    case WAIT_RESERVATION:
      return "Reservation";
    case WAIT_NODE_NOT_AVAIL:
      return "ReqNodeNotAvail";
    case WAIT_HELD_USER:
      return "JobHeldUser";
    case FAIL_BAD_CONSTRAINTS:
      return "BadConstraints";
    case WAIT_ARRAY_TASK_LIMIT:
      return "JobArrayTaskLimit";
    case WAIT_QOS_GRP_GRES:
      return "QOSGrpGRES";
    case WAIT_QOS_MAX_GRES_PER_USER:
      return "QOSMaxGRESPerUser";
    case WAIT_PART_CONFIG:
      return "PartitionConfig";
    default:
      return "reason" + std::to_string(r);
  }
}

std::string node_base_state(uint32_t s) {
  switch (s & NODE_STATE_BASE) {
    case NODE_STATE_DOWN:
      return "down";
    case NODE_STATE_IDLE:
      return "idle";
    case NODE_STATE_ALLOCATED:
      return "allocated";
    case NODE_STATE_MIXED:
      return "mixed";
    case NODE_STATE_FUTURE:
      return "future";
    default:
      return "unknown";
  }
}

SlurmJob to_job(const slurm_job_info_t& j) {
  SlurmJob r;
  r.job_id = j.job_id;
  r.array_job_id = j.array_job_id;
  if (j.array_job_id != 0 && j.array_task_id != NO_VAL) r.array_task_id = j.array_task_id;
  if (j.array_job_id != 0 && j.array_task_id == NO_VAL) {
    std::string s = str(j.array_task_str);
    auto pct = s.find('%');
    r.pending_tasks = pct == std::string::npos ? s : s.substr(0, pct);
  }
  r.array_max_tasks = j.array_max_tasks;
  r.state = job_state(j.job_state);
  r.state_reason = reason_name(j.state_reason);
  r.comment = str(j.comment);
  r.name = str(j.name);
  r.nodes = str(j.nodes);
  r.features = str(j.features);
  r.partition = str(j.partition);
  r.user_id = j.user_id;
  r.submit_time = static_cast<int64_t>(j.submit_time);
  r.start_time = static_cast<int64_t>(j.start_time);
  r.end_time = j.time_limit == INFINITE ? 0 : static_cast<int64_t>(j.end_time);
  r.tres_per_node = str(j.tres_per_node);
  return r;
}

class LibSlurmApi final : public SlurmApi {
 public:
  explicit LibSlurmApi(SlurmReads reads) : reads_(reads), uid_(getuid()) {}

  // kOwn: only the daemon's own jobs (slurm_load_job_user: slurmctld packs no other user's);
  // kAll: every job, and only when the table changed since the last read (update_time;
  // SLURM_NO_CHANGE_IN_DATA answers with no records); kFull: every job on every read.
  // SHOW_LOCAL: without it slurm_load_job_user and slurm_load_job first ask for the
  // federation (one REQUEST_FED_INFO per call, src/api/job_info.c); the daemon manages the
  // arrays of its own cluster, so the local records are the ones it needs.
  Result<std::vector<SlurmJob>> load_jobs() override {
    job_info_msg_t* msg = nullptr;
    int rc = reads_ == SlurmReads::kOwn
                 ? slurm_load_job_user(&msg, uid_, SHOW_ALL | SHOW_LOCAL)
                 : slurm_load_jobs(reads_ == SlurmReads::kAll ? jobs_update_ : 0, &msg, SHOW_ALL);
    if (rc != SLURM_SUCCESS) {
      if (slurm_shim::last_error() == SLURM_NO_CHANGE_IN_DATA && jobs_cache_) return *jobs_cache_;
      return slurm_error("load jobs");
    }
    std::vector<SlurmJob> out;
    out.reserve(msg->record_count);
    for (uint32_t i = 0; i < msg->record_count; ++i) out.push_back(to_job(msg->job_array[i]));
    if (reads_ == SlurmReads::kAll) {
      jobs_update_ = msg->last_update;
      jobs_cache_ = out;
    }
    slurm_free_job_info_msg(msg);
    return out;
  }

  Result<SlurmJob> load_job(uint32_t job_id) override {
    job_info_msg_t* msg = nullptr;
    if (slurm_load_job(&msg, job_id, SHOW_ALL | SHOW_LOCAL) != SLURM_SUCCESS)
      return slurm_error("load job " + std::to_string(job_id));
    std::optional<SlurmJob> found;
    for (uint32_t i = 0; i < msg->record_count && !found; ++i)
      if (msg->job_array[i].job_id == job_id) found = to_job(msg->job_array[i]);
    slurm_free_job_info_msg(msg);
    if (!found) return not_found("no record of job " + std::to_string(job_id), "slurmctld");
    return *found;
  }

  Result<std::vector<SlurmNode>> load_nodes() override {
    node_info_msg_t* msg = nullptr;
    // GresUsed is filled only with SHOW_DETAIL (scontrol show node asks for it too). Except in
    // kFull, only when a node changed since the last read: slurmctld bumps the node table's
    // update time on state changes and on every allocation and release, GRES included.
    if (slurm_load_node(reads_ == SlurmReads::kFull ? 0 : nodes_update_, &msg,
                        SHOW_ALL | SHOW_DETAIL) != SLURM_SUCCESS) {
      if (slurm_shim::last_error() == SLURM_NO_CHANGE_IN_DATA && nodes_cache_) return *nodes_cache_;
      return slurm_error("load nodes");
    }
    std::vector<SlurmNode> out;
    for (uint32_t i = 0; i < msg->record_count; ++i) {
      const node_info_t& n = msg->node_array[i];
      if (!n.name) continue;
      SlurmNode r;
      r.name = n.name;
      r.state = node_base_state(n.node_state);
      r.drain = (n.node_state & NODE_STATE_DRAIN) != 0;
      r.not_responding = (n.node_state & NODE_STATE_NO_RESPOND) != 0;
      r.fail = (n.node_state & (NODE_STATE_FAIL | NODE_STATE_MAINT)) != 0;
      r.gres = str(n.gres);
      r.gres_used = str(n.gres_used);
      r.features = str(n.features_act ? n.features_act : n.features);
      r.reason = str(n.reason);
      out.push_back(std::move(r));
    }
    nodes_update_ = msg->last_update;
    nodes_cache_ = out;
    slurm_free_node_info_msg(msg);
    return out;
  }

  Status set_throttle(uint32_t array_job_id, uint32_t max_running) override {
    if (max_running == 0)
      return invalid_argument("a throttle of 0 means unlimited to Slurm; never written",
                              "array " + std::to_string(array_job_id));
    job_desc_msg_t d;
    slurm_init_job_desc_msg(&d);
    d.job_id = array_job_id;
    std::string inx = std::to_string(max_running);
    d.array_inx = inx.data();  // scontrol's ArrayTaskThrottle=N sends exactly this
    if (slurm_update_job(&d) != SLURM_SUCCESS)
      return slurm_error("set ArrayTaskThrottle of " + std::to_string(array_job_id));
    return {};
  }

  Status set_comment(uint32_t job_id, const std::string& comment) override {
    job_desc_msg_t d;
    slurm_init_job_desc_msg(&d);
    d.job_id = job_id;
    std::string c = comment;
    d.comment = c.data();
    if (slurm_update_job(&d) != SLURM_SUCCESS)
      return slurm_error("set comment of " + std::to_string(job_id));
    return {};
  }

  Status cancel_task(const std::string& task) override {
    if (slurm_kill_job2(task.c_str(), SIGKILL, 0, nullptr) != SLURM_SUCCESS)
      return slurm_error("cancel " + task);
    return {};
  }

  Status cancel_array(uint32_t array_job_id) override {
    std::string id = std::to_string(array_job_id);
    if (slurm_kill_job2(id.c_str(), SIGKILL, slurm_shim::kKillWholeArray, nullptr) != SLURM_SUCCESS)
      return slurm_error("cancel array " + id);
    return {};
  }

  Result<uint32_t> submit(const SubmitSpec& s) override {
    // sbatch, not slurm_submit_batch_job: see sbatch.cc.
    bool role_option = plugin_option_known() && !template_sets_role(s);
    auto r = run_command(sbatch_argv(s, role_option), std::chrono::seconds(60),
                         s.script_path.empty() ? s.script : "", sbatch_env(s));
    if (!r.ok()) return r.error().with_context("submit " + s.name);
    if (r->exit_code != 0) {
      std::string err(trim(r->err.empty() ? r->out : r->err));
      return failed_precondition("submit " + s.name + ": sbatch exited with status " +
                                     std::to_string(r->exit_code) + ": " + err.substr(0, 800),
                                 s.script_path.empty() ? "sbatch" : s.script_path);
    }
    return parse_sbatch_output(r->out);
  }

  Result<SlurmSiteConfig> load_site_config() override {
    slurm_conf_t* c = nullptr;
    if (slurm_load_ctl_conf(0, &c) != SLURM_SUCCESS)
      return slurm_error("load Slurm's configuration");
    std::unique_ptr<slurm_conf_t, void (*)(slurm_conf_t*)> conf(c, slurm_free_ctl_conf);
    SlurmSiteConfig out;
    out.kill_wait_s = conf->kill_wait;
    out.preempt_type = str(conf->preempt_type);
    // SlurmctldParameters=preempt_send_user_signal (slurm.conf(5); read by the select
    // plugin's _preempt_jobs). Newer releases also take PreemptParameters=send_user_signal,
    // which 22.05's slurm_conf_t has no field for: the 24.11 leg reads it (a warning only).
    const std::string params = str(conf->slurmctld_params);  // split's views point into it
    for (auto w : split(params, ','))
      out.preempt_user_signal |= trim(w) == "preempt_send_user_signal";
    partition_info_msg_t* pm = nullptr;
    if (slurm_load_partitions(0, &pm, SHOW_ALL) != SLURM_SUCCESS)
      return slurm_error("load partitions");
    std::unique_ptr<partition_info_msg_t, void (*)(partition_info_msg_t*)> parts(
        pm, slurm_free_partition_info_msg);
    for (uint32_t i = 0; i < parts->record_count; ++i) {
      const partition_info_t& p = parts->partition_array[i];
      uint16_t mode = p.preempt_mode == NO_VAL16 ? conf->preempt_mode : p.preempt_mode;
      out.partitions.push_back({str(p.name), (p.flags & PART_FLAG_DEFAULT) != 0,
                                (mode & ~PREEMPT_MODE_GANG) != PREEMPT_MODE_OFF, p.grace_time});
    }
    return out;
  }

 private:
  // Whether sbatch lists the plugin's --hs-role (the plugin is optional on a site).
  bool plugin_option_known() {
    if (!role_known_) {
      auto h = run_command({"sbatch", "--help"}, std::chrono::seconds(30));
      role_known_ = h.ok() && (h->out + h->err).find("--hs-role") != std::string::npos;
    }
    return *role_known_;
  }
  static bool template_sets_role(const SubmitSpec& s) {
    return template_sets(s.script, "--hs-role");
  }
  std::optional<bool> role_known_;
  SlurmReads reads_;
  uint32_t uid_;
  time_t jobs_update_ = 0, nodes_update_ = 0;  // last_update of the cached reads
  std::optional<std::vector<SlurmJob>> jobs_cache_;
  std::optional<std::vector<SlurmNode>> nodes_cache_;
};

}  // namespace

std::unique_ptr<SlurmApi> make_libslurm_api(const std::string& slurm_conf, SlurmReads reads) {
  static std::once_flag once;
  std::call_once(once, [&] { slurm_init(slurm_conf.empty() ? nullptr : slurm_conf.c_str()); });
  return std::make_unique<LibSlurmApi>(reads);
}

}  // namespace hs::scaler
