// The pure part of launch-time pinning: from the node's topology, the task's GPUs (Slurm
// indices) and the CPUs the task may use, decide which CPUs, NUMA node and NICs it gets.
// Never widens: the CPUs are always a subset of `allowed`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gpu_map.h"
#include "hs/common/id_set.h"
#include "hs/topo/node_topology.h"
#include "plugstack_config.h"

namespace hs::plugin {

enum class MemPolicy { kNone, kPreferred, kBind };

struct NicChoice {
  std::string name;   // "mlx5_1"
  uint32_t port = 1;  // the first ACTIVE port, else 1
  topo::PathClass path = topo::PathClass::kSYS;
};

struct PinningPlan {
  std::vector<uint32_t> slurm_gpus;    // as Slurm gave them
  std::vector<topo::PciAddress> gpus;  // the ones found in the topology
  IdSet cpus;                          // near the GPUs and allowed; empty = leave affinity alone
  IdSet numa_nodes;                    // the GPUs' NUMA nodes
  MemPolicy mem = MemPolicy::kNone;
  std::vector<NicChoice> nics;  // each GPU's nearest NIC, deduplicated, in GPU order
  bool nvidia = false;          // any NVIDIA GPU (CUDA_DEVICE_ORDER applies)
  std::string topology_source;  // where the topology came from, for the log line
  // Why parts of the plan cannot be applied (auto mode runs with what remains; strict fails).
  std::vector<std::string> problems;
};

// Builds the plan. In strict mode any problem is an InvalidArgument error naming it; in auto
// mode problems are recorded in the plan. `gpus` empty gives an empty plan.
Result<PinningPlan> make_plan(const topo::NodeTopology& topo, const GpuMap& map,
                              const std::vector<uint32_t>& gpus, const IdSet& allowed,
                              PinMode mode);

// The variables to export for a plan: HS_ROLE (if a role is given), HS_GPU_PCI_BUS_ID,
// HS_CPUS, HS_NUMA_NODE, HS_NIC, CUDA_DEVICE_ORDER=PCI_BUS_ID (NVIDIA GPUs), and the NIC
// selection of the libraries the config names — NCCL_IB_HCA in exact-match form ("=mlx5_1:1";
// without '=' NCCL would also match mlx5_10) and UCX_NET_DEVICES ("mlx5_1:1"). With
// nic_env=keep, NIC variables the user already set (`user_has(name)`) are left out.
template <typename UserHas>
std::vector<std::pair<std::string, std::string>> plan_environment(const PinningPlan& plan,
                                                                  std::optional<Role> role,
                                                                  const PluginConfig& config,
                                                                  UserHas user_has);

// One line for the logs: "gpus 0=0000:4e:00.0 cpus 42-55 numa 3 (preferred) nics mlx5_0:1(PIX)".
std::string describe(const PinningPlan& plan);

}  // namespace hs::plugin

#include "pinning_plan_env.h"
