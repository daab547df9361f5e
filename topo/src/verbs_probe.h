// Asking libibverbs which RDMA devices exist and what their ports are doing.
#pragma once

#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/topo/node_topology.h"

namespace hs::topo::detail {

struct VerbsDevice {
  std::string name;  // ibv_get_device_name
  std::vector<NicPort> ports;
  std::string note;  // non-empty if the device could not be queried (then ports is empty)
};

struct VerbsInventory {
  std::vector<VerbsDevice> devices;
  // Set when the RDMA stack is absent (ENOSYS or an empty list): one info line for the user.
  std::string note;
};

// Never fails: a machine without an RDMA stack has zero devices and a note; a device that
// cannot be opened is listed with a note and no ports.
VerbsInventory probe_verbs();

// Verbs enums by name, for output: "ACTIVE", "InfiniBand"; lane rate of an active_speed code
// in Gb/s; lanes of an active_width code. Unknown codes give "UNKNOWN" / 0.
std::string port_state_name(int state);
std::string link_layer_name(int link_layer);
double lane_gbps(int active_speed);
int lanes(int active_width);

}  // namespace hs::topo::detail
