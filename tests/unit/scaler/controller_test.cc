// The daemon's tick without Slurm: hand-built job records and metrics in, actions out.
#include "hs/scaler/controller.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>

#include "hs/scaler/daemon_config.h"
#include "test_util.h"

namespace hs::scaler {
namespace {

constexpr const char* kConfig = R"(
services:
  - name: chat
    variants:
      - {name: v, prefill_gpu: h100, decode_gpu: l40s, ratio: "1:1", decode_tps_per_instance: 100}
@FALLBACK@    bounds: {min_prefill: 1, max_prefill: 8, min_decode: 1, max_decode: 8}
    scaling: {window_s: 10, stale_after_s: 10, out_cooldown_s: 0, in_cooldown_s: 0,
              in_stabilization_s: 0, max_step_out_units: 8, max_step_in_fraction: 1.0,
              soft_scale_in_grace_s: 5, start_timeout_s: 30}
daemon:
  tick_s: 1
  drain_timeout_s: 100
  templates:
    chat: {prefill_script: @DIR@/p.sbatch, decode_script: @DIR@/d.sbatch}
)";

DaemonConfig test_config(const std::string& fallback = "") {
  return testing::daemon_config_for_test(kConfig, {{"@FALLBACK@", fallback}});
}

topo::Fabric two_leaves() {
  std::vector<topo::SwitchDecl> d = {{"leaf1", {"node1", "node2"}, {}, {}, "", "t:1"},
                                     {"leaf2", {"node3", "node4"}, {}, {}, "", "t:2"},
                                     {"spine", {}, {"leaf1", "leaf2"}, {}, "", "t:3"}};
  return *topo::Fabric::build(d, "test");
}

std::vector<SlurmNode> nodes(uint32_t used_h100_node1, uint32_t used_l40s_node2) {
  auto n = [](std::string name, std::string type, uint32_t used) {
    SlurmNode x;
    x.name = name;
    x.state = used ? "mixed" : "idle";
    x.gres = "gpu:" + type + ":4(S:0-1)";
    x.gres_used =
        "gpu:" + type + ":" + std::to_string(used) + "(IDX:0-" + std::to_string(used) + ")";
    return x;
  };
  return {n("node1", "h100", used_h100_node1), n("node2", "l40s", used_l40s_node2),
          n("node3", "h100", 0), n("node4", "l40s", 0)};
}

// An array with `running` tasks (ids 0..), throttle, and pending indices up to 15.
std::vector<SlurmJob> pool(uint32_t array, const char* role, const char* node, uint32_t running,
                           uint32_t throttle, std::vector<uint32_t> draining = {}) {
  std::vector<SlurmJob> out;
  std::string tag = std::string("heteroscale/v1 service=chat role=") + role + " group=g1 variant=v";
  for (uint32_t i = 0; i < running; ++i) {
    SlurmJob j;
    j.job_id = array * 100 + i;
    j.array_job_id = array;
    j.array_task_id = i;
    j.array_max_tasks = throttle;
    j.state = JobState::kRunning;
    j.comment = tag;
    for (uint32_t d : draining)
      if (d == i) j.comment += " drain=1000";
    j.nodes = node;
    j.features = "leaf1";
    out.push_back(j);
  }
  SlurmJob meta;
  meta.job_id = array;
  meta.array_job_id = array;
  meta.pending_tasks = std::to_string(running) + "-15";
  meta.array_max_tasks = throttle;
  meta.state = JobState::kPending;
  meta.state_reason = "JobArrayTaskLimit";
  meta.comment = tag;
  meta.features = "leaf1";
  out.push_back(meta);
  return out;
}

struct Fixture {
  explicit Fixture(const std::string& fallback = "") : cfg(test_config(fallback)) {}
  DaemonConfig cfg;
  TimePoint t0{std::chrono::hours(1)};
  Controller c{cfg, two_leaves(), t0};
  std::vector<Registration> regs;
  std::map<std::string, ServiceMetrics> metrics;

