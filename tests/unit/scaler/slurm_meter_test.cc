// SlurmMeter: every call counted and timed; writes paced by a token bucket on the Slurm
// thread, never reads.
#include <gtest/gtest.h>

#include <cstdint>

#include "hs/scaler/daemon_config.h"
#include "hs/scaler/sim_slurm.h"
#include "hs/scaler/slurm_meter.h"

namespace hs::scaler {
namespace {

TEST(SlurmMeter, PacesWritesNotReadsAndCountsEveryCall) {
  SimSlurm sim({{"node1", "h100", 4, {"leaf1", "h100"}}}, 1000);
  ManualClock clock;
  std::vector<double> waits;
  SlurmMeter m(sim, clock, {2.0, 3.0}, [&](Duration d) {
    waits.push_back(to_seconds(d));
    clock.advance(d);
  });
  SubmitSpec s;
  s.name = "t";
  s.script = "#!/bin/bash\n";
  s.array = "0-7%1";
  s.tres_per_node = "gres:gpu:h100:1";
  auto id = m.submit(s);
  ASSERT_TRUE(id.ok()) << id.error().to_string();
  for (uint32_t n = 2; n <= 6; ++n) EXPECT_TRUE(m.set_throttle(*id, n).ok());
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(m.load_jobs().ok());
  // A burst of 3 (submit + 2 throttles) at once, then one write every 0.5 s.
  EXPECT_EQ(waits.size(), 3u);
  for (double w : waits) EXPECT_NEAR(w, 0.5, 1e-6);
  auto r = m.report();
  EXPECT_EQ(r.writes_paced, 3u);
  EXPECT_NEAR(r.write_wait_seconds, 1.5, 1e-6);
  EXPECT_EQ(r.by_call["submit"].calls, 1u);
  EXPECT_EQ(r.by_call["set_throttle"].calls, 5u);
  EXPECT_EQ(r.by_call["load_jobs"].calls, 10u);
  EXPECT_EQ(r.by_call["load_jobs"].errors, 0u);
  // Errors are counted by call; refilled tokens let a later write through at once.
  clock.advance(std::chrono::seconds(10));
  EXPECT_FALSE(m.set_throttle(*id, 0).ok());
  EXPECT_EQ(m.report().by_call["set_throttle"].errors, 1u);
  EXPECT_EQ(waits.size(), 3u);
}

TEST(SlurmMeter, UnpacedWithZeroRate) {
  SimSlurm sim({{"node1", "h100", 4, {"leaf1", "h100"}}}, 1000);
  ManualClock clock;
  int sleeps = 0;
  SlurmMeter m(sim, clock, {0, 1}, [&](Duration) { ++sleeps; });
  for (int i = 0; i < 50; ++i) (void)m.cancel_task("1_0");
  EXPECT_EQ(sleeps, 0);
  EXPECT_EQ(m.report().by_call["cancel_task"].calls, 50u);
}

TEST(SlurmReads, ParsedStrictlyWithTheField) {
  EXPECT_EQ(*parse_slurm_reads("own"), SlurmReads::kOwn);
  EXPECT_EQ(*parse_slurm_reads("all"), SlurmReads::kAll);
  EXPECT_EQ(*parse_slurm_reads("full"), SlurmReads::kFull);
  EXPECT_FALSE(parse_slurm_reads("mine").ok());
  auto bad = parse_daemon_config(
      "services: []\ndaemon:\n  slurm_reads: mine\n  slurm_writes_per_s: -1\n", "d.yaml");
  ASSERT_FALSE(bad.ok());
  std::string e = bad.error().to_string();
  EXPECT_NE(e.find("daemon.slurm_reads"), std::string::npos) << e;
  EXPECT_NE(e.find("daemon.slurm_writes_per_s"), std::string::npos) << e;
}

}  // namespace
}  // namespace hs::scaler
