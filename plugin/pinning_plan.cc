#include "pinning_plan.h"

#include <algorithm>
#include <cstdint>

namespace hs::plugin {

Result<PinningPlan> make_plan(const topo::NodeTopology& topo, const GpuMap& map,
                              const std::vector<uint32_t>& gpus, const IdSet& allowed,
                              PinMode mode) {
  PinningPlan plan;
  plan.slurm_gpus = gpus;
  if (gpus.empty() || mode == PinMode::kOff) return plan;
  IdSet near;
  for (uint32_t idx : gpus) {
    auto m = map.find(idx);
    if (m == map.end()) {
      plan.problems.push_back("GPU index " + std::to_string(idx) +
                              " has no PCI address (gpu_map or NVIDIA driver)");
      continue;
    }
    const topo::Gpu* g = topo.gpu_by_pci(m->second);
    if (!g) {
      plan.problems.push_back("GPU " + m->second.to_string() + " (index " + std::to_string(idx) +
                              ") is not in this node's topology (" + topo.source + ")");
      continue;
    }
    plan.gpus.push_back(g->pci);
    plan.nvidia = plan.nvidia || g->vendor == topo::GpuVendor::kNvidia;
    near = near.unite(g->cpuset);
    plan.numa_nodes = plan.numa_nodes.unite(g->numa_nodes);
    if (const topo::Nic* nic = topo.nearest_nic(*g)) {
      NicChoice c{nic->name, 1, g->nics.front().path};
      for (const auto& p : nic->ports) {
        if (p.state == "ACTIVE") {
          c.port = p.number;
          break;
        }
      }
      auto same = [&](const NicChoice& x) { return x.name == c.name; };
      if (std::none_of(plan.nics.begin(), plan.nics.end(), same)) plan.nics.push_back(c);
    }
  }
  if (!plan.gpus.empty()) {
    plan.cpus = near.intersect(allowed);
    if (plan.cpus.empty())
      plan.problems.push_back("none of the CPUs near the GPUs (" + near.to_string() +
                              ") is allowed to this task (" + allowed.to_string() + ")");
    if (mode == PinMode::kStrict) {
      plan.mem = plan.numa_nodes.empty() ? MemPolicy::kNone : MemPolicy::kBind;
    } else if (plan.numa_nodes.size() == 1) {
      plan.mem = MemPolicy::kPreferred;
    }
  }
  if (mode == PinMode::kStrict && !plan.problems.empty()) {
    std::string all;
    for (const auto& p : plan.problems) all += (all.empty() ? "" : "; ") + p;
    return invalid_argument("cannot pin strictly: " + all);
  }
  return plan;
}

std::string describe(const PinningPlan& plan) {
  std::string s = "gpus";
  if (plan.slurm_gpus.empty()) return "no GPUs";
  for (size_t i = 0; i < plan.slurm_gpus.size(); ++i) s += " " + std::to_string(plan.slurm_gpus[i]);
  s += " ->";
  for (const auto& g : plan.gpus) s += " " + g.to_string();
  s += " cpus " + (plan.cpus.empty() ? std::string("unchanged") : plan.cpus.to_string());
  s += " numa " + (plan.numa_nodes.empty() ? std::string("-") : plan.numa_nodes.to_string());
  s += plan.mem == MemPolicy::kBind        ? " (bind)"
       : plan.mem == MemPolicy::kPreferred ? " (preferred)"
                                           : " (no policy)";
  s += " nics";
  if (plan.nics.empty()) s += " none";
  for (const auto& n : plan.nics)
    s += " " + n.name + ":" + std::to_string(n.port) + "(" + std::string(topo::to_string(n.path)) +
         ")";
  if (!plan.topology_source.empty()) s += " [topology: " + plan.topology_source + "]";
  for (const auto& p : plan.problems) s += "; " + p;
  return s;
}

}  // namespace hs::plugin
