// The Slurm settings a graceful stop depends on, checked against the daemon's templates at
// start and on SIGHUP (docs/admin-guide.md, "How serving tasks stop"):
//  - a plain scancel TERMs every process of the task and KILLs what is left after KillWait:
//    engines that drain on TERM (engine_shutdown_timeout_s) need KillWait at least that long,
//    else their in-flight requests are cut; an error, naming both values;
//  - with preemption on, the task's partition's GraceTime is the time between the warning
//    (USR1 with preempt_send_user_signal, else TERM) and the kill: shorter than the template's
//    stop_warning_s, or no user signal, and a preempted task's drain is cut; warnings, since a
//    partition may never be preempted in practice.
#pragma once

#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/scaler/daemon_config.h"
#include "hs/scaler/slurm_api.h"

namespace hs::scaler {

struct SiteFindings {
  std::vector<Error> errors;
  std::vector<std::string> warnings;
};

SiteFindings check_site(const SlurmSiteConfig& site, const DaemonConfig& config);

}  // namespace hs::scaler