  void register_all(const ClusterView& v, TimePoint heartbeat) {
    regs.clear();
    for (const auto& [g, gp] : v.services.at("chat"))
      for (const RolePool* rp : {&gp.prefill, &gp.decode})
        for (const auto& a : rp->arrays)
          for (const auto& t : a.tasks) {
            Registration r;
            r.url = "http://127.0.0.1:" + std::to_string(9000 + t.job_id);
            r.service = "chat";
            r.group = g;
            r.role = t.tag.role;
            r.job_id = std::to_string(t.array_job_id);
            r.array_task_id = std::to_string(t.task_id);
            r.registered = t0;
            r.last_heartbeat = heartbeat;
            regs.push_back(r);
          }
  }
  // Decode instances each producing `tps` tokens/s over the last 10 s.
  void load(const ClusterView& v, double tps, TimePoint now) {
    ServiceMetrics m;
    m.router_known = true;
    for (const auto& [g, gp] : v.services.at("chat"))
      for (Role role : {Role::kPrefill, Role::kDecode})
        for (const auto& a : gp.role(role).arrays)
          for (const auto& t : a.tasks) {
            InstanceSeries s;
            s.id = t.id();
            s.role = role;
            s.group = g;
            s.decode_tps_target = 100;
            for (int k = 0; k <= 10; ++k) {
              InstanceSample x;
              x.t = now - std::chrono::seconds(10 - k);
              x.generation_tokens = role == Role::kDecode ? tps * k : 0;
              x.prompt_tokens = 0;
              x.running = x.waiting = 0;
              s.samples.push_back(x);
            }
            m.window.instances.push_back(s);
            m.engine_in_flight["http://127.0.0.1:" + std::to_string(9000 + t.job_id)] = 0;
          }
    metrics["chat"] = m;
  }
  std::vector<Action> tick(std::vector<SlurmJob> jobs, std::vector<SlurmNode> n, TimePoint now,
                           int64_t wall = 2000) {
    SlurmSnapshot s;
    s.seq = 1;
    s.view = build_view(jobs);
    s.nodes = std::move(n);
    s.read_at = now;
    return c.tick(&s, regs, metrics, now, wall);
  }
};

std::vector<SlurmJob> cat(std::vector<SlurmJob> a, const std::vector<SlurmJob>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(Controller, ScaleOutRaisesBothThrottlesThenOpensAGroupUnderTheOtherLeaf) {
  Fixture f;
  auto jobs = cat(pool(1, "prefill", "node1", 1, 1), pool(2, "decode", "node2", 1, 1));
  auto view = build_view(jobs);
  TimePoint now = f.t0 + std::chrono::seconds(100);
  f.register_all(view, now);
  f.load(view, 550, now);  // 550 tok/s at 100 per unit: 6 units
  auto acts = f.tick(jobs, nodes(1, 1), now);
  std::vector<std::string> d;
  for (const auto& a : acts) d.push_back(a.describe());
  const ServiceStatus& st = f.c.status().at("chat");
  ASSERT_EQ(acts.size(), 4u) << ::testing::PrintToString(d) << st.hold_reason << "\n"
                             << st.decision.to_log_line() << ::testing::PrintToString(st.actions);
  // leaf1 has 3 more GPUs of each type: g1 grows to 4, and g2 opens under leaf2 for 2 units.
  EXPECT_EQ(acts[0].kind, Action::Kind::kThrottle);
  EXPECT_EQ(acts[0].value, 4u);
  EXPECT_EQ(acts[1].kind, Action::Kind::kThrottle);
  EXPECT_EQ(acts[1].value, 4u);
  EXPECT_EQ(acts[2].kind, Action::Kind::kSubmit);
  EXPECT_EQ(acts[2].submit.constraint, "leaf2");
  EXPECT_EQ(acts[2].submit.array, "0-63%2");
  EXPECT_EQ(acts[3].submit.comment, "heteroscale/v1 service=chat role=decode group=g2 variant=v");
}

}  // namespace
}  // namespace hs::scaler

