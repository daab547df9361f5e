#include "apply_binding.h"

#include <linux/mempolicy.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

namespace hs::plugin {

namespace {
// Big enough for 8192 CPUs; CPU_ALLOC sizes it dynamically.
constexpr int kMaxCpus = 8192;
}  // namespace

Result<IdSet> current_affinity() {
  cpu_set_t* set = CPU_ALLOC(kMaxCpus);
  if (!set) return internal_error("out of memory");
  size_t size = CPU_ALLOC_SIZE(kMaxCpus);
  CPU_ZERO_S(size, set);
  if (sched_getaffinity(0, size, set) != 0) {
    int err = errno;
    CPU_FREE(set);
    return unavailable(std::string("sched_getaffinity: ") + std::strerror(err));
  }
  std::vector<uint32_t> ids;
  for (int c = 0; c < kMaxCpus; ++c)
    if (CPU_ISSET_S(c, size, set)) ids.push_back(static_cast<uint32_t>(c));
  CPU_FREE(set);
  return IdSet(std::move(ids));
}

Status set_affinity(const IdSet& cpus) {
  if (cpus.empty()) return invalid_argument("refusing an empty CPU set");
  cpu_set_t* set = CPU_ALLOC(kMaxCpus);
  if (!set) return internal_error("out of memory");
  size_t size = CPU_ALLOC_SIZE(kMaxCpus);
  CPU_ZERO_S(size, set);
  for (uint32_t c : cpus.ids()) {
    if (c >= static_cast<uint32_t>(kMaxCpus)) {
      CPU_FREE(set);
      return invalid_argument("CPU " + std::to_string(c) + " beyond " + std::to_string(kMaxCpus));
    }
    CPU_SET_S(c, size, set);
  }
  int rc = sched_setaffinity(0, size, set);
  int err = errno;
  CPU_FREE(set);
  if (rc != 0)
    return invalid_argument("sched_setaffinity(" + cpus.to_string() + "): " + std::strerror(err));
  return ok_status();
}

Status set_memory_policy(MemPolicy policy, const IdSet& nodes) {
  if (policy == MemPolicy::kNone || nodes.empty()) return ok_status();
  uint32_t max_node = nodes.ids().back();
  if (max_node >= 4096)
    return invalid_argument("NUMA node " + std::to_string(max_node) + " out of range");
  std::vector<unsigned long> mask(max_node / (8 * sizeof(unsigned long)) + 1, 0);
  auto add = [&](uint32_t n) {
    mask[n / (8 * sizeof(unsigned long))] |= 1UL << (n % (8 * sizeof(unsigned long)));
  };
  int mode = MPOL_BIND;
  if (policy == MemPolicy::kPreferred) {
    mode = MPOL_PREFERRED;
    add(nodes.first());
  } else {
    for (uint32_t n : nodes.ids()) add(n);
  }
  // maxnode counts bits and the kernel reads maxnode-1 of them: pass one more than needed.
  long rc = syscall(SYS_set_mempolicy, mode, mask.data(), static_cast<unsigned long>(max_node) + 2);
  if (rc != 0)
    return invalid_argument(std::string("set_mempolicy(") +
                            (mode == MPOL_BIND ? "bind " : "preferred ") + nodes.to_string() +
                            "): " + std::strerror(errno));
  return ok_status();
}

}  // namespace hs::plugin
