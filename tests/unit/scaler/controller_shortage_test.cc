// The shortage stage through the Controller on SimSlurm: two services on the same GPUs, the
// higher-priority one's growth placed short; the lower one gives units by its ordinary drain,
// and the higher one grows into the GPUs they free. What is asserted is the state Slurm
// reaches and what each service's status says.
#include <gtest/gtest.h>

#include <cstdint>

#include "hs/common/job_tag.h"
#include "hs/scaler/action_executor.h"
#include "hs/scaler/controller.h"
#include "hs/scaler/sim_slurm.h"
#include "sim_world.h"
#include "test_util.h"

namespace hs::scaler {
namespace {

constexpr const char* kTwo = R"(
services:
  - name: hi
    priority: 10
    variants:
      - {name: v, prefill_gpu: h100, decode_gpu: l40s, ratio: "1:1", decode_tps_per_instance: 100}
    bounds: {min_prefill: 1, max_prefill: 8, min_decode: 1, max_decode: 8}
    affinity: any
    scaling: &s {window_s: 10, stale_after_s: 10, out_cooldown_s: 0, in_cooldown_s: 0,
                 in_stabilization_s: 0, max_step_out_units: 8, max_step_in_fraction: 1.0,
                 soft_scale_in_grace_s: 2, start_timeout_s: 300}
  - name: lo
    variants:
      - {name: v, prefill_gpu: h100, decode_gpu: l40s, ratio: "1:1", decode_tps_per_instance: 100}
    bounds: {min_prefill: 1, max_prefill: 8, min_decode: 1, max_decode: 8}
    affinity: any
    scaling: *s
daemon:
  tick_s: 1
  drain_timeout_s: 100
  templates:
    hi: {prefill_script: @DIR@/p.sbatch, decode_script: @DIR@/d.sbatch}
    lo: {prefill_script: @DIR@/p.sbatch, decode_script: @DIR@/d.sbatch}
)";

struct TwoServices {
  static constexpr int64_t kWall0 = 1'000'000;
  SimSlurm slurm{{{"node1", "h100", 4, {"leaf1", "h100"}}, {"node2", "l40s", 4, {"leaf1", "l40s"}}},
                 kWall0};
  DaemonConfig cfg = testing::daemon_config_for_test(kTwo);
  TimePoint t0{std::chrono::hours(1)};
  ManualClock clock{t0};
  Controller c{
      cfg, *topo::Fabric::build({{"leaf1", {"node1", "node2"}, {}, {}, "", "t:1"}}, "test"), t0};
  ActionExecutor ex{slurm, clock, Logger("test", LogLevel::kOff, null_sink())};
  double t = 0;
  std::map<std::string, double> load;  // service -> decode tokens/s
  std::map<std::string, TimePoint> registered;

  void submit(const std::string& svc, Role role, uint32_t running) {
    SubmitSpec s;
    s.name = svc;
    s.script = "#!/bin/bash\n";
    s.comment = with_job_tag("", {svc, role, "g1", "v", std::nullopt, std::nullopt});
    s.array = "0-15%" + std::to_string(running);
    s.tres_per_node = role == Role::kPrefill ? "gres:gpu:h100:1" : "gres:gpu:l40s:1";
    auto id = slurm.submit(s);
    ASSERT_TRUE(id.ok()) << id.error().to_string();
  }
  void tick() {
    t += 1;
    clock.set(t0 + from_seconds(t));
    int64_t wall = kWall0 + static_cast<int64_t>(t);
    slurm.advance_to(wall);
    SlurmSnapshot snap;
    snap.seq = static_cast<uint64_t>(t) + 1;
    snap.view = build_view(*slurm.load_jobs());
    snap.nodes = *slurm.load_nodes();
    snap.read_at = clock.now();
    snap.read_at_unix_s = wall;
    std::vector<Registration> regs;
    std::map<std::string, ServiceMetrics> metrics;
    for (const auto& [svc, groups] : snap.view.services) {
      ServiceMetrics& m = metrics[svc];
      m.router_known = true;
      uint32_t decodes = 0;
      for (const auto& [g, gp] : groups) decodes += gp.decode.running_serving();
      for (const auto& [g, gp] : groups)
        for (Role role : {Role::kPrefill, Role::kDecode})
          for (const auto& a : gp.role(role).arrays)
            for (const auto& task : a.tasks) {
              if (task.state != JobState::kRunning) continue;
              double tps =
                  role == Role::kDecode && !task.draining() && decodes ? load[svc] / decodes : 0;
              testing::observe_task(task, svc, g, role, tps, clock.now(), registered, regs, m);
            }
    }
    ex.run(c.tick(&snap, regs, metrics, clock.now(), wall));
  }
  // Running, not draining, prefill:decode of a service.
  std::string serving(const std::string& svc) {
    auto v = build_view(*slurm.load_jobs());
    uint32_t p = 0, d = 0;
    for (const auto& [g, gp] : v.services[svc]) {
      p += gp.prefill.running_serving();
      d += gp.decode.running_serving();
    }
    return std::to_string(p) + ":" + std::to_string(d);
  }
  bool said(const std::string& svc, const std::string& needle) const {
    const ServiceStatus& st = c.status().at(svc);
    for (const auto& a : st.actions)
      if (a.find(needle) != std::string::npos) return true;
    return st.decided && st.decision.to_log_line().find(needle) != std::string::npos;
  }
};

TEST(ControllerShortage, TheLowerPriorityServiceGivesUnitsTheHigherOneGrowsInto) {
  TwoServices w;
  // All 4 GPUs of each type in use: hi 1 unit, lo 3 units, each loaded to its size.
  w.submit("hi", Role::kPrefill, 1);
  w.submit("hi", Role::kDecode, 1);
  w.submit("lo", Role::kPrefill, 3);
  w.submit("lo", Role::kDecode, 3);
  w.load = {{"hi", 90}, {"lo", 270}};
  for (int i = 0; i < 5; ++i) w.tick();
  ASSERT_EQ(w.serving("hi"), "1:1");
  ASSERT_EQ(w.serving("lo"), "3:3");
  // hi needs 3 units: nothing is free, so lo (priority 0) gives 2, though its own load still
  // asks for 3; it drains them (never below its min) and hi grows into the GPUs they free.
  w.load["hi"] = 290;
  bool told_hi = false, told_lo = false;
  for (int i = 0; i < 60 && w.serving("hi") != "3:3"; ++i) {
    w.tick();
    told_hi |= w.said("hi", "lo (priority 0) gives 2 unit(s) to hi (priority 10)");
    told_lo |= w.said("lo", "lo (priority 0) gives 2 unit(s) to hi (priority 10)");
  }
  EXPECT_EQ(w.serving("hi"), "3:3");
  EXPECT_EQ(w.serving("lo"), "1:1");
  EXPECT_TRUE(told_hi) << "the receiver's status names who gave what";
  EXPECT_TRUE(told_lo) << "the donor's decision names who it gave to";
  // Once hi is placed in full the yield ends: lo is no longer capped (it may grow again
  // where GPUs are free; here none are, so it stays).
  for (int i = 0; i < 5; ++i) w.tick();
  EXPECT_EQ(w.serving("lo"), "1:1");
  EXPECT_FALSE(w.said("lo", "shortage:")) << w.c.status().at("lo").decision.to_log_line();
}

}  // namespace
}  // namespace hs::scaler