namespace hs::scaler {
namespace {

std::string kinds(const std::vector<Action>& acts) {
  std::string s;
  for (const auto& a : acts)
    s += std::string(to_string(a.kind)) + ":" + a.task +
         (a.kind == Action::Kind::kThrottle ? "=" + std::to_string(a.value) : "") + " ";
  return s;
}

TEST(Controller, ReplacesATaskOnADrainedNodeBeforeDrainingIt) {
  Fixture f;
  // 2 prefill + 2 decode in g1; node1 (the prefills' node) gets drained by an admin.
  auto jobs = cat(pool(1, "prefill", "node1", 2, 2), pool(2, "decode", "node2", 2, 2));
  auto view = build_view(jobs);
  TimePoint now = f.t0 + std::chrono::seconds(100);
  f.register_all(view, now);
  f.load(view, 75, now);  // 150 tok/s in all: 2 units, the current size
  auto n = nodes(2, 2);
  n[0].drain = true;
  auto acts = f.tick(jobs, n, now);
  // Both prefill tasks are marked first, then the throttle is raised by two.
  EXPECT_EQ(kinds(acts), "drain:1_0 drain:1_1 throttle:=4 ") << kinds(acts);
  EXPECT_NE(acts[0].comment.find(" replace=2000"), std::string::npos);

  // Slurm state after those writes: marked tasks, throttle 4, two new tasks running on node3
  // but not registered yet: nothing more happens.
  auto p = pool(1, "prefill", "node1", 4, 4);
  for (int i = 0; i < 2; ++i) p[i].comment += " replace=2000";
  p[2].nodes = p[3].nodes = "node3";
  jobs = cat(p, pool(2, "decode", "node2", 2, 2));
  view = build_view(jobs);
  now += std::chrono::seconds(1);
  acts = f.tick(jobs, n, now);
  EXPECT_EQ(kinds(acts), "") << kinds(acts);
  // The policy would count 2 prefill (the successors), not 4; it waits for the round.
  EXPECT_EQ(f.c.status().at("chat").counts.at("g1").at("prefill").first, 4u);
  EXPECT_EQ(f.c.status().at("chat").hold_reason, "2 instance(s) being replaced");
  // Successors registered: throttle back to 2 first, then the old ones drain.
  f.register_all(view, now);
  now += std::chrono::seconds(1);
  acts = f.tick(jobs, n, now);
  EXPECT_EQ(kinds(acts), "throttle:=2 drain:1_0 drain:1_1 ") << kinds(acts);
  EXPECT_NE(acts[1].comment.find(" drain="), std::string::npos);
  EXPECT_EQ(acts[1].comment.find(" replace="), std::string::npos);
}

TEST(Controller, ClosingAPoolCancelsItsPendingIndicesAndNeverWritesZero) {
  Fixture f;
  // Two groups of one unit each; load for one unit: the newer group g2 is closed.
  auto g2p = pool(3, "prefill", "node3", 1, 1);
  auto g2d = pool(4, "decode", "node4", 1, 1);
  for (auto* v : {&g2p, &g2d})
    for (auto& j : *v) {
      j.comment.replace(j.comment.find("group=g1"), 8, "group=g2");
      j.features = "leaf2";
    }
  auto jobs =
      cat(cat(pool(1, "prefill", "node1", 1, 1), pool(2, "decode", "node2", 1, 1)), cat(g2p, g2d));
  auto view = build_view(jobs);
  TimePoint now = f.t0 + std::chrono::seconds(400);
  f.register_all(view, now);
  f.load(view, 40, now);
  auto acts = f.tick(jobs, nodes(1, 1), now);
  for (const auto& a : acts) EXPECT_FALSE(a.kind == Action::Kind::kThrottle && a.value == 0);
  EXPECT_EQ(kinds(acts), "cancel:3_[1-15] cancel:4_[1-15] drain:4_0 drain:3_0 ") << kinds(acts);
}

TEST(Controller, HoldsWithoutASlurmSnapshot) {
  Fixture f;
  TimePoint now = f.t0 + std::chrono::seconds(100);
  auto acts = f.c.tick(nullptr, {}, {}, now, 2000);
  EXPECT_TRUE(acts.empty());
  EXPECT_NE(f.c.status().at("chat").hold_reason.find("holding"), std::string::npos);
}

TEST(Controller, DryRunDecidesButWritesNothing) {
  Fixture f;
  f.cfg.daemon.dry_run = true;
  f.c.reload(f.cfg, two_leaves());
  auto jobs = cat(pool(1, "prefill", "node1", 1, 1), pool(2, "decode", "node2", 1, 1));
  auto view = build_view(jobs);
  TimePoint now = f.t0 + std::chrono::seconds(100);
  f.register_all(view, now);
  f.load(view, 550, now);
  auto acts = f.tick(jobs, nodes(1, 1), now);
  EXPECT_TRUE(acts.empty()) << kinds(acts);
  EXPECT_NE(::testing::PrintToString(f.c.status().at("chat").actions)
                .find("dry-run: would move to 6P/6D"),
            std::string::npos);
}

TEST(Controller, EachDecodeInstanceIsRatedAtItsOwnGroupsVariant) {
  // g1 runs the preferred variant (100 tok/s per decode), g2 a fallback rated 50: capacity
  // 100 + 2 x 50 = 200 tok/s for 3 decode instances. At 190 tok/s that is 95%: hold. Rated
  // at the preferred target (300) it would read 63% and scale in, under-provisioning g2.
  Fixture f(
      "      - {name: f, prefill_gpu: h100, decode_gpu: l40s, ratio: \"1:1\", "
      "decode_tps_per_instance: 50}\n");
  auto g2p = pool(3, "prefill", "node3", 2, 2);
  auto g2d = pool(4, "decode", "node4", 2, 2);
  for (auto* v : {&g2p, &g2d})
    for (auto& j : *v) {
      j.comment.replace(j.comment.find("group=g1 variant=v"), 18, "group=g2 variant=f");
      j.features = "leaf2";
    }
  auto jobs =
      cat(cat(pool(1, "prefill", "node1", 1, 1), pool(2, "decode", "node2", 1, 1)), cat(g2p, g2d));
  auto view = build_view(jobs);
  TimePoint now = f.t0 + std::chrono::seconds(400);
  f.register_all(view, now);
  f.load(view, 190.0 / 3, now);
  auto acts = f.tick(jobs, nodes(1, 1), now);
  const ServiceStatus& st = f.c.status().at("chat");
  ASSERT_TRUE(st.decided) << st.hold_reason;
  EXPECT_EQ(st.decision.direction, Direction::kHold) << st.decision.to_log_line();
  EXPECT_TRUE(acts.empty()) << kinds(acts);
  EXPECT_NE(st.decision.to_log_line().find("66.7 tok/s per unit"), std::string::npos)
      << st.decision.to_log_line();
  // The router's ratio gate follows each group's own variant.
  auto r = f.c.ratios();
  EXPECT_EQ(r.at("chat").at("g2"), std::make_pair(1.0, 1.0));
  EXPECT_EQ(st.group_variants.at("g2"), "f");
}

TEST(Controller, TheRatioGateIsTheGroupsOwnVariants) {
  Fixture f(
      "      - {name: f, prefill_gpu: h100, decode_gpu: l40s, ratio: \"2:3\", "
      "decode_tps_per_instance: 50}\n");
  auto g2p = pool(3, "prefill", "node3", 2, 2);
  auto g2d = pool(4, "decode", "node4", 3, 3);
  for (auto* v : {&g2p, &g2d})
    for (auto& j : *v) {
      j.comment.replace(j.comment.find("group=g1 variant=v"), 18, "group=g2 variant=f");
      j.features = "leaf2";
    }
  auto jobs =
      cat(cat(pool(1, "prefill", "node1", 1, 1), pool(2, "decode", "node2", 1, 1)), cat(g2p, g2d));
  auto view = build_view(jobs);
  TimePoint now = f.t0 + std::chrono::seconds(400);
  f.register_all(view, now);
  f.load(view, 50, now);
  f.tick(jobs, nodes(1, 1), now);
  auto r = f.c.ratios();
  EXPECT_EQ(r.at("chat").at("g1"), std::make_pair(1.0, 1.0));
  EXPECT_EQ(r.at("chat").at("g2"), std::make_pair(2.0, 3.0));
  // 2:3 is whole in g2: no repair of the ratio.
  EXPECT_EQ(f.c.status().at("chat").hold_reason.find("repairing"), std::string::npos);
}

}  // namespace
}  // namespace hs::scaler

