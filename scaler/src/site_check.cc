#include "hs/scaler/site_check.h"

namespace hs::scaler {
namespace {

const SlurmPartition* partition_for(const SlurmSiteConfig& site, const std::string& name) {
  for (const auto& p : site.partitions)
    if (name.empty() ? p.is_default : p.name == name) return &p;
  return nullptr;
}

bool preemption_on(const SlurmSiteConfig& site) {
  return !site.preempt_type.empty() && site.preempt_type != "preempt/none";
}

}  // namespace

SiteFindings check_site(const SlurmSiteConfig& site, const DaemonConfig& config) {
  SiteFindings f;
  for (const auto& [svc, tpl] : config.daemon.templates) {
    const std::string field = "daemon.templates." + svc;
    if (tpl.engine_shutdown_timeout_s > site.kill_wait_s)
      f.errors.push_back(failed_precondition(
          field + ".engine_shutdown_timeout_s: engines keep serving " +
              std::to_string(tpl.engine_shutdown_timeout_s) +
              " s after SIGTERM, but Slurm's KillWait=" + std::to_string(site.kill_wait_s) +
              " SIGKILLs them after " + std::to_string(site.kill_wait_s) +
              " s, cutting their requests on every plain scancel: raise KillWait in "
              "slurm.conf to at least " +
              std::to_string(tpl.engine_shutdown_timeout_s) + " or lower the engines' timeout",
          config.path));
    if (!preemption_on(site)) continue;
    const SlurmPartition* p = partition_for(site, tpl.partition);
    std::string pname = p ? p->name : (tpl.partition.empty() ? "(default)" : tpl.partition);
    if (!p) {
      f.warnings.push_back(field + ".partition: Slurm has no partition " + pname +
                           ": its preemption GraceTime is not checked");
      continue;
    }
    if (!p->preemptable) continue;
    if (!site.preempt_user_signal)
      f.warnings.push_back(
          field + ": PreemptType=" + site.preempt_type +
          " without SlurmctldParameters=preempt_send_user_signal (24.11: "
          "PreemptParameters=send_user_signal): a preempted serving task gets SIGTERM, not "
          "its --signal warning, and engines that abort on TERM lose their requests");
    if (tpl.stop_warning_s > 0 && p->grace_time_s < tpl.stop_warning_s)
      f.warnings.push_back(field + ": partition " + p->name +
                           " has GraceTime=" + std::to_string(p->grace_time_s) +
                           ", shorter than stop_warning_s=" + std::to_string(tpl.stop_warning_s) +
                           ": a preempted task is killed before hs-launch's drain can finish");
  }
  return f;
}

}  // namespace hs::scaler
