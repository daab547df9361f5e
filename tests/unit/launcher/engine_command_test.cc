// Engine argv and environment against the engines' documented flags, per release (versions in
// engine_version.h), and what hs-launch takes from the array task's environment.
#include "hs/launcher/engine_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace hs::launcher {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const InstancePorts kPorts{8100, 5600, 8998, 29500};

EngineVersion version(const char* v) { return *parse_engine_version(v); }

LaunchSpec spec(EngineKind e, Role r, const char* v = "0.11.2") {
  LaunchSpec s;
  s.engine = e;
  s.role = r;
  s.model = "/models/llama-70b";
  s.served_model = "llama";
  s.advertise = "10.0.0.5";
  s.tensor_parallel = 4;
  s.nic = "mlx5_2";
  s.version = version(v);
  return s;
}

size_t count(const std::vector<std::string>& v, const std::string& x) {
  return static_cast<size_t>(std::count(v.begin(), v.end(), x));
}

TEST(EngineCommand, Vllm011PrefillBindsWildcardAdvertisesTheIpForTheSideChannel) {
  auto s = spec(EngineKind::kVllm, Role::kPrefill);
  s.extra_args = {"--max-model-len", "32768"};
  auto c = build_engine_command(s, kPorts);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_THAT(c->argv, ElementsAre("vllm", "serve", "/models/llama-70b", "--host", "0.0.0.0",
                                   "--port", "8100", "--served-model-name", "llama",
                                   "--tensor-parallel-size", "4", "--kv-transfer-config",
                                   R"({"kv_connector":"NixlConnector","kv_role":"kv_both"})",
                                   "--max-model-len", "32768"));
  EXPECT_EQ(c->env.at("VLLM_NIXL_SIDE_CHANNEL_PORT"), "5600");
  // Bind and advertise are one value for vLLM's side channel: the routable IP, never 0.0.0.0.
  EXPECT_EQ(c->env.at("VLLM_NIXL_SIDE_CHANNEL_HOST"), "10.0.0.5");
  EXPECT_EQ(c->env.at("UCX_NET_DEVICES"), "mlx5_2:1");
  EXPECT_EQ(c->env.at("MASTER_PORT"), "29500");
  EXPECT_EQ(side_channel_ports(s), 1u);  // 0.11+: one scheduler-side listener
}

TEST(EngineCommand, Vllm010NeedsASideChannelPortPerTpRank) {
  auto s = spec(EngineKind::kVllm, Role::kDecode, "0.10.1");
  EXPECT_EQ(side_channel_ports(s), 4u);
  auto c = build_engine_command(s, kPorts);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(count(c->argv, "--shutdown-timeout"), 0u);
  EXPECT_EQ(side_channel_ports(spec(EngineKind::kVllm, Role::kBoth, "0.10.1")), 0u);
}

TEST(EngineCommand, Vllm018DrainsOnSigtermForTheDrainTimeout) {
  auto s = spec(EngineKind::kVllm, Role::kDecode, "0.18.1");
  s.drain_timeout_s = 90;
  auto c = build_engine_command(s, kPorts);
  ASSERT_TRUE(c.ok());
  auto it = std::find(c->argv.begin(), c->argv.end(), "--shutdown-timeout");
  ASSERT_NE(it, c->argv.end());
  EXPECT_EQ(*(it + 1), "90");
  // Before 0.18 the flag does not exist: vLLM would refuse to start.
  EXPECT_EQ(
      count(build_engine_command(spec(EngineKind::kVllm, Role::kDecode, "0.17.0"), kPorts)->argv,
            "--shutdown-timeout"),
      0u);
}

TEST(EngineCommand, UcxFromThePluginIsKeptOrBuiltPerNicWithItsPort) {
  auto s = spec(EngineKind::kVllm, Role::kDecode);
  s.nic = "mlx5_0,mlx5_1";
  EXPECT_EQ(build_engine_command(s, kPorts)->env.at("UCX_NET_DEVICES"), "mlx5_0:1,mlx5_1:1");
  s.nic_ports = "mlx5_0:1,mlx5_1:2";
  EXPECT_EQ(build_engine_command(s, kPorts)->env.at("UCX_NET_DEVICES"), "mlx5_0:1,mlx5_1:2");
  s.ucx_net_devices = "mlx5_0:1,mlx5_1:1";  // the plugin's own value: not overwritten
  EXPECT_EQ(build_engine_command(s, kPorts)->env.count("UCX_NET_DEVICES"), 0u);
}

TEST(EngineCommand, ApiKeyReachesVllmByEnvironmentNeverArgv) {
  auto s = spec(EngineKind::kVllm, Role::kDecode);
  s.api_key = "secret-key-123";
  auto c = build_engine_command(s, kPorts);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->env.at("VLLM_API_KEY"), "secret-key-123");
  for (const auto& a : c->argv) EXPECT_THAT(a, ::testing::Not(HasSubstr("secret")));
}

TEST(EngineCommand, VllmColocatedHasNoKvConnector) {
  auto c = build_engine_command(spec(EngineKind::kVllm, Role::kBoth), kPorts);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(count(c->argv, "--kv-transfer-config"), 0u);
  EXPECT_EQ(c->env.count("VLLM_NIXL_SIDE_CHANNEL_PORT"), 0u);
}

