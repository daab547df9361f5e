#include "pinning_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>

#include "hs/topo/discover.h"

namespace hs::plugin {
namespace {

const std::string kTopo = std::string(HS_TEST_DATA_DIR) + "/topo/";

topo::NodeTopology load(const char* f) {
  auto t = topo::load_xml(kTopo + f);
  EXPECT_TRUE(t.ok()) << t.error().to_string();
  return *t;
}

GpuMap map_of(std::initializer_list<std::pair<uint32_t, const char*>> l) {
  GpuMap m;
  for (auto [i, b] : l) m[i] = *topo::PciAddress::parse(b);
  return m;
}

std::map<std::string, std::string> env_of(const PinningPlan& p, std::optional<Role> role,
                                          const PluginConfig& c,
                                          std::vector<std::string> user_set = {}) {
  auto v = plan_environment(p, role, c, [&](const char* n) {
    return std::find(user_set.begin(), user_set.end(), n) != user_set.end();
  });
  return {v.begin(), v.end()};
}

TEST(PinningPlan, SnC4ServerGpuGetsItsDomainAndSwitchNic) {
  auto t = load("dell-xe8640-2s-snc4-4xh100-4mlx5-pciesw.xml");
  // Slurm index 0 is /dev/nvidia0, which the driver gave to 0000:5f:00.0 (not bus order).
  GpuMap m = map_of({{0, "0000:5f:00.0"}, {1, "0000:4e:00.0"}});
  IdSet allowed = *IdSet::parse("0-223");
  auto p = make_plan(t, m, {0}, allowed, PinMode::kAuto);
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  EXPECT_EQ(p->cpus.to_string(), "14-27,126-139");
  EXPECT_EQ(p->numa_nodes.to_string(), "1");
  EXPECT_EQ(p->mem, MemPolicy::kPreferred);
  ASSERT_EQ(p->nics.size(), 1u);
  EXPECT_EQ(p->nics[0].name, "mlx5_2");
  EXPECT_TRUE(p->problems.empty());
  auto env = env_of(*p, Role::kPrefill, PluginConfig{});
  EXPECT_EQ(env["HS_ROLE"], "prefill");
  EXPECT_EQ(env["HS_NIC"], "mlx5_2");
  EXPECT_EQ(env["HS_NUMA_NODE"], "1");
  EXPECT_EQ(env["HS_CPUS"], "14-27,126-139");
  EXPECT_EQ(env["HS_GPU_PCI_BUS_ID"], "0000:5f:00.0");
  EXPECT_EQ(env["CUDA_DEVICE_ORDER"], "PCI_BUS_ID");
  EXPECT_EQ(env["NCCL_IB_HCA"], "=mlx5_2:1");  // '=': exact match, never mlx5_20
  EXPECT_EQ(env["UCX_NET_DEVICES"], "mlx5_2:1");
}

TEST(PinningPlan, NeverWidensAndPortIsTheActiveOne) {
  auto t = load("dell-xe8640-2s-snc4-4xh100-4mlx5-pciesw.xml");
  GpuMap m = map_of({{0, "0000:4e:00.0"}});
  // Slurm allowed only part of the GPU's domain: the plan is the intersection.
  auto p = make_plan(t, m, {0}, *IdSet::parse("40-45,150-160"), PinMode::kAuto);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->cpus.to_string(), "42-45,154-160");
  EXPECT_EQ(p->nics.at(0).name, "mlx5_0");  // PIX, ACTIVE; mlx5_1 is PIX but DOWN and later by name
  EXPECT_EQ(p->nics.at(0).port, 1u);
}

TEST(PinningPlan, TensorParallelTaskGetsCoresNearBothGpus) {
  auto t = load("thishost-2core-4xh100-2mlx5-derived.xml");
  GpuMap m = map_of({{0, "0000:23:00.0"}, {1, "0000:13:00.0"}});
  auto p = make_plan(t, m, {0, 1}, *IdSet::parse("0-1"), PinMode::kStrict);
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  EXPECT_EQ(p->cpus.to_string(), "0-1");
  EXPECT_EQ(p->mem, MemPolicy::kBind);
  ASSERT_EQ(p->nics.size(), 2u);
  EXPECT_EQ(p->nics[0].name, "mlx5_1");  // GPU order: index 0 is 0000:23:00.0, near mlx5_1
  EXPECT_EQ(p->nics[1].name, "mlx5_0");
  auto env = env_of(*p, std::nullopt, PluginConfig{});
  EXPECT_EQ(env["NCCL_IB_HCA"], "=mlx5_1:1,mlx5_0:1");
  EXPECT_EQ(env["UCX_NET_DEVICES"], "mlx5_1:1,mlx5_0:1");
  EXPECT_EQ(env.count("HS_ROLE"), 0u);
}

TEST(PinningPlan, AutoRecordsProblemsStrictFails) {
  auto t = load("dell-xe8640-2s-snc4-4xh100-4mlx5-pciesw.xml");
  GpuMap m = map_of({{0, "0000:5f:00.0"}, {7, "0000:99:00.0"}});
  struct Case {
    std::vector<uint32_t> gpus;
    const char* allowed;
    const char* says;
  } cases[] = {
      {{3}, "0-223", "GPU index 3 has no PCI address"},
      {{7}, "0-223", "GPU 0000:99:00.0 (index 7) is not in this node's topology"},
      {{0}, "0-1", "none of the CPUs near the GPUs (14-27,126-139) is allowed to this task (0-1)"},
  };
  for (const auto& c : cases) {
    auto a = make_plan(t, m, c.gpus, *IdSet::parse(c.allowed), PinMode::kAuto);
    ASSERT_TRUE(a.ok());
    ASSERT_EQ(a->problems.size(), 1u) << c.says;
    EXPECT_NE(a->problems[0].find(c.says), std::string::npos) << a->problems[0];
    EXPECT_TRUE(a->cpus.empty());  // nothing to pin to: affinity left as Slurm set it
    auto s = make_plan(t, m, c.gpus, *IdSet::parse(c.allowed), PinMode::kStrict);
    ASSERT_FALSE(s.ok()) << c.says;
    EXPECT_NE(s.error().message.find(c.says), std::string::npos) << s.error().message;
  }
}

TEST(PinningPlan, OffAndNoGpusDoNothing) {
  auto t = load("dell-xe8640-2s-snc4-4xh100-4mlx5-pciesw.xml");
  GpuMap m = map_of({{0, "0000:5f:00.0"}});
  auto off = make_plan(t, m, {0}, *IdSet::parse("0-223"), PinMode::kOff);
  ASSERT_TRUE(off.ok());
  EXPECT_TRUE(off->cpus.empty());
  EXPECT_TRUE(off->nics.empty());
  auto none = make_plan(t, m, {}, *IdSet::parse("0-223"), PinMode::kStrict);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(env_of(*none, std::nullopt, PluginConfig{}).empty());  // a GPU-less job: no variables
  EXPECT_EQ(env_of(*none, Role::kDecode, PluginConfig{}).size(), 1u);  // only HS_ROLE if asked
}

TEST(PinningPlan, NicEnvKeepLeavesUserValues) {
  auto t = load("dell-xe8640-2s-snc4-4xh100-4mlx5-pciesw.xml");
  auto p = make_plan(t, map_of({{0, "0000:5f:00.0"}}), {0}, *IdSet::parse("0-223"), PinMode::kAuto);
  PluginConfig keep;
  keep.nic_env = NicEnvPolicy::kKeep;
  auto env = env_of(*p, std::nullopt, keep, {"NCCL_IB_HCA"});
  EXPECT_EQ(env.count("NCCL_IB_HCA"), 0u);
  EXPECT_EQ(env["UCX_NET_DEVICES"], "mlx5_2:1");
  EXPECT_EQ(env["HS_NIC"], "mlx5_2");  // HS_* are always heteroscale's
  PluginConfig ucx_only;
  ucx_only.export_nccl = false;
  EXPECT_EQ(env_of(*p, std::nullopt, ucx_only, {}).count("NCCL_IB_HCA"), 0u);
}

}  // namespace
}  // namespace hs::plugin
