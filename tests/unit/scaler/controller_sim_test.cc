// The Controller against SimSlurm: every tick reads Slurm's state from the simulation, the
// actions are carried out by the daemon's ActionExecutor, and Slurm moves on by its own rules
// (throttles, GPUs, queue wait, time limits, drained nodes). Running tasks register and
// report the load at once; what a test asserts is the state Slurm reaches.
#include "sim_world.h"

#include <cstdint>

namespace hs::scaler {
namespace {

using testing::World;

TEST(ControllerOnSimSlurm, GrowsAGroupOpensAnotherThenDrainsAndCancels) {
  World w;
  w.submit(Role::kPrefill, "g1", "0-63%1", "leaf1");
  w.submit(Role::kDecode, "g1", "0-63%1", "leaf1");
  w.load_tps = 50;
  w.run(3);
  ASSERT_EQ(w.serving(), "g1 1:1");
  // 550 tok/s at 100 per decode: 6 units. leaf1 has 4 l40s: g1 grows to 4, g2 opens under
  // leaf2 for the other 2.
  w.load_tps = 550;
  w.run(5);
  EXPECT_EQ(w.serving(), "g1 4:4 g2 2:2") << w.why();
  EXPECT_TRUE(w.failed.empty()) << ::testing::PrintToString(w.failed);
  // Load gone: drained (marked in Slurm), then cancelled once idle past the soft grace.
  w.load_tps = 50;
  w.run(3);
  EXPECT_TRUE(w.did("drain")) << w.why();
  w.run(20);
  EXPECT_EQ(w.serving(), "g1 1:1") << w.why();
  EXPECT_EQ(w.draining(), 0u);
  EXPECT_TRUE(w.did("cancel")) << w.why();
  EXPECT_TRUE(w.failed.empty()) << ::testing::PrintToString(w.failed);
}

// A latency breach during the soft grace puts every idle drained task back: the throttle
// rises by as many as come back, so none is drained again as "serving above throttle" (hs-sim
// found the throttle raised by one per array however many came back, and the tick after
// draining the rest again, in a loop).
TEST(ControllerOnSimSlurm, PutsBackEveryDrainedTaskOfAnArrayOnALatencyBreach) {
  World w;
  w.submit(Role::kPrefill, "g1", "0-63%3", "leaf1");
  w.submit(Role::kDecode, "g1", "0-63%3", "leaf1");
  w.load_tps = 250;
  w.run(3);
  ASSERT_EQ(w.serving(), "g1 3:3");
  w.load_tps = 50;  // one unit is enough: two drained per role
  w.run(1);
  ASSERT_EQ(w.draining(), 4u) << w.why();
  w.slow = true;
  for (int i = 0; i < 5 && !w.did("soft scale-in: latency guard breached"); ++i) w.tick();
  ASSERT_TRUE(w.did("soft scale-in: latency guard breached")) << w.why();
  EXPECT_EQ(w.serving(), "g1 3:3") << w.why();
  ClusterView v = w.view();
  for (Role role : {Role::kPrefill, Role::kDecode})
    for (const auto& a : v.services["chat"]["g1"].role(role).arrays) EXPECT_EQ(a.throttle, 3u);
  w.tick();
  EXPECT_FALSE(w.did("serving above throttle")) << w.why();
}

// Rolled back with nothing of its ratio running, a group's started prefill is drained, not
// cancelled with the array: it may hold requests (hs-sim found cancel-array killing serving
// tasks of a group whose decode ran fewer than one unit).
TEST(ControllerOnSimSlurm, ARollbackDrainsWhatRunsInsteadOfKillingIt) {
  World w;
  w.other_user_job("l40s", 4, "leaf1");  // every l40s of leaf1: g1's decode cannot start
  w.submit(Role::kPrefill, "g1", "0-63%1", "leaf1");
  w.submit(Role::kDecode, "g1", "0-63%1", "leaf1");
  w.load_tps = 50;
  w.run(3);
  ASSERT_EQ(w.serving(), "g1 1:0");
  w.run(40);  // past start_timeout (30 s)
  EXPECT_TRUE(w.did("rollback")) << w.why();
  EXPECT_TRUE(w.did("drain service=chat group=g1 role=prefill")) << w.why();
  EXPECT_FALSE(w.did("cancel-array service=chat group=g1 role=prefill")) << w.why();
}

TEST(ControllerOnSimSlurm, RollsBackAGroupWhoseDecodesPendPastStartTimeout) {
  SimSlurmOptions o;
  o.queue_wait_s = 5;
  World w(64, 0, o);
  w.submit(Role::kPrefill, "g1", "0-63%1", "leaf1");
  w.submit(Role::kDecode, "g1", "0-63%1", "leaf1");
  w.load_tps = 50;
  w.run(7);
  ASSERT_EQ(w.serving(), "g1 1:1");
  // Another user's job queues for node2's three free l40s just before the daemon grows g1:
  // it was there first and takes them; g1's new decodes wait on resources.
  w.other_user_job("l40s", 3, "leaf1");
  w.load_tps = 350;
  w.run(10);
  EXPECT_EQ(w.view().services["chat"]["g1"].decode.running_serving(), 1u);
  // Past start_timeout, g1 goes back to what both roles run; the capacity goes elsewhere.
  w.run(40);
  EXPECT_TRUE(w.did("rollback")) << w.why();
  auto v = w.view();
  const GroupPools& g1 = v.services["chat"]["g1"];
  EXPECT_EQ(g1.prefill.running_serving(), g1.decode.running_serving()) << w.serving();
  for (const auto& [g, gp] : v.services["chat"])
    EXPECT_EQ(gp.prefill.running_serving(), gp.decode.running_serving())
        << g << ": " << w.serving() << w.why();
  EXPECT_TRUE(w.failed.empty()) << ::testing::PrintToString(w.failed);
}

TEST(ControllerOnSimSlurm, ContinuesAnExhaustedArrayWithANewOne) {
  World w(2);  // templates submit arrays of 2 indices
  w.submit(Role::kPrefill, "g1", "0-1%1", "leaf1");
  w.submit(Role::kDecode, "g1", "0-1%1", "leaf1");
  w.load_tps = 50;
  w.run(3);
  ASSERT_EQ(w.serving(), "g1 1:1");
  w.load_tps = 350;  // 4 units: 2 from the hand-made arrays, 2 from continuations
  w.run(6);
  EXPECT_EQ(w.serving(), "g1 4:4") << w.why();
  auto v = w.view();
  EXPECT_EQ(v.services["chat"]["g1"].prefill.arrays.size(), 2u);
  EXPECT_EQ(v.services["chat"]["g1"].decode.arrays.size(), 2u);
  EXPECT_TRUE(w.did("submit")) << w.why();
  EXPECT_TRUE(w.failed.empty()) << ::testing::PrintToString(w.failed);
}

TEST(ControllerOnSimSlurm, ReplacesTasksOnADrainedNodeBeforeTheyGo) {
  World w;
  w.submit(Role::kPrefill, "g1", "0-63%2", "leaf1");
  w.submit(Role::kDecode, "g1", "0-63%2", "leaf1");
  w.load_tps = 150;
  w.run(3);
  ASSERT_EQ(w.serving(), "g1 2:2");
  ASSERT_TRUE(w.slurm.drain_node("node1", "bad DIMM").ok());
  w.run(10);
  EXPECT_TRUE(w.did("node node1 is drained")) << w.why();
  w.run(10);
  EXPECT_EQ(w.serving(), "g1 2:2") << w.why();
  EXPECT_EQ(w.draining(), 0u);
  auto v = w.view();
  for (const auto& a : v.services["chat"]["g1"].prefill.arrays)
    for (const auto& task : a.tasks)
      if (task.state == JobState::kRunning) {
        EXPECT_EQ(task.node, "node5") << task.id();
      }
  EXPECT_TRUE(w.failed.empty()) << ::testing::PrintToString(w.failed);
}

TEST(ControllerOnSimSlurm, ReplacesTasksAheadOfTheirTimeLimit) {
  World w(64, 10);
  w.submit(Role::kPrefill, "g1", "0-63%1", "leaf1", 10);
  w.submit(Role::kDecode, "g1", "0-63%1", "leaf1", 10);
  w.load_tps = 50;
  // The 10-minute limit with replace_before 120 s: successors start at ~480 s; the first
  // tasks are drained and gone before Slurm would have ended them at 600 s.
  bool ever_unserved = false;
  for (int i = 0; i < 700; ++i) {
    w.tick();
    if (i > 2 && w.serving() != "g1 1:1" && w.serving() != "g1 2:2") ever_unserved = true;
  }
  EXPECT_FALSE(ever_unserved);
  EXPECT_TRUE(w.did("time limit in 120 s")) << w.why();
  auto v = w.view();
  uint32_t timed_out = 0;
  for (Role role : {Role::kPrefill, Role::kDecode})
    for (const auto& a : v.services["chat"]["g1"].role(role).arrays)
      for (const auto& task : a.tasks)
        if (task.task_id == 0 && task.state == JobState::kRunning) ++timed_out;
  EXPECT_EQ(timed_out, 0u);
  EXPECT_EQ(w.serving(), "g1 1:1");
  EXPECT_TRUE(w.failed.empty()) << ::testing::PrintToString(w.failed);
}

}  // namespace
}  // namespace hs::scaler
