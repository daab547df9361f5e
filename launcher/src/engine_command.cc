#include "hs/launcher/engine_command.h"

#include <cstdio>

namespace hs::launcher {

Result<EngineKind> parse_engine_kind(std::string_view text) {
  if (text == "vllm") return EngineKind::kVllm;
  if (text == "sglang") return EngineKind::kSglang;
  if (text == "sim") return EngineKind::kSim;
  return invalid_argument("unknown engine '" + std::string(text) + "' (vllm, sglang or sim)",
                          "--engine");
}

namespace {

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

}  // namespace

Result<EngineCommand> build_engine_command(const LaunchSpec& s, const InstancePorts& p) {
  if (s.model.empty()) return invalid_argument("a model is required", "--model");
  if (s.tensor_parallel < 1)
    return invalid_argument("tensor parallel size must be at least 1", "--tensor-parallel");
  if (p.http == 0) return invalid_argument("no HTTP port allocated");
  std::string served = s.served_model.empty() ? s.model : s.served_model;
  EngineCommand c;
  auto& a = c.argv;
  switch (s.engine) {
    case EngineKind::kVllm: {
      a = {"vllm",
           "serve",
           s.model,
           "--host",
           s.host,
           "--port",
           std::to_string(p.http),
           "--served-model-name",
           served,
           "--tensor-parallel-size",
           std::to_string(s.tensor_parallel)};
      if (s.role != Role::kBoth) {
        // NixlConnector instances are symmetric (kv_both); the router decides who prefills.
        a.push_back("--kv-transfer-config");
        a.push_back(R"({"kv_connector":"NixlConnector","kv_role":"kv_both"})");
        if (p.kv_side_channel == 0) return invalid_argument("no KV side-channel port allocated");
        c.env["VLLM_NIXL_SIDE_CHANNEL_HOST"] = s.host;
        c.env["VLLM_NIXL_SIDE_CHANNEL_PORT"] = std::to_string(p.kv_side_channel);
        if (!s.nic.empty()) c.env["UCX_NET_DEVICES"] = s.nic + ":1";
      }
      break;
    }
    case EngineKind::kSglang: {
      a = {"python3",
           "-m",
           "sglang.launch_server",
           "--model-path",
           s.model,
           "--host",
           s.host,
           "--port",
           std::to_string(p.http),
           "--served-model-name",
           served,
           "--tp-size",
           std::to_string(s.tensor_parallel)};
      if (p.torch_master) {
        a.push_back("--nccl-port");
        a.push_back(std::to_string(p.torch_master));
      }
      if (s.role != Role::kBoth) {
        a.push_back("--disaggregation-mode");
        a.push_back(std::string(to_string(s.role)));
        if (s.role == Role::kPrefill) {
          if (p.bootstrap == 0)
            return invalid_argument("no bootstrap port allocated for an SGLang prefill");
          a.push_back("--disaggregation-bootstrap-port");
          a.push_back(std::to_string(p.bootstrap));
        }
        if (!s.nic.empty()) {
          a.push_back("--disaggregation-ib-device");
          a.push_back(s.nic);
        }
      }
      break;
    }
    case EngineKind::kSim: {
      if (s.gpu_type.empty())
        return invalid_argument("the simulated engine needs a GPU type", "--gpu-type");
      a = {s.sim_binary,
           "--role",
           std::string(to_string(s.role)),
           "--gpu-type",
           s.gpu_type,
           "--model",
           s.model,
           "--served-model-name",
           served,
           "--host",
           s.host,
           "--port",
           std::to_string(p.http),
           "--time-scale",
           num(s.sim_time_scale)};
      break;
    }
  }
  if (p.torch_master) c.env["MASTER_PORT"] = std::to_string(p.torch_master);
  a.insert(a.end(), s.extra_args.begin(), s.extra_args.end());
  return c;
}

}  // namespace hs::launcher
