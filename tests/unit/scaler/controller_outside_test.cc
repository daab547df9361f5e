// Changes an admin makes to managed arrays by hand, on SimSlurm: each is reported with the
// rule the daemon follows (scaler/src/tick/outside.cc, docs/admin-guide.md).
#include "sim_world.h"

#include <cstdint>

namespace hs::scaler {
namespace {

using testing::World;

std::string all(const std::vector<std::string>& v) { return ::testing::PrintToString(v); }

struct Steady {
  World w;
  uint32_t prefill = 0, decode = 0;
  // g1 at `units`:`units` under leaf1, the load holding it there.
  explicit Steady(uint32_t units) {
    std::string arr = "0-63%" + std::to_string(units);
    prefill = w.submit(Role::kPrefill, "g1", arr, "leaf1");
    decode = w.submit(Role::kDecode, "g1", arr, "leaf1");
    w.load_tps = 85.0 * units;  // within the tolerance band at 100 tok/s per unit
    w.run(3);
  }
};

TEST(OutsideChanges, AThrottleLoweredByHandDrainsAndTheOtherRoleFollows) {
  Steady s(3);
  ASSERT_EQ(s.w.serving(), "g1 3:3");
  ASSERT_TRUE(s.w.slurm.set_throttle(s.decode, 1).ok());  // scontrol update ArrayTaskThrottle=1
  s.w.load_tps = 85;
  s.w.tick();
  EXPECT_TRUE(s.w.reported("ArrayTaskThrottle of array " + std::to_string(s.decode) +
                           " (group g1 decode) 3 -> 1, not written by the daemon"))
      << all(s.w.outside);
  EXPECT_TRUE(s.w.did("follows the decode throttle lowered outside the daemon")) << s.w.why();
  s.w.run(1);
  // From here on the group keeps its P:D; nothing was killed, everything drained first.
  for (int i = 0; i < 10; ++i) {
    s.w.tick();
    auto v = s.w.view();
    const GroupPools& g1 = v.services["chat"]["g1"];
    EXPECT_EQ(g1.prefill.running_serving(), g1.decode.running_serving()) << s.w.serving();
  }
  EXPECT_EQ(s.w.serving(), "g1 1:1") << s.w.why();
  EXPECT_EQ(s.w.draining(), 0u);
  EXPECT_FALSE(s.w.did("repairing")) << s.w.why();
  EXPECT_TRUE(s.w.failed.empty()) << all(s.w.failed);
}

TEST(OutsideChanges, AThrottleRaisedByHandIsFollowedAndTheRatioRepaired) {
  Steady s(1);
  ASSERT_EQ(s.w.serving(), "g1 1:1");
  ASSERT_TRUE(s.w.slurm.set_throttle(s.decode, 3).ok());
  s.w.load_tps = 255;  // the load the admin sized for
  s.w.run(4);
  EXPECT_TRUE(s.w.reported("1 -> 3, not written by the daemon: followed")) << all(s.w.outside);
  EXPECT_EQ(s.w.serving(), "g1 3:3") << s.w.why();
  EXPECT_TRUE(s.w.failed.empty()) << all(s.w.failed);
}

TEST(OutsideChanges, ATaskCancelledByHandIsReplacedBySlurmFromTheArray) {
  Steady s(2);
  ASSERT_EQ(s.w.serving(), "g1 2:2");
  size_t acted = s.w.done.size();
  // scancel of a serving decode task: Slurm starts the next index (the throttle allows it).
  ASSERT_TRUE(s.w.slurm.cancel_task(std::to_string(s.decode) + "_1").ok());
  s.w.run(2);
  EXPECT_TRUE(s.w.reported("task " + std::to_string(s.decode) + "_1 of array " +
                           std::to_string(s.decode) +
                           " (group g1 decode) ended without the daemon cancelling it"))
      << all(s.w.outside);
  EXPECT_EQ(s.w.serving(), "g1 2:2");
  EXPECT_EQ(s.w.done.size(), acted) << s.w.why();  // Slurm did it; the daemon wrote nothing
}

TEST(OutsideChanges, AHeldArrayFreezesItsGroupAndGrowthGoesElsewhere) {
  Steady s(1);
  ASSERT_TRUE(s.w.slurm.hold(s.decode).ok());  // scontrol hold
  s.w.load_tps = 300;                          // 4 units
  s.w.run(4);
  EXPECT_TRUE(s.w.reported("held (JobHeldAdmin): group g1 is frozen")) << all(s.w.outside);
  for (const auto& d : s.w.done) EXPECT_EQ(d.find("group=g1"), std::string::npos) << d;
  EXPECT_TRUE(s.w.did("submit service=chat group=g2")) << s.w.why();
  auto v = s.w.view();
  EXPECT_EQ(v.services["chat"]["g1"].prefill.running_serving(), 1u);
  EXPECT_EQ(v.services["chat"]["g1"].decode.running_serving(), 1u);
  // Held past start_timeout: not rolled back (nothing of g1 is cancelled).
  s.w.run(40);
  EXPECT_FALSE(s.w.did("rollback service=chat group=g1")) << s.w.why();
  for (const auto& d : s.w.done) EXPECT_EQ(d.find("group=g1"), std::string::npos) << d;
  ASSERT_TRUE(s.w.slurm.release(s.decode).ok());
  s.w.run(2);
  EXPECT_TRUE(s.w.reported("released: group g1 is managed again")) << all(s.w.outside);
  EXPECT_TRUE(s.w.failed.empty()) << all(s.w.failed);
}

// A site's accounting text around the tag survives every drain mark, clear and replace mark
// the daemon writes (the tag is rewritten in place).
TEST(OutsideChanges, TheSitesCommentTextSurvivesEveryMark) {
  World w;
  w.submit(Role::kPrefill, "g1", "0-63%1", "leaf1", 0, "acct:42 [] billed-by=ops");
  uint32_t decode = w.submit(Role::kDecode, "g1", "0-63%1", "leaf1", 0, "acct:42");
  w.load_tps = 50;
  w.run(3);
  auto check = [&] {
    auto jobs = *w.slurm.load_jobs();
    for (const auto& j : jobs) {
      if (j.array_job_id == decode) {
        EXPECT_EQ(j.comment.rfind("acct:42 [heteroscale/v1 ", 0), 0u) << j.comment;
      } else {
        EXPECT_EQ(j.comment.rfind("acct:42 [] billed-by=ops [heteroscale/v1 ", 0), 0u) << j.comment;
      }
      EXPECT_TRUE(parse_job_tag(j.comment).ok()) << j.comment;
    }
  };
  w.load_tps = 350;  // grow: new tasks carry the meta record's comment
  w.run(5);
  check();
  ASSERT_TRUE(w.slurm.drain_node("node1", "maintenance").ok());  // replace marks
  w.load_tps = 50;                                               // and drain marks
  for (int i = 0; i < 30; ++i) {
    w.tick();
    check();
  }
  EXPECT_TRUE(w.did("drain")) << w.why();
  EXPECT_TRUE(w.failed.empty()) << all(w.failed);
}

}  // namespace
}  // namespace hs::scaler
