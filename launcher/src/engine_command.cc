#include "hs/launcher/engine_command.h"

#include <cstdint>
#include <cstdio>

#include "hs/common/text.h"

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

// UCX_NET_DEVICES: as the SPANK plugin set it when it did; otherwise one "device:port" entry
// per NIC of the task (UCX wants each device with its port, not the list with one suffix).
void set_ucx(const LaunchSpec& s, EngineCommand& c) {
  if (!s.ucx_net_devices.empty()) return;
  if (!s.nic_ports.empty()) {
    c.env["UCX_NET_DEVICES"] = s.nic_ports;
    return;
  }
  if (s.nic.empty()) return;
  std::string v;
  for (auto n : split(s.nic, ','))
    if (!trim(n).empty()) v += (v.empty() ? "" : ",") + std::string(trim(n)) + ":1";
  c.env["UCX_NET_DEVICES"] = v;
}

// What vLLM and hs-engine-sim share for a P/D role: the NIXL side channel and the NICs.
Status nixl_env(const LaunchSpec& s, const InstancePorts& p, EngineCommand& c) {
  if (p.kv_side_channel == 0) return invalid_argument("no KV side-channel port allocated");
  c.env["VLLM_NIXL_SIDE_CHANNEL_HOST"] = s.advertise;
  c.env["VLLM_NIXL_SIDE_CHANNEL_PORT"] = std::to_string(p.kv_side_channel);
  set_ucx(s, c);
  return {};
}

}  // namespace

uint32_t side_channel_ports(const LaunchSpec& s) {
  if (s.role == Role::kBoth || s.engine == EngineKind::kSglang) return 0;
  auto series = vllm_series(s.version);
  if (series.ok() && *series == VllmSeries::kWorkerSideChannel) return s.tensor_parallel;
  return 1;
}

Result<EngineCommand> build_engine_command(const LaunchSpec& s, const InstancePorts& p) {
  if (s.model.empty()) return invalid_argument("a model is required", "--model");
  if (s.tensor_parallel < 1)
    return invalid_argument("tensor parallel size must be at least 1", "--tensor-parallel");
  if (p.http == 0) return invalid_argument("no HTTP port allocated");
  if (!is_ip_literal(s.advertise))
    return invalid_argument("the advertised address must be an IP, got " + quote(s.advertise),
                            "--advertise");
  std::string served = s.served_model.empty() ? s.model : s.served_model;
  EngineCommand c;
  auto& a = c.argv;
  std::optional<VllmSeries> series;
  if (s.engine != EngineKind::kSglang) {
    auto v = vllm_series(s.version);
    if (!v.ok()) return v.error();
    series = *v;
  }
  bool graceful = series == VllmSeries::kGracefulShutdown;
  std::string shutdown = std::to_string(static_cast<long>(s.drain_timeout_s + 0.5));
  switch (s.engine) {
    case EngineKind::kVllm: {
      a = {"vllm",
           "serve",
           s.model,
           "--host",
           s.bind_host,
           "--port",
           std::to_string(p.http),
           "--served-model-name",
           served,
           "--tensor-parallel-size",
           std::to_string(s.tensor_parallel)};
      if (graceful) a.insert(a.end(), {"--shutdown-timeout", shutdown});
      if (s.role != Role::kBoth) {
        // NixlConnector instances are symmetric (kv_both); the router decides who prefills.
        a.push_back("--kv-transfer-config");
        a.push_back(R"({"kv_connector":"NixlConnector","kv_role":"kv_both"})");
        HS_RETURN_IF_ERROR(nixl_env(s, p, c));
      }
      if (!s.api_key.empty()) c.env["VLLM_API_KEY"] = s.api_key;
      break;
    }
    case EngineKind::kSglang: {
      a = {"python3", "-m", "sglang.launch_server", "--model-path", s.model, "--host", s.bind_host,
           "--port", std::to_string(p.http), "--served-model-name", served, "--tp-size",
           std::to_string(s.tensor_parallel),
           // Off by default in SGLang's server_args: without it there is no /metrics.
           "--enable-metrics"};
      if (p.torch_master) a.insert(a.end(), {"--nccl-port", std::to_string(p.torch_master)});
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
           s.bind_host,
           "--port",
           std::to_string(p.http),
           "--engine-id",
           s.advertise + ":" + std::to_string(p.http),
           "--time-scale",
           num(s.sim_time_scale),
           "--emulate-vllm",
           s.version.text,
           "--tensor-parallel-size",
           std::to_string(s.tensor_parallel)};
      if (graceful) a.insert(a.end(), {"--shutdown-timeout", shutdown});
      if (s.role != Role::kBoth) HS_RETURN_IF_ERROR(nixl_env(s, p, c));
      if (!s.api_key.empty()) c.env["VLLM_API_KEY"] = s.api_key;
      break;
    }
  }
  if (p.torch_master) c.env["MASTER_PORT"] = std::to_string(p.torch_master);
  a.insert(a.end(), s.extra_args.begin(), s.extra_args.end());
  return c;
}

Status apply_task_environment(LaunchSpec& s, const std::function<std::string(const char*)>& getenv,
                              bool tp_given) {
  if (!tp_given) {
    if (std::string g = getenv("HS_GPUS"); !g.empty()) {
      auto n = parse_u64(g);
      if (!n.ok() || *n < 1 || *n > 1024)
        return invalid_argument("expected a GPU count, got " + quote(g), "HS_GPUS");
      s.tensor_parallel = static_cast<uint32_t>(*n);
    }
  }
  s.nic = getenv("HS_NIC");
  s.nic_ports = getenv("HS_NIC_PORTS");
  s.ucx_net_devices = getenv("UCX_NET_DEVICES");
  return {};
}

}  // namespace hs::launcher
