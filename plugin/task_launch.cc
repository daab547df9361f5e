#include "task_launch.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "hs/topo/discover.h"

namespace hs::plugin {

Result<std::vector<uint32_t>> gpus_of(const TaskFacts& facts) {
  const std::optional<std::string>& v = facts.batch_step ? facts.job_gpus : facts.step_gpus;
  if (!v || v->empty()) return std::vector<uint32_t>{};
  auto ids = IdSet::parse(*v, 1023);
  if (!ids.ok())
    return invalid_argument(std::string(facts.batch_step ? "SLURM_JOB_GPUS" : "SLURM_STEP_GPUS") +
                            ": " + ids.error().message);
  return ids->ids();
}

namespace {
// The cache is trusted only if root wrote it and nobody else can change it.
bool trusted_file(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return false;
  return S_ISREG(st.st_mode) && st.st_uid == 0 && (st.st_mode & 022) == 0;
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}
}  // namespace

Result<topo::NodeTopology> load_node_topology(const PluginConfig& config, const std::string& node,
                                              std::string* how) {
  if (!config.topology_xml.empty()) {
    std::string path = expand_node_name(config.topology_xml, node);
    *how = "topology_xml " + path;
    return topo::load_xml(path);
  }
  std::string cache = expand_node_name(config.topology_cache, node);
  if (trusted_file(cache)) {
    auto t = topo::load_xml(cache);
    if (t.ok()) {
      *how = "cache " + cache;
      return t;
    }
  }
  *how = "live scan";
  topo::DiscoverOptions o;
  o.query_verbs = false;  // ranking needs no port state; keep task launch fast
  return topo::discover_live(o);
}

Result<GpuMap> load_node_gpu_map(const PluginConfig& config, const std::string& node) {
  if (!config.gpu_map.empty()) return load_gpu_map(expand_node_name(config.gpu_map, node));
  return read_nvidia_proc();
}

Result<PinningPlan> plan_task(const PluginConfig& config, const TaskFacts& facts, PinMode mode) {
  auto gpus = gpus_of(facts);
  if (!gpus.ok()) return gpus.error();
  PinningPlan empty;
  empty.slurm_gpus = *gpus;
  if (gpus->empty() || mode == PinMode::kOff) return empty;
  auto fail_or_note = [&](const std::string& what) -> Result<PinningPlan> {
    if (mode == PinMode::kStrict) return invalid_argument("cannot pin strictly: " + what);
    empty.problems.push_back(what);
    return empty;
  };
  std::string how;
  auto t = load_node_topology(config, facts.node_name, &how);
  if (!t.ok()) return fail_or_note("no topology (" + how + "): " + t.error().to_string());
  auto map = load_node_gpu_map(config, facts.node_name);
  if (!map.ok()) return fail_or_note("no GPU index map: " + map.error().to_string());
  auto plan = make_plan(*t, *map, *gpus, facts.allowed, mode);
  if (plan.ok()) plan->topology_source = how;
  return plan;
}

Status write_topology_cache(const PluginConfig& config, const std::string& node) {
  std::string path = expand_node_name(config.topology_cache, node);
  std::string dir = parent_dir(path);
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return unavailable(std::string("cannot create directory: ") + std::strerror(errno), dir);
  return topo::export_live_xml(path);
}

}  // namespace hs::plugin
