// What the plugin does when a task launches, without Slurm's types: the dispatcher gathers
// the facts from Slurm's own data and applies the result.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hs/topo/node_topology.h"
#include "pinning_plan.h"
#include "plugstack_config.h"

namespace hs::plugin {

// Facts about a launching task, all from Slurm's own data.
struct TaskFacts {
  std::string node_name;    // the Slurm node name (slurmd's, not the host's)
  bool batch_step = false;  // the batch script's step (S_JOB_STEPID == SLURM_BATCH_SCRIPT)
  // SLURM_STEP_GPUS / SLURM_JOB_GPUS as the task will see them. Slurm sets or removes the
  // first in every srun step and the second in the batch step; the other one can be a
  // user's leftover, so only the matching one is read (see gpus_of()).
  std::optional<std::string> step_gpus;
  std::optional<std::string> job_gpus;
  IdSet allowed;  // the task's current CPU affinity
};

// The task's GPUs (Slurm indices) from the variable Slurm controls in this kind of step.
Result<std::vector<uint32_t>> gpus_of(const TaskFacts& facts);

// The node's topology: topology_xml if configured; else the cache slurmd wrote, if it is a
// regular file owned by root and writable by no one else; else a live scan (no verbs).
// `how` says which was used, for the log line.
Result<topo::NodeTopology> load_node_topology(const PluginConfig& config, const std::string& node,
                                              std::string* how);

// GPU index -> PCI address from gpu_map if configured, else from the NVIDIA driver.
Result<GpuMap> load_node_gpu_map(const PluginConfig& config, const std::string& node);

// The plan for a task. Errors only in strict mode (or for unreadable GPU lists); in auto
// mode trouble becomes plan.problems.
Result<PinningPlan> plan_task(const PluginConfig& config, const TaskFacts& facts, PinMode mode);

// slurmd-context init: write this node's topology export to the cache path, so task
// launches need not scan PCI. Creates the directory (0755) if missing.
Status write_topology_cache(const PluginConfig& config, const std::string& node);

}  // namespace hs::plugin
