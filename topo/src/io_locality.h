// The part of GPU<->NIC classification that needs no hwloc: where an I/O device sits, as a
// chain of PCI bridges up to its host bridge, and the CPU-side object it hangs from.
// hwloc_reader.cc fills these from hwloc's tree; tests fill them by hand.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "hs/common/id_set.h"
#include "hs/topo/path_class.h"

namespace hs::topo::detail {

// One bridge above a device.
struct IoHop {
  uint64_t id = 0;           // unique per bridge object
  bool host_bridge = false;  // the PCIe root complex
  // The unit this bridge belongs to: a PCIe switch (its upstream port's id, shared by the
  // switch's downstream ports) or a lone root port (its own id). Unused for host bridges.
  uint64_t unit = 0;
};

struct IoLocality {
  std::vector<IoHop> chain;  // nearest bridge first, up to and including the host bridge
  IdSet numa_nodes;          // NUMA nodes of the CPU-side object the device hangs from
  std::optional<uint32_t> package;
};

// The nvidia-smi class of the path between two devices:
//  - they meet at a PCI bridge: PIX if every bridge crossed on both sides belongs to one
//    unit (one switch, or one root port), PXB otherwise;
//  - they meet at a host bridge: PHB;
//  - they do not meet inside PCI: NODE if their NUMA node sets intersect (a device hanging
//    from a whole package is local to each of its NUMA nodes), SYS otherwise — which makes
//    two sub-NUMA clusters of one socket SYS, as nvidia-smi reports them.
PathClass classify(const IoLocality& a, const IoLocality& b);

// Bridge roles, decided top-down: a bridge under a host bridge is a root port; below a root
// port or a switch's downstream port sits a switch's upstream port; below an upstream port
// sit that switch's downstream ports. This groups each switch's ports into one unit (as
// NCCL does by skipping two sysfs levels per switch) and handles cascaded switches (DGX-2).
enum class BridgeRole { kHostBridge, kRootPort, kUpstreamPort, kDownstreamPort };

}  // namespace hs::topo::detail
