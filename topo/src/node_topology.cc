#include "hs/topo/node_topology.h"

#include <algorithm>

namespace hs::topo {

std::string_view to_string(GpuVendor v) { return v == GpuVendor::kNvidia ? "nvidia" : "amd"; }

double Nic::link_gbps() const {
  double best = 0;
  for (const NicPort& p : ports) {
    if (p.state == "ACTIVE") best = std::max(best, p.rate_gbps);
  }
  if (best > 0) return best;
  return pci_link_gbytes * 8.0;
}

const Gpu* NodeTopology::gpu_by_pci(const PciAddress& a) const {
  for (const Gpu& g : gpus) {
    if (g.pci == a) return &g;
  }
  return nullptr;
}

const Nic* NodeTopology::nic_by_name(std::string_view name) const {
  for (const Nic& n : nics) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

const Nic* NodeTopology::nearest_nic(const Gpu& g) const {
  if (g.nics.empty()) return nullptr;
  return &nics.at(g.nics.front().nic);
}

}  // namespace hs::topo
