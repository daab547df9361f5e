// Template body of plan_environment (pinning_plan.h).
#pragma once

namespace hs::plugin {

template <typename UserHas>
std::vector<std::pair<std::string, std::string>> plan_environment(const PinningPlan& plan,
                                                                  std::optional<Role> role,
                                                                  const PluginConfig& config,
                                                                  UserHas user_has) {
  std::vector<std::pair<std::string, std::string>> env;
  if (role) env.emplace_back("HS_ROLE", std::string(to_string(*role)));
  if (plan.slurm_gpus.empty()) return env;
  std::string buses, nics, nccl, ucx;
  for (const auto& g : plan.gpus) buses += (buses.empty() ? "" : ",") + g.to_string();
  for (const auto& n : plan.nics) {
    std::string dev = n.name + ":" + std::to_string(n.port);
    nics += (nics.empty() ? "" : ",") + n.name;
    nccl += (nccl.empty() ? "=" : ",") + dev;
    ucx += (ucx.empty() ? "" : ",") + dev;
  }
  env.emplace_back("HS_GPU_PCI_BUS_ID", buses);
  env.emplace_back("HS_CPUS", plan.cpus.to_string());
  env.emplace_back("HS_NUMA_NODE", plan.numa_nodes.to_string());
  env.emplace_back("HS_NIC", nics);
  if (plan.nvidia) env.emplace_back("CUDA_DEVICE_ORDER", "PCI_BUS_ID");
  if (!plan.nics.empty()) {
    auto nic_var = [&](const char* name, const std::string& value) {
      if (config.nic_env == NicEnvPolicy::kKeep && user_has(name)) return;
      env.emplace_back(name, value);
    };
    if (config.export_nccl) nic_var("NCCL_IB_HCA", nccl);
    if (config.export_ucx) nic_var("UCX_NET_DEVICES", ucx);
  }
  return env;
}

}  // namespace hs::plugin
