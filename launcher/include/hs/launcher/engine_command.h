// The argv and environment hs-launch gives each engine, built without a shell. Flags follow
// the engines' documented CLIs at pinned versions:
//  - vLLM 0.10.1 (`vllm serve`, docs/features/disagg_prefill.md and the NixlConnector usage
//    guide): --kv-transfer-config '{"kv_connector":"NixlConnector","kv_role":"kv_both"}', the
//    NIXL side channel from VLLM_NIXL_SIDE_CHANNEL_HOST/PORT, the RDMA NIC from
//    UCX_NET_DEVICES;
//  - SGLang 0.4.10 (`python3 -m sglang.launch_server`, docs/advanced_features/pd_disaggregation):
//    --disaggregation-mode prefill|decode, --disaggregation-bootstrap-port,
//    --disaggregation-ib-device, --nccl-port;
//  - hs-engine-sim (this repository).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/common/role.h"

namespace hs::launcher {

enum class EngineKind { kVllm, kSglang, kSim };
Result<EngineKind> parse_engine_kind(std::string_view text);  // "vllm", "sglang", "sim"

// Every port an instance needs; several instances share a node, so each gets its own.
struct InstancePorts {
  uint16_t http = 0;
  uint16_t kv_side_channel = 0;  // vLLM's NIXL handshake
  uint16_t bootstrap = 0;        // SGLang's P/D bootstrap server (prefill)
  uint16_t torch_master = 0;     // torch.distributed / NCCL rendezvous
};

struct LaunchSpec {
  EngineKind engine = EngineKind::kSim;
  Role role = Role::kBoth;
  std::string model;         // weights path or HF id (vLLM/SGLang); profile model (sim)
  std::string served_model;  // the name clients use
  std::string host = "127.0.0.1";
  std::string gpu_type;  // sim: the profile's GPU
  uint32_t tensor_parallel = 1;
  std::string nic;  // the plugin's HS_NIC ("mlx5_0"); empty: no RDMA NIC
  std::string sim_binary = "hs-engine-sim";
  double sim_time_scale = 1;
  std::vector<std::string> extra_args;  // after "--" on hs-launch's command line
};

struct EngineCommand {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // added to (and overriding) the inherited environment
};

Result<EngineCommand> build_engine_command(const LaunchSpec& spec, const InstancePorts& ports);

}  // namespace hs::launcher
