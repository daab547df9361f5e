// SimSlurm: the conformance sequences (the same ones the loopback cluster passes), then what
// only a simulation can show quickly (queue wait, node failure, holds, purges, bad input).
#include "hs/scaler/sim_slurm.h"

#include <cstdint>

#include <gtest/gtest.h>

#include "slurm_conformance.h"

namespace hs::scaler {
namespace {

// scripts/cluster.sh --nodes 4 --leaves 2.
std::vector<SimNode> four_nodes() {
  return {{"node1", "h100", 4, {"leaf1", "h100"}},
          {"node2", "l40s", 4, {"leaf1", "l40s"}},
          {"node3", "h100", 4, {"leaf2", "h100"}},
          {"node4", "l40s", 4, {"leaf2", "l40s"}}};
}

SubmitSpec array(const std::string& a, const std::string& gpu = "h100",
                 const std::string& leaf = "leaf1") {
  SubmitSpec s;
  s.name = "t";
  s.script = "#!/bin/bash\n";
  s.array = a;
  s.tres_per_node = "gres:gpu:" + gpu + ":1";
  s.constraint = leaf;
  return s;
}

struct Tasks {
  uint32_t running = 0, pending = 0;
  std::string reason;
};
Tasks tasks(SimSlurm& s, uint32_t id) {
  Tasks t;
  auto jobs = s.load_jobs();
  for (const auto& j : *jobs) {
    if (j.array_job_id != id) continue;
    if (j.array_task_id && j.state == JobState::kRunning) ++t.running;
    if (!j.array_task_id && j.state == JobState::kPending) {
      t.pending = static_cast<uint32_t>(IdSet::parse(j.pending_tasks)->size());
      t.reason = j.state_reason;
    }
  }
  return t;
}

TEST(SimSlurm, PassesTheConformanceSequences) {
  SimSlurm sim(four_nodes(), 1000);
  std::vector<conformance::Side> sides(1);
  sides[0].name = "simslurm";
  sides[0].api = &sim;
  sides[0].set_drain = [&](const std::string& n, bool d) {
    return d ? sim.drain_node(n, "conformance") : sim.resume_node(n);
  };
  sides[0].pass = [&](double s) { sim.advance_to(sim.now() + static_cast<int64_t>(s * 5 + 1)); };
  auto out = conformance::run(sides);
  EXPECT_TRUE(out.failed.empty()) << ::testing::PrintToString(out.failed);
  EXPECT_GT(out.passed.size(), 30u);
}

TEST(SimSlurm, AnIndexStartsOnlyAfterTheQueueWait) {
  SimSlurmOptions o;
  o.queue_wait_s = 30;
  SimSlurm sim(four_nodes(), 1000, o);
  uint32_t id = *sim.submit(array("0-3%2"));
  EXPECT_EQ(tasks(sim, id).running, 0u);
  sim.advance_to(1029);
  EXPECT_EQ(tasks(sim, id).running, 0u);
  sim.advance_to(1030);
  EXPECT_EQ(tasks(sim, id).running, 2u);
  // Raised later, the next index waits its own queue time.
  ASSERT_TRUE(sim.set_throttle(id, 3).ok());
  sim.advance_to(1040);
  EXPECT_EQ(tasks(sim, id).running, 2u);
  sim.advance_to(1060);
  EXPECT_EQ(tasks(sim, id).running, 3u);
}

// hs-sim moves time by events: next_change() names the moment the scheduler acts by itself.
TEST(SimSlurm, NamesTheNextChangeItMakesByItself) {
  SimSlurmOptions o;
  o.queue_wait_s = 30;
  SimSlurm sim(four_nodes(), 1000, o);
  EXPECT_FALSE(sim.next_change().has_value());  // nothing submitted
  SubmitSpec s = array("0-3%1");
  s.time_limit_min = 2;
  uint32_t id = *sim.submit(s);
  EXPECT_EQ(sim.next_change(), 1030);  // the queue wait of the first index
  sim.advance_to(*sim.next_change());
  EXPECT_EQ(tasks(sim, id).running, 1u);
  EXPECT_EQ(sim.next_change(), 1030 + 120);  // throttled: only the time limit is due
  sim.advance_to(1150);
  EXPECT_EQ(tasks(sim, id).running, 0u);
  EXPECT_EQ(sim.next_change(), 1150 + 30);  // the next index's queue wait
  sim.advance_to(1180);
  EXPECT_EQ(tasks(sim, id).running, 1u);
}

TEST(SimSlurm, AFailedNodeEndsItsTasksAndTheArrayWaits) {
  SimSlurm sim(four_nodes(), 1000);
  uint32_t id = *sim.submit(array("0-7%2"));
  ASSERT_EQ(tasks(sim, id).running, 2u);
  ASSERT_TRUE(sim.fail_node("node1").ok());
  Tasks t = tasks(sim, id);
  EXPECT_EQ(t.running, 0u);
  EXPECT_EQ(t.reason, "ReqNodeNotAvail");
  auto nodes = *sim.load_nodes();
  EXPECT_EQ(nodes[0].state, "down");
  ASSERT_TRUE(sim.resume_node("node1").ok());
  EXPECT_EQ(tasks(sim, id).running, 2u);
}

TEST(SimSlurm, AHeldArrayStartsNothingUntilReleased) {
  SimSlurm sim(four_nodes(), 1000);
  uint32_t id = *sim.submit(array("0-7%1"));
  ASSERT_TRUE(sim.hold(id).ok());
  ASSERT_TRUE(sim.set_throttle(id, 3).ok());
  Tasks t = tasks(sim, id);
  EXPECT_EQ(t.running, 1u);
  EXPECT_EQ(t.reason, "JobHeldAdmin");
  ASSERT_TRUE(sim.release(id).ok());
  EXPECT_EQ(tasks(sim, id).running, 3u);
}

TEST(SimSlurm, EndedRecordsArePurgedAfterMinJobAge) {
  SimSlurm sim(four_nodes(), 1000);
  uint32_t id = *sim.submit(array("0-1"));
  ASSERT_TRUE(sim.cancel_array(id).ok());
  EXPECT_EQ(sim.load_jobs()->size(), 2u);
  sim.advance_to(1299);
  EXPECT_EQ(sim.load_jobs()->size(), 2u);
  sim.advance_to(1300);
  EXPECT_TRUE(sim.load_jobs()->empty());
  EXPECT_EQ(sim.cancel_task(std::to_string(id) + "_0").error().code, ErrorCode::kNotFound);
}

TEST(SimSlurm, RefusesWhatSlurmctldRefusesAtSubmission) {
  SimSlurm sim(four_nodes(), 1000);
  auto bad_gpu = sim.submit(array("0-3", "a100"));
  ASSERT_FALSE(bad_gpu.ok());
  EXPECT_NE(bad_gpu.error().message.find("Requested node configuration is not available"),
            std::string::npos);
  EXPECT_FALSE(sim.submit(array("0-1001")).ok());  // MaxArraySize
  EXPECT_FALSE(sim.submit(array("3-1")).ok());
  SubmitSpec s = array("0-1");
  s.tres_per_node = "gpu";
  EXPECT_NE(sim.submit(s).error().message.find("tres_per_node"), std::string::npos);
  s = array("0-1");
  s.script = "echo no shebang\n";
  EXPECT_FALSE(sim.submit(s).ok());
  EXPECT_EQ(sim.set_throttle(4242, 2).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(sim.cancel_task("4242_0").error().code, ErrorCode::kNotFound);
}

TEST(SimSlurm, BuildsItsNodesFromARealNodeList) {
  SlurmNode n;
  n.name = "gpu7";
  n.gres = "gpu:h100:8(S:0-1)";
  n.features = "leaf3,h100";
  auto s = SimSlurm::nodes_like({n});
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].gpu_type, "h100");
  EXPECT_EQ(s[0].gpus, 8u);
  EXPECT_EQ(s[0].features, (std::vector<std::string>{"leaf3", "h100"}));
}

}  // namespace
}  // namespace hs::scaler
