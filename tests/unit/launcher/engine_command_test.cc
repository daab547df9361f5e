// Engine argv and environment against the engines' documented flags (versions in
// engine_command.h).
#include "hs/launcher/engine_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hs::launcher {
namespace {

using ::testing::ElementsAre;

const InstancePorts kPorts{8100, 5600, 8998, 29500};

LaunchSpec spec(EngineKind e, Role r) {
  LaunchSpec s;
  s.engine = e;
  s.role = r;
  s.model = "/models/llama-70b";
  s.served_model = "llama";
  s.host = "10.0.0.5";
  s.tensor_parallel = 4;
  s.nic = "mlx5_2";
  return s;
}

TEST(EngineCommand, VllmDisaggregatedUsesNixlWithItsSideChannelAndNic) {
  auto s = spec(EngineKind::kVllm, Role::kPrefill);
  s.extra_args = {"--max-model-len", "32768"};
  auto c = build_engine_command(s, kPorts);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_THAT(c->argv, ElementsAre("vllm", "serve", "/models/llama-70b", "--host", "10.0.0.5",
                                   "--port", "8100", "--served-model-name", "llama",
                                   "--tensor-parallel-size", "4", "--kv-transfer-config",
                                   R"({"kv_connector":"NixlConnector","kv_role":"kv_both"})",
                                   "--max-model-len", "32768"));
  EXPECT_EQ(c->env.at("VLLM_NIXL_SIDE_CHANNEL_PORT"), "5600");
  EXPECT_EQ(c->env.at("VLLM_NIXL_SIDE_CHANNEL_HOST"), "10.0.0.5");
  EXPECT_EQ(c->env.at("UCX_NET_DEVICES"), "mlx5_2:1");
  EXPECT_EQ(c->env.at("MASTER_PORT"), "29500");
}

TEST(EngineCommand, VllmColocatedHasNoKvConnector) {
  auto c = build_engine_command(spec(EngineKind::kVllm, Role::kBoth), kPorts);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(std::count(c->argv.begin(), c->argv.end(), "--kv-transfer-config"), 0);
  EXPECT_EQ(c->env.count("VLLM_NIXL_SIDE_CHANNEL_PORT"), 0u);
}

TEST(EngineCommand, SglangPrefillHasBootstrapPortAndIbDevice) {
  auto c = build_engine_command(spec(EngineKind::kSglang, Role::kPrefill), kPorts);
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(c->argv,
              ElementsAre("python3", "-m", "sglang.launch_server", "--model-path",
                          "/models/llama-70b", "--host", "10.0.0.5", "--port", "8100",
                          "--served-model-name", "llama", "--tp-size", "4", "--nccl-port", "29500",
                          "--disaggregation-mode", "prefill", "--disaggregation-bootstrap-port",
                          "8998", "--disaggregation-ib-device", "mlx5_2"));
}

TEST(EngineCommand, SglangDecodeHasNoBootstrapPort) {
  auto s = spec(EngineKind::kSglang, Role::kDecode);
  s.nic.clear();
  auto c = build_engine_command(s, kPorts);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(std::count(c->argv.begin(), c->argv.end(), "--disaggregation-bootstrap-port"), 0);
  EXPECT_EQ(std::count(c->argv.begin(), c->argv.end(), "--disaggregation-ib-device"), 0);
  EXPECT_EQ(c->argv[c->argv.size() - 1], "decode");
}

TEST(EngineCommand, SimAndErrors) {
  auto s = spec(EngineKind::kSim, Role::kDecode);
  s.model = "llama-8b";
  s.gpu_type = "a100";
  s.sim_time_scale = 10;
  auto c = build_engine_command(s, kPorts);
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(c->argv, ElementsAre("hs-engine-sim", "--role", "decode", "--gpu-type", "a100",
                                   "--model", "llama-8b", "--served-model-name", "llama", "--host",
                                   "10.0.0.5", "--port", "8100", "--time-scale", "10"));
  s.gpu_type.clear();
  EXPECT_FALSE(build_engine_command(s, kPorts).ok());
  auto v = spec(EngineKind::kVllm, Role::kDecode);
  v.model.clear();
  EXPECT_EQ(build_engine_command(v, kPorts).error().where, "--model");
  EXPECT_FALSE(
      build_engine_command(spec(EngineKind::kVllm, Role::kDecode), InstancePorts{8100, 0, 0, 0})
          .ok());
  EXPECT_FALSE(parse_engine_kind("tgi").ok());
}

}  // namespace
}  // namespace hs::launcher
