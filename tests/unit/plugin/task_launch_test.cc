#include "task_launch.h"

#include <cstdint>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hs/common/file.h"

namespace hs::plugin {
namespace {

TEST(TaskLaunch, GpusComeOnlyFromTheVariableSlurmControlsInThatStep) {
  // Measured on slurmd 22.05: in an srun step Slurm sets or removes SLURM_STEP_GPUS but leaves a
  // user's SLURM_JOB_GPUS; in the batch step it sets or removes SLURM_JOB_GPUS but leaves a
  // user's SLURM_STEP_GPUS.
  struct Case {
    bool batch;
    std::optional<std::string> step, job;
    std::vector<uint32_t> want;
  } cases[] = {
      {false, "0,2", "3", {0, 2}},     // srun step: user's SLURM_JOB_GPUS=3 ignored
      {false, std::nullopt, "3", {}},  // srun without GPUs: user's leftover ignored
      {true, "3", "0-1", {0, 1}},      // batch step: user's SLURM_STEP_GPUS=3 ignored
      {true, "3", std::nullopt, {}},   // batch without GPUs
      {false, "", std::nullopt, {}},
  };
  for (const auto& c : cases) {
    TaskFacts f;
    f.batch_step = c.batch;
    f.step_gpus = c.step;
    f.job_gpus = c.job;
    auto g = gpus_of(f);
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(*g, c.want);
  }
  TaskFacts bad;
  bad.step_gpus = "0,x";
  EXPECT_NE(gpus_of(bad).error().message.find("SLURM_STEP_GPUS"), std::string::npos);
}

TEST(TaskLaunch, CacheIsTrustedOnlyWhenRootOwnedAndNotWritableByOthers) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to create root-owned files";
  char tmpl[] = "/tmp/hs_cache_XXXXXX";
  std::string dir = mkdtemp(tmpl);
  PluginConfig c;
  c.topology_cache = dir + "/topo-%n.xml";
  ASSERT_TRUE(write_topology_cache(c, "nodeA").ok());
  std::string how;
  auto t = load_node_topology(c, "nodeA", &how);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(how, "cache " + dir + "/topo-nodeA.xml");
  chmod((dir + "/topo-nodeA.xml").c_str(), 0666);  // world-writable: a user could forge it
  t = load_node_topology(c, "nodeA", &how);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(how, "live scan");
  (void)std::system(("rm -rf " + dir).c_str());
}

TEST(TaskLaunch, StrictFailsWithoutTopologyAutoRunsUnpinned) {
  PluginConfig c;
  c.topology_xml = "/nonexistent/%n.xml";
  TaskFacts f;
  f.node_name = "node1";
  f.step_gpus = "0";
  f.allowed = *IdSet::parse("0-1");
  auto s = plan_task(c, f, PinMode::kStrict);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("/nonexistent/node1.xml"), std::string::npos)
      << s.error().message;
  auto a = plan_task(c, f, PinMode::kAuto);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->problems.size(), 1u);
  EXPECT_TRUE(a->cpus.empty());
}

}  // namespace
}  // namespace hs::plugin
