// heteroscaled --record's format (scaler/tick_record.h); the replay itself is checked on a real
// run by tests/integration/heteroscaled_test.sh.
#include "hs/scaler/tick_record.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace hs::scaler {
namespace {

// --record's format keeps every input exactly: NaN (a missing metric), a histogram's +Inf
// bound, a pending meta record without a task id, and a tick without Slurm.
TEST(TickRecord, RoundTripsEveryInputExactly) {
  TickInputs t;
  SlurmSnapshot s;
  s.seq = 7;
  SlurmJob meta;
  meta.job_id = 12;
  meta.array_job_id = 12;
  meta.pending_tasks = "3-15";
  meta.comment = "site text [heteroscale/v1 service=chat role=decode group=g1 variant=v]";
  SlurmJob task = meta;
  task.job_id = 14;
  task.array_task_id = 2;
  task.state = JobState::kRunning;
  s.jobs = {meta, task};
  s.nodes = {
      {"node1", "mixed", true, false, false, "gpu:h100:4", "gpu:h100:1(IDX:0)", "leaf1", "maint"}};
  s.read_at = TimePoint{std::chrono::seconds(5)};
  s.read_at_unix_s = 1700000000;
  t.slurm = s;
  Registration r;
  r.url = "http://h:1";  // as hs-launch registered it (the registration contract holds)
  r.service = "chat";
  r.group = "g1";
  r.gpu_type = "h100";
  r.job_id = "12";
  r.array_task_id = "2";
  r.role = Role::kPrefill;
  r.registered = TimePoint{std::chrono::milliseconds(1500)};
  t.regs = {r};
  ServiceMetrics m;
  InstanceSeries is{"12_2", Role::kDecode, "g1", 250, {}};
  InstanceSample x;
  x.t = TimePoint{std::chrono::seconds(4)};
  x.generation_tokens = 10.5;  // the rest missing (NaN)
  is.samples = {x};
  m.window.instances = {is};
  Histogram h{{0.1, std::numeric_limits<double>::infinity()}, {1, 3}, 3, 0.9};
  m.window.groups = {{"g1", {{TimePoint{std::chrono::seconds(4)}, h, h}}}};
  m.engine_in_flight["http://h:1"] = 2;
  m.router_known = true;
  t.metrics["chat"] = m;
  t.now = TimePoint{std::chrono::seconds(6)};
  t.wall_unix_s = 1700000001;
  t.actions = {"throttle service=chat"};
  auto back = tick_from_json(tick_to_json(t), "t:1");
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(tick_to_json(*back), tick_to_json(t));
  ASSERT_TRUE(back->slurm.has_value());
  EXPECT_FALSE(back->slurm->jobs[0].array_task_id.has_value());
  EXPECT_EQ(back->slurm->jobs[1].array_task_id, 2u);
  EXPECT_EQ(back->slurm->jobs[1].state, JobState::kRunning);
  const auto& bm = back->metrics.at("chat");
  EXPECT_TRUE(std::isnan(bm.window.instances[0].samples[0].prompt_tokens));
  EXPECT_EQ(bm.window.instances[0].samples[0].generation_tokens, 10.5);
  EXPECT_TRUE(std::isinf(bm.window.groups[0].samples[0].ttft.upper_bounds[1]));
  EXPECT_EQ(back->regs[0].registered, r.registered);
  EXPECT_EQ(back->slurm->view.find_task("12_2")->job_id, 14u);
  t.slurm.reset();
  auto held = tick_from_json(tick_to_json(t), "t:2");
  ASSERT_TRUE(held.ok());
  EXPECT_FALSE(held->slurm.has_value());
  // A damaged line names where it is and what is wrong.
  auto bad = tick_from_json(R"({"slurm": null, "regs": [{"url": 3}]})", "ticks.jsonl:9");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().where, "ticks.jsonl:9");
}

}  // namespace
}  // namespace hs::scaler
