// One instance's life once its engine runs: wait for /health, register, heartbeat, and on a
// stop signal drain router-first, wait until the engine holds nothing (no request running or
// waiting, and for a prefill no KV its decodes have not read), deregister, stop the engine.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "hs/common/role.h"
#include "hs/launcher/registry.h"

namespace hs::launcher {

struct InstancePlan {
  pid_t engine_pid = 0;
  std::string url;   // the registered URL: http://<advertised address>:<port>
  std::string host;  // where hs-launch itself probes /health and /metrics
  uint16_t port = 0;
  Role role = Role::kDecode;
  double startup_timeout_s = 1800, drain_timeout_s = 120, stop_timeout_s = 15, heartbeat_s = 10;
  Registration registration;
};

// Runs the instance until the engine exits or a signal of `stop_signals` (blocked by the
// caller) arrives. Returns hs-launch's exit status: 0 after a complete drain, 1 otherwise, or
// the engine's own status when it exited by itself. `registry` may be null.
int run_instance(const InstancePlan& plan, Registry* registry, const sigset_t& stop_signals);

}  // namespace hs::launcher
