// How far a GPU is from a NIC inside one node: nvidia-smi `topo -m`'s classes as an ordered
// scale, closest first, so that policy is a comparison (`path <= PathClass::kPXB`).
#pragma once

#include <cstdint>
#include <string_view>

#include "hs/common/error.h"

namespace hs::topo {

enum class PathClass : uint8_t {
  kPIX = 0,   // below one PCIe switch: traffic crosses that switch only
  kPXB = 1,   // below several PCIe switches that meet without reaching the host bridge
  kPHB = 2,   // meets at a PCIe host bridge (root complex): crosses the CPU's PCIe root
  kNODE = 3,  // different host bridges of one NUMA node: crosses the on-die interconnect
  kSYS = 4,   // different NUMA nodes (sockets, or sub-NUMA clusters of one socket): crosses
              // UPI/xGMI/X-Bus or the mesh between SNC domains
};

// "PIX", "PXB", "PHB", "NODE", "SYS".
std::string_view to_string(PathClass p);
// Exact, case-sensitive inverse of to_string; anything else is InvalidArgument.
Result<PathClass> parse_path_class(std::string_view text);

}  // namespace hs::topo