TEST(EngineCommand, SglangPrefillHasMetricsBootstrapPortAndIbDevice) {
  auto c = build_engine_command(spec(EngineKind::kSglang, Role::kPrefill), kPorts);
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(
      c->argv,
      ElementsAre("python3", "-m", "sglang.launch_server", "--model-path", "/models/llama-70b",
                  "--host", "0.0.0.0", "--port", "8100", "--served-model-name", "llama",
                  "--tp-size", "4", "--enable-metrics", "--nccl-port", "29500",
                  "--disaggregation-mode", "prefill", "--disaggregation-bootstrap-port", "8998",
                  "--disaggregation-ib-device", "mlx5_2"));
}

TEST(EngineCommand, SglangDecodeHasNoBootstrapPort) {
  auto s = spec(EngineKind::kSglang, Role::kDecode);
  s.nic.clear();
  auto c = build_engine_command(s, kPorts);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(count(c->argv, "--disaggregation-bootstrap-port"), 0u);
  EXPECT_EQ(count(c->argv, "--disaggregation-ib-device"), 0u);
  EXPECT_EQ(c->argv[c->argv.size() - 1], "decode");
}

TEST(EngineCommand, SimIsToldTheVllmReleaseItEmulates) {
  auto s = spec(EngineKind::kSim, Role::kDecode, "0.18.0");
  s.model = "llama-8b";
  s.gpu_type = "a100";
  s.sim_time_scale = 10;
  s.drain_timeout_s = 30;
  auto c = build_engine_command(s, kPorts);
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(c->argv, ElementsAre("hs-engine-sim", "--role", "decode", "--gpu-type", "a100",
                                   "--model", "llama-8b", "--served-model-name", "llama", "--host",
                                   "0.0.0.0", "--port", "8100", "--engine-id", "10.0.0.5:8100",
                                   "--time-scale", "10", "--emulate-vllm", "0.18.0",
                                   "--tensor-parallel-size", "4", "--shutdown-timeout", "30"));
  EXPECT_EQ(c->env.at("VLLM_NIXL_SIDE_CHANNEL_HOST"), "10.0.0.5");
}

TEST(EngineCommand, Errors) {
  auto s = spec(EngineKind::kSim, Role::kDecode);
  s.gpu_type.clear();
  EXPECT_EQ(build_engine_command(s, kPorts).error().where, "--gpu-type");
  auto v = spec(EngineKind::kVllm, Role::kDecode);
  v.model.clear();
  EXPECT_EQ(build_engine_command(v, kPorts).error().where, "--model");
  EXPECT_FALSE(
      build_engine_command(spec(EngineKind::kVllm, Role::kDecode), InstancePorts{8100, 0, 0, 0})
          .ok());
  auto host = spec(EngineKind::kVllm, Role::kDecode);
  host.advertise = "node7";  // a name: libzmq 4.3.4 cannot bind it
  EXPECT_EQ(build_engine_command(host, kPorts).error().where, "--advertise");
  auto old = spec(EngineKind::kVllm, Role::kDecode, "0.9.2");
  auto e = build_engine_command(old, kPorts);
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(e.error().message, HasSubstr("0.9.2 is not a supported release"));
  EXPECT_FALSE(parse_engine_kind("tgi").ok());
}

TEST(EngineCommand, TaskEnvironmentGivesTpFromHsGpusAndThePluginsNics) {
  std::map<std::string, std::string> env = {
      {"HS_GPUS", "4"}, {"HS_NIC", "mlx5_0,mlx5_1"}, {"HS_NIC_PORTS", "mlx5_0:1,mlx5_1:1"}};
  auto get = [&](const char* k) { return env.count(k) ? env[k] : std::string(); };
  LaunchSpec s;
  ASSERT_TRUE(apply_task_environment(s, get, false).ok());
  EXPECT_EQ(s.tensor_parallel, 4u);
  EXPECT_EQ(s.nic_ports, "mlx5_0:1,mlx5_1:1");
  LaunchSpec given;
  given.tensor_parallel = 2;
  ASSERT_TRUE(apply_task_environment(given, get, true).ok());
  EXPECT_EQ(given.tensor_parallel, 2u);  // --tensor-parallel wins
  env["HS_GPUS"] = "four";
  EXPECT_EQ(apply_task_environment(s, get, false).error().where, "HS_GPUS");
}

TEST(EngineVersion, ParsesReleasesAndRefusesTheRest) {
  struct Case {
    const char* text;
    int major, minor, patch;
  } good[] = {{"0.10.1", 0, 10, 1},
              {"v0.11.0", 0, 11, 0},
              {"0.10.1.dev12+g0bcd3e", 0, 10, 1},
              {"0.18", 0, 18, 0},
              {"0.19.0rc1", 0, 19, 0}};
  for (const auto& c : good) {
    auto v = parse_engine_version(c.text);
    ASSERT_TRUE(v.ok()) << c.text;
    EXPECT_EQ(v->major, c.major) << c.text;
    EXPECT_EQ(v->minor, c.minor) << c.text;
    EXPECT_EQ(v->patch, c.patch) << c.text;
  }
  for (const char* bad : {"", "latest", "10", "0.x", "0.10.1!"})
    EXPECT_FALSE(parse_engine_version(bad).ok()) << bad;
  EXPECT_EQ(*vllm_series(version("0.10.2")), VllmSeries::kWorkerSideChannel);
  EXPECT_EQ(*vllm_series(version("0.17.9")), VllmSeries::kSchedulerSideChannel);
  EXPECT_EQ(*vllm_series(version("0.18.0")), VllmSeries::kGracefulShutdown);
  EXPECT_FALSE(vllm_series(version("1.0.0")).ok());
  auto out = version_from_output("INFO 12-01 loading...\n0.11.2\n");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->minor, 11);
}

}  // namespace
}  // namespace hs::launcher
