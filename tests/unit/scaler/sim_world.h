// A world for Controller tests on SimSlurm: every tick reads Slurm's state from the
// simulation, the actions are carried out by the daemon's ActionExecutor, and Slurm moves on
// by its own rules (throttles, GPUs, queue wait, time limits, drained nodes). Running tasks
// register and report the load at once; what a test asserts is the state Slurm reaches.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "hs/scaler/action_executor.h"
#include "hs/scaler/controller.h"
#include "hs/scaler/sim_slurm.h"
#include "test_util.h"

namespace hs::scaler::testing {

inline constexpr const char* kConfig = R"(
services:
  - name: chat
    variants:
      - {name: v, prefill_gpu: h100, decode_gpu: l40s, ratio: "1:1", decode_tps_per_instance: 100}
    bounds: {min_prefill: 1, max_prefill: 12, min_decode: 1, max_decode: 12}
    affinity: leaf
    scaling: {window_s: 10, stale_after_s: 10, out_cooldown_s: 0, in_cooldown_s: 0,
              in_stabilization_s: 0, max_step_out_units: 8, max_step_in_fraction: 1.0,
              soft_scale_in_grace_s: 2, start_timeout_s: 30}
daemon:
  tick_s: 1
  drain_timeout_s: 100
  replace_before_s: 120
  templates:
    chat: {prefill_script: @DIR@/p.sbatch, decode_script: @DIR@/d.sbatch, array_size: @SIZE@,
           time_limit_min: @LIMIT@}
)";

inline DaemonConfig config(uint32_t array_size, uint32_t time_limit_min) {
  return daemon_config_for_test(kConfig, {{"@SIZE@", std::to_string(array_size)},
                                          {"@LIMIT@", std::to_string(time_limit_min)}});
}

inline std::vector<SimNode> nodes() {
  return {{"node1", "h100", 4, {"leaf1", "h100"}},
          {"node2", "l40s", 4, {"leaf1", "l40s"}},
          {"node3", "h100", 4, {"leaf2", "h100"}},
          {"node4", "l40s", 4, {"leaf2", "l40s"}},
          {"node5", "h100", 4, {"leaf1", "h100"}}};
}

inline topo::Fabric fabric() {
  std::vector<topo::SwitchDecl> d = {{"leaf1", {"node1", "node2", "node5"}, {}, {}, "", "t:1"},
                                     {"leaf2", {"node3", "node4"}, {}, {}, "", "t:2"},
                                     {"spine", {}, {"leaf1", "leaf2"}, {}, "", "t:3"}};
  return *topo::Fabric::build(d, "test");
}

// A running task as the daemon sees it: registered when first seen (heartbeating every tick
// since) and a 10 s metrics window producing `tps` decode tokens/s.
inline void observe_task(const PoolTask& task, const std::string& service, const std::string& group,
                         Role role, double tps, TimePoint now,
                         std::map<std::string, TimePoint>& registered,
                         std::vector<Registration>& regs, ServiceMetrics& m) {
  Registration r;
  r.url = "http://127.0.0.1:" + std::to_string(10000 + task.job_id);
  r.service = service;
  r.group = group;
  r.role = role;
  r.job_id = std::to_string(task.array_job_id);
  r.array_task_id = std::to_string(task.task_id);
  r.registered = registered.try_emplace(task.id(), now).first->second;
  r.last_heartbeat = now;
  regs.push_back(r);
  InstanceSeries s;
  s.id = task.id();
  s.role = role;
  s.group = group;
  s.decode_tps_target = 100;
  for (int k = 0; k <= 10; ++k) {
    InstanceSample x;
    x.t = now - std::chrono::seconds(10 - k);
    x.generation_tokens = tps * k;
    x.prompt_tokens = 0;
    x.running = x.waiting = 0;
    s.samples.push_back(x);
  }
  m.window.instances.push_back(s);
  m.engine_in_flight[r.url] = 0;
}

struct World {
  explicit World(uint32_t array_size = 64, uint32_t time_limit_min = 0, SimSlurmOptions o = {})
      : slurm(nodes(), kWall0, o), cfg(config(array_size, time_limit_min)) {}
  static constexpr int64_t kWall0 = 1'000'000;
  SimSlurm slurm;
  DaemonConfig cfg;
  TimePoint t0{std::chrono::hours(1)};
  ManualClock clock{t0};
  Controller c{cfg, fabric(), t0};
  ActionExecutor ex{slurm, clock, Logger("test", LogLevel::kOff, null_sink())};
  double t = 0;
  double load_tps = 0;  // the service's decode tokens/s, spread evenly
  bool slow = false;    // the router sees every request's TTFT far above the SLO (guard breach)
  std::vector<std::string> done, failed;        // executed actions, described
  std::map<std::string, TimePoint> registered;  // task id -> when it registered
  std::vector<std::string> outside;             // outside changes the Controller reported

