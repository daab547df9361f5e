// The argv and environment hs-launch gives each engine, built without a shell. Flags follow
// the engines' documented CLIs at the releases engine_version.h names:
//  - vLLM (`vllm serve`, docs/features/nixl_connector_usage.md @ 026c83f9):
//    --kv-transfer-config '{"kv_connector":"NixlConnector","kv_role":"kv_both"}' for P/D
//    roles, the NIXL side channel from VLLM_NIXL_SIDE_CHANNEL_HOST (the advertised IP: vLLM
//    binds it and hands it to decodes as remote_host) and VLLM_NIXL_SIDE_CHANNEL_PORT (the
//    first of tp_size ports on 0.10.x), the RDMA NICs from UCX_NET_DEVICES, the API key from
//    VLLM_API_KEY (never on the command line), and on >= 0.18 --shutdown-timeout set to the
//    drain timeout so SIGTERM does not abort in-flight requests;
//  - SGLang 0.4.10 (`python3 -m sglang.launch_server`, docs/advanced_features/pd_disaggregation):
//    --enable-metrics, --disaggregation-mode prefill|decode, --disaggregation-bootstrap-port,
//    --disaggregation-ib-device, --nccl-port;
//  - hs-engine-sim (this repository), told which vLLM release to behave as.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/common/role.h"
#include "hs/launcher/engine_version.h"

namespace hs::launcher {

enum class EngineKind { kVllm, kSglang, kSim };
Result<EngineKind> parse_engine_kind(std::string_view text);  // "vllm", "sglang", "sim"

// Every port an instance needs; several instances share a node, so each gets its own.
struct InstancePorts {
  uint16_t http = 0;
  uint16_t kv_side_channel = 0;  // vLLM's NIXL handshake: the first of side_channel_ports()
  uint16_t bootstrap = 0;        // SGLang's P/D bootstrap server (prefill)
  uint16_t torch_master = 0;     // torch.distributed / NCCL rendezvous
};

struct LaunchSpec {
  EngineKind engine = EngineKind::kSim;
  Role role = Role::kBoth;
  std::string model;                  // weights path or HF id (vLLM/SGLang); profile model (sim)
  std::string served_model;           // the name clients use
  std::string bind_host = "0.0.0.0";  // where the engine's HTTP server listens
  std::string advertise;  // the IP peers reach it at (net_address.h): registered, side channel
  std::string gpu_type;   // sim: the profile's GPU
  uint32_t tensor_parallel = 1;
  // vLLM's release (vLLM), or the vLLM release hs-engine-sim emulates (sim).
  EngineVersion version{0, 18, 0, "0.18.0"};
  double drain_timeout_s = 120;  // vLLM >= 0.18: --shutdown-timeout
  std::string nic;               // the plugin's HS_NIC: "mlx5_0,mlx5_1"
  std::string nic_ports;         // the plugin's HS_NIC_PORTS: "mlx5_0:1,mlx5_1:1"
  std::string ucx_net_devices;   // UCX_NET_DEVICES as inherited: kept when set
  std::string api_key;           // read from a file; reaches vLLM as VLLM_API_KEY
  std::string sim_binary = "hs-engine-sim";
  double sim_time_scale = 1;
  std::vector<std::string> extra_args;  // after "--" on hs-launch's command line
};

struct EngineCommand {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // added to (and overriding) the inherited environment
};

// How many consecutive side-channel ports the engine binds from InstancePorts::kv_side_channel
// (vLLM 0.10.x: one per TP rank; otherwise one; none without a KV connector).
uint32_t side_channel_ports(const LaunchSpec& spec);

Result<EngineCommand> build_engine_command(const LaunchSpec& spec, const InstancePorts& ports);

// Takes from the array task's environment what the daemon and the SPANK plugin put there:
// the tensor-parallel size from HS_GPUS (the task's GPU count) unless `tp_given`, the NICs
// from HS_NIC / HS_NIC_PORTS, and an inherited UCX_NET_DEVICES (kept as the plugin set it).
// InvalidArgument naming the variable for a malformed value.
Status apply_task_environment(LaunchSpec& spec,
                              const std::function<std::string(const char*)>& getenv, bool tp_given);

}  // namespace hs::launcher
