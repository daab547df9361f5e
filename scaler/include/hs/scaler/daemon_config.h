// heteroscaled's configuration: the services (service_config.h) and, in the same file, a
// `daemon:` section with the daemon's own settings and each service's Slurm templates. Strict
// like the rest (file:line:column: field: problem, all at once). Defaults live here.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hs/common/clock.h"
#include "hs/common/error.h"
#include "hs/scaler/service_config.h"
#include "hs/scaler/slurm_api.h"

namespace hs::scaler {

// How the daemon submits a service's arrays when it opens a deployment group or continues a
// pool whose array has no pending index left. The scripts are the operator's own sbatch
// scripts (the daemon adds the tag, array range, throttle, gres and constraint).
struct ServiceTemplate {
  std::string prefill_script, decode_script;  // paths, read at (re)load
  std::string prefill_script_text, decode_script_text;
  uint32_t array_size = 64;  // indices per submitted array (<= MaxArraySize - 1)
  std::string partition, qos, account, reservation;
  uint32_t time_limit_min = 0;  // 0: the partition's default
  std::string work_dir = "/tmp";
  std::string output = "/tmp/hs-%x-%A_%a.out";
  // Slurm's warning before a time limit or preemption: submissions carry
  // --signal=B:USR1@stop_warning_s (unless the script sets --signal), and hs-launch drains on
  // USR1. It must cover hs-launch's --drain-timeout plus --stop-timeout (120 + 15 by default).
  // 0: no warning.
  uint32_t stop_warning_s = 135;
  // How long the engines keep serving in-flight requests after SIGTERM (vLLM >= 0.18's
  // --shutdown-timeout, which hs-launch sets to its --drain-timeout; 0: they abort at once).
  // A plain scancel TERMs every process and KILLs after KillWait: checked against it at start.
  uint32_t engine_shutdown_timeout_s = 0;
  // Extra "K=V" variables for the submitted jobs (the daemon sets PATH, HS_SERVICE, HS_ROLE,
  // HS_GROUP, HS_VARIANT, HS_GPU_TYPE itself).
  std::vector<std::string> environment;
};

struct DaemonSettings {
  std::string listen = "127.0.0.1:8470";  // host:port of the HTTP API
  std::string token_file;  // when set, mutating requests need "Authorization: Bearer <token>"
  Duration tick = std::chrono::seconds(5);
  Duration scrape_timeout = std::chrono::seconds(2);
  Duration heartbeat_timeout = std::chrono::seconds(30);  // silent longer: not ready
  Duration drain_timeout = std::chrono::seconds(120);     // cancel a drained task after this
  // Start a replacement this long before a task's time limit (and at once for a task whose
  // node is drained, failing or down), then drain the old one when the new one is ready.
  Duration replace_before = std::chrono::seconds(600);
  Duration slurm_stale = std::chrono::seconds(30);  // no fresh Slurm state this long: hold
  std::string slurm_conf;                           // empty: $SLURM_CONF
  SlurmReads slurm_reads = SlurmReads::kOwn;        // slurm_api.h
  // Slurm writes (throttles, marks, cancels, submissions) per second, in bursts of as many;
  // 0: unpaced. Keeps a large tick under slurmctld's RPC rate limit (rl_enable).
  double slurm_writes_per_s = 20;
  std::string topology_conf;  // Slurm topology.conf for switch domains; empty: one domain
  // Per service: the hs-router base URLs whose /metrics give its per-group latency and
  // in-flight requests per instance (drains wait for those to end).
  std::map<std::string, std::vector<std::string>> routers;
  bool dry_run = false;                              // decide and log, never change Slurm
  std::map<std::string, ServiceTemplate> templates;  // by service name
};

struct DaemonConfig {
  ServicesConfig services;
  DaemonSettings daemon;
  std::string path;
};

// The array the daemon submits for `n` tasks of `role` in group `group` (a new group or a
// continuation): the job tag, indices 0..array_size-1 throttled to n, the variant's gres, the
// constraint, the template's sbatch settings and the job environment. hs-sim submits its warm
// fleet with it too.
SubmitSpec template_submission(const ServiceConfig& svc, const ServiceTemplate& tpl,
                               const Variant& v, const std::string& group, Role role,
                               const std::string& constraint, uint32_t n);

Result<DaemonConfig> parse_daemon_config(const std::string& text, const std::string& name);
Result<DaemonConfig> load_daemon_config(const std::string& path);

}  // namespace hs::scaler