  // Submits a group's array as a person would with sbatch (the tag in the comment).
  // `comment`: the site's text, the tag placed in it by with_job_tag.
  uint32_t submit(Role role, const std::string& group, const std::string& array,
                  const std::string& leaf, uint32_t time_limit_min = 0,
                  const std::string& comment = "") {
    SubmitSpec s;
    s.name = "chat";
    s.script = "#!/bin/bash\n";
    s.comment = with_job_tag(comment, {"chat", role, group, "v", std::nullopt, std::nullopt});
    s.array = array;
    s.tres_per_node = role == Role::kPrefill ? "gres:gpu:h100:1" : "gres:gpu:l40s:1";
    s.constraint = leaf;
    s.time_limit_min = time_limit_min;
    auto id = slurm.submit(s);
    EXPECT_TRUE(id.ok()) << id.error().to_string();
    return *id;
  }

  // Another user's untagged array of `n` one-GPU tasks of `gpu` under `leaf` (it queues
  // before whatever the daemon submits next).
  void other_user_job(const std::string& gpu, uint32_t n, const std::string& leaf) {
    SubmitSpec s;
    s.name = "batch";
    s.script = "#!/bin/bash\n";
    s.array = "0-" + std::to_string(n - 1);
    s.tres_per_node = "gres:gpu:" + gpu + ":1";
    s.constraint = leaf;
    auto id = slurm.submit(s);
    EXPECT_TRUE(id.ok()) << id.error().to_string();
  }

  ClusterView view() { return build_view(*slurm.load_jobs()); }

  // One daemon tick `dt` seconds after the last.
  void tick(double dt = 1) {
    t += dt;
    clock.set(t0 + from_seconds(t));
    int64_t wall = kWall0 + static_cast<int64_t>(t);
    slurm.advance_to(wall);
    SlurmSnapshot snap;
    snap.seq = static_cast<uint64_t>(t) + 1;
    snap.view = view();
    snap.nodes = *slurm.load_nodes();
    snap.read_at = clock.now();
    snap.read_at_unix_s = wall;
    std::vector<Registration> regs;
    ServiceMetrics m;
    m.router_known = true;
    uint32_t decodes = 0;
    for (const auto& [g, gp] : snap.view.services["chat"])
      for (const auto& a : gp.decode.arrays)
        for (const auto& task : a.tasks)
          if (task.state == JobState::kRunning && !task.draining()) ++decodes;
    for (const auto& [g, gp] : snap.view.services["chat"])
      for (Role role : {Role::kPrefill, Role::kDecode})
        for (const auto& a : gp.role(role).arrays)
          for (const auto& task : a.tasks) {
            if (task.state != JobState::kRunning) continue;
            double tps =
                role == Role::kDecode && !task.draining() && decodes ? load_tps / decodes : 0;
            observe_task(task, "chat", g, role, tps, clock.now(), registered, regs, m);
          }
    if (slow) {
      // 100 first tokens in the window, all slower than any guard edge.
      Histogram h0{{1, 2.5, 5, 10, std::numeric_limits<double>::infinity()}, {0, 0, 0, 0, 0}, 0, 0};
      Histogram h1 = h0;
      h1.cumulative = {0, 0, 0, 0, 100};
      h1.count = 100;
      h1.sum = 5000;
      for (const auto& [g, gp] : snap.view.services["chat"]) {
        (void)gp;
        m.window.groups.push_back(
            {g, {{clock.now() - std::chrono::seconds(9), h0, h0}, {clock.now(), h1, h0}}});
      }
    }
    auto acts = c.tick(&snap, regs, {{"chat", m}}, clock.now(), wall);
    for (const auto& o : c.status().at("chat").outside_changes) outside.push_back(o);
    auto res = ex.run(acts);
    for (const auto& o : res.done)
      (o.status.ok() ? done : failed)
          .push_back(o.action->describe() + (o.status.ok() ? "" : ": " + o.status.error().message));
  }
  void run(double seconds) {
    for (double end = t + seconds; t < end;) tick();
  }

  // Running, not draining, per group and role: "g1 2:2 g2 1:1".
  std::string serving() {
    std::string s;
    auto v = view();
    for (const auto& [g, gp] : v.services["chat"])
      s += (s.empty() ? "" : " ") + g + " " + std::to_string(gp.prefill.running_serving()) + ":" +
           std::to_string(gp.decode.running_serving());
    return s;
  }
  uint32_t draining() {
    uint32_t n = 0;
    auto v = view();
    for (const auto& [g, gp] : v.services["chat"])
      n += gp.prefill.draining() + gp.decode.draining();
    return n;
  }
  // The service's last decision or hold, and the actions done, for failure messages.
  std::string why() const {
    const ServiceStatus& st = c.status().at("chat");
    return (st.decided ? st.decision.to_log_line() : "hold: " + st.hold_reason) + "\n" +
           ::testing::PrintToString(st.actions) + "\n" + ::testing::PrintToString(done);
  }
  bool reported(const std::string& needle) const {
    for (const auto& o : outside)
      if (o.find(needle) != std::string::npos) return true;
    return false;
  }
  bool did(const std::string& needle) const {
    for (const auto& d : done)
      if (d.find(needle) != std::string::npos) return true;
    return false;
  }
};

}  // namespace hs::scaler::testing
