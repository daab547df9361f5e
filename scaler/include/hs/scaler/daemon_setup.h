// What heteroscaled loads beside its configuration at start and on SIGHUP, and how it tells
// systemd it is ready. Kept out of the daemon's main so each is tested on its own.
#pragma once

#include <string>

#include "hs/common/error.h"
#include "hs/scaler/daemon_config.h"
#include "hs/topo/fabric.h"

namespace hs::scaler {

// The switch domains of `daemon.topology_conf`; one domain when it is not set.
Result<topo::Fabric> load_fabric(const DaemonConfig& c);

// The API's bearer token from `daemon.token_file` (empty path: none). The file must be
// private to its owner (mode 0600 or tighter) and hold at least 16 characters.
Result<std::string> load_token(const std::string& path);

// systemd's readiness protocol without libsystemd: one datagram to $NOTIFY_SOCKET
// ("READY=1", "RELOADING=1", "STOPPING=1"). Does nothing outside systemd.
void sd_notify_state(const char* state);

}  // namespace hs::scaler
