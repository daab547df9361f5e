// Applying a plan to the calling process with syscalls only (no exec, no shell). Both the
// CPU mask and the memory policy survive execve, so setting them just before the task's exec
// binds the engine.
#pragma once

#include "hs/common/error.h"
#include "hs/common/id_set.h"
#include "pinning_plan.h"

namespace hs::plugin {

// The calling thread's current CPU affinity (what Slurm allowed the task).
Result<IdSet> current_affinity();
// Narrows the calling thread's affinity to `cpus` (must be non-empty). Errors name errno.
Status set_affinity(const IdSet& cpus);
// set_mempolicy(2): MPOL_PREFERRED on the first node, or MPOL_BIND on all of them.
Status set_memory_policy(MemPolicy policy, const IdSet& numa_nodes);

}  // namespace hs::plugin