namespace hs::scaler {
namespace {

// A service with a ratio band of 0.5 (1:1, 100 decode and 100 prompt tokens/s per instance).
constexpr const char* kBand = "    ratio_band: 0.5\n";

// Prefill instances each prefilling `tps` prompt tokens/s over the window.
void prefill_load(Fixture& f, double tps, TimePoint now) {
  for (auto& s : f.metrics["chat"].window.instances) {
    if (s.role != Role::kPrefill) continue;
    for (size_t k = 0; k < s.samples.size(); ++k) s.samples[k].prompt_tokens = tps * k;
    (void)now;
  }
}

DaemonConfig band_config(const char* band = kBand) {
  DaemonConfig c = test_config(band);
  c.services.services[0].variants[0].prefill_tps_per_instance = 100;
  return c;
}

// One tick of `f` (reconfigured to `cfg`) over `jobs`, every task registered, decode at
// `decode_tps` and prefill at `prefill_tps` per instance; node1/node2 hold what the jobs use.
std::vector<Action> band_tick(Fixture& f, DaemonConfig cfg, const std::vector<SlurmJob>& jobs,
                              double decode_tps, double prefill_tps, uint32_t used_p,
                              uint32_t used_d) {
  f.cfg = std::move(cfg);
  f.c.reload(f.cfg, two_leaves());
  auto view = build_view(jobs);
  TimePoint now = f.t0 + std::chrono::seconds(400);
  f.register_all(view, now);
  f.load(view, decode_tps, now);
  prefill_load(f, prefill_tps, now);
  return f.tick(jobs, nodes(used_p, used_d), now);
}

TEST(Controller, ABandMoveIsNotRepairedBack) {
  Fixture f;
  // 4 prefill beside 3 decode: out of 1:1, inside the band of 3 units (2..4); 380 prompt
  // tokens/s need 4 prefill instances.
  auto jobs = cat(pool(1, "prefill", "node1", 4, 4), pool(2, "decode", "node2", 3, 3));
  auto acts = band_tick(f, band_config(), jobs, 85, 95, 4, 3);
  const ServiceStatus& st = f.c.status().at("chat");
  ASSERT_TRUE(st.decided) << st.hold_reason;
  EXPECT_EQ(st.hold_reason.find("repairing"), std::string::npos) << st.hold_reason;
  EXPECT_EQ(st.decision.desired_prefill, 4u) << st.decision.to_log_line();
  EXPECT_EQ(st.decision.desired_decode, 3u) << st.decision.to_log_line();
  EXPECT_TRUE(acts.empty()) << kinds(acts);
  // The router's gate holds the group at its band ratio, not at 1:1.
  auto r = f.c.ratios();
  EXPECT_DOUBLE_EQ(r.at("chat").at("g1").first, 4.0 / 3);
  EXPECT_DOUBLE_EQ(r.at("chat").at("g1").second, 1.0);

  // The same group without a band is repaired: decode grows to 4.
  Fixture fixed;
  DaemonConfig no_band = fixed.cfg;
  no_band.services.services[0].variants[0].prefill_tps_per_instance = 100;
  auto repair = band_tick(fixed, no_band, jobs, 85, 95, 4, 3);
  EXPECT_NE(fixed.c.status().at("chat").hold_reason.find("repairing"), std::string::npos);
  ASSERT_EQ(repair.size(), 1u) << kinds(repair);
  EXPECT_EQ(repair[0].job_id, 2u);
  EXPECT_EQ(repair[0].value, 4u);
}

TEST(Controller, ABandMoveRaisesOrLowersPrefillAlone) {
  Fixture f;
  // 390 prompt tokens/s on 3 prefill: 4 needed.
  auto jobs = cat(pool(1, "prefill", "node1", 3, 3), pool(2, "decode", "node2", 3, 3));
  auto acts = band_tick(f, band_config(), jobs, 85, 130, 3, 3);
  const ServiceStatus& st = f.c.status().at("chat");
  ASSERT_TRUE(st.decided) << st.hold_reason;
  EXPECT_EQ(st.decision.desired_prefill, 4u) << st.decision.to_log_line();
  EXPECT_EQ(st.decision.desired_decode, 3u);
  ASSERT_EQ(acts.size(), 1u) << kinds(acts);
  EXPECT_EQ(acts[0].kind, Action::Kind::kThrottle);
  EXPECT_EQ(acts[0].job_id, 1u) << "the prefill array alone";
  EXPECT_EQ(acts[0].value, 4u);

  // Light prompts: 4 prefill for 3 decode cut to the band's floor, 2 (the fixture lets a
  // scale-in take everything at once): a throttle lowered, the next tick's reconciliation
  // drains the newest gracefully; decode left alone.
  Fixture g;  // 120 prompt tokens/s: 2 needed
  auto cut = band_tick(g, band_config(),
                       cat(pool(1, "prefill", "node1", 4, 4), pool(2, "decode", "node2", 3, 3)), 85,
                       30, 4, 3);
  const ServiceStatus& gs = g.c.status().at("chat");
  ASSERT_TRUE(gs.decided) << gs.hold_reason;
  EXPECT_EQ(gs.decision.desired_prefill, 2u) << gs.decision.to_log_line();
  EXPECT_EQ(gs.decision.desired_decode, 3u);
  ASSERT_EQ(cut.size(), 1u) << kinds(cut);
  EXPECT_EQ(cut[0].job_id, 1u);
  EXPECT_EQ(cut[0].value, 2u);
}

TEST(Controller, AShrinkInsideABandTakesOnlyThePrefillTheDecisionGivesUp) {
  Fixture f;
  // 4 units at the band's floor (2 prefill beside 4 decode); decode load for 2 units and
  // prefill load for 1 instance: 2 units, 1 prefill. A unit shrink would take 2 prefill
  // (1:1), leaving none beside 2 decode; only the one the decision gives up goes.
  auto jobs = cat(pool(1, "prefill", "node1", 2, 2), pool(2, "decode", "node2", 4, 4));
  auto acts = band_tick(f, band_config("    ratio_band: 1\n"), jobs, 40, 50, 2, 4);
  const ServiceStatus& st = f.c.status().at("chat");
  ASSERT_TRUE(st.decided) << st.hold_reason;
  EXPECT_EQ(st.decision.desired_prefill, 1u) << st.decision.to_log_line();
  EXPECT_EQ(st.decision.desired_decode, 2u) << st.decision.to_log_line();
  uint32_t prefill_drains = 0, decode_drains = 0;
  for (const auto& a : acts) {
    if (a.kind == Action::Kind::kThrottle) {
      EXPECT_EQ(a.value, a.job_id == 1 ? 1u : 2u) << a.describe();
    }
    if (a.kind == Action::Kind::kMarkDrain && a.role == Role::kPrefill) ++prefill_drains;
    if (a.kind == Action::Kind::kMarkDrain && a.role == Role::kDecode) ++decode_drains;
  }
  EXPECT_EQ(prefill_drains, 1u) << kinds(acts);
  EXPECT_EQ(decode_drains, 2u) << kinds(acts);
}

}  // namespace
}  // namespace hs::scaler
