#include "hs/scaler/service_config.h"

#include <gtest/gtest.h>

namespace hs::scaler {
namespace {

const char* kGood = R"(gpu_budget:
  h100: 64
  l40s: 128
services:
  - name: chat
    variants:
      - name: h100-l40s
        prefill_gpu: h100
        decode_gpu: l40s
        ratio: "1:2"
        decode_tps_per_instance: 2500
      - name: l40s-l40s
        prefill_gpu: l40s
        decode_gpu: l40s
        ratio: {prefill: 1, decode: 2}
        decode_tps_per_instance: 2000
        prefill_gpus: 2
    slo: {ttft_s: 1.5, tbt_s: 0.08, percentile: 0.95}
    bounds: {min_prefill: 1, max_prefill: 8, min_decode: 2, max_decode: 16}
    scaling:
      window_s: 30
      in_stabilization_s: 600
      guard: [{slo_factor: 1.0, step: 0.1}, {slo_factor: 1.5, step: 0.3}]
    affinity: spine
    priority: 5
    schedule:
      - {at: "08:00", days: "mon-fri", units: 3}
      - {at: "20:00", units: 1}
)";

TEST(ServiceConfig, ParsesEveryFieldAndKeepsDefaults) {
  auto c = parse_services_yaml(kGood, "svc.yaml");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  ASSERT_EQ(c->services.size(), 1u);
  const ServiceConfig& s = c->services[0];
  EXPECT_EQ(s.name, "chat");
  ASSERT_EQ(s.variants.size(), 2u);
  EXPECT_EQ(s.variants[0].ratio.prefill, 1u);
  EXPECT_EQ(s.variants[0].ratio.decode, 2u);
  EXPECT_EQ(s.variants[1].prefill_gpus, 2u);
  EXPECT_DOUBLE_EQ(s.slo.percentile, 0.95);
  EXPECT_EQ(s.min_units(), 1u);
  EXPECT_EQ(s.max_units(), 8u);
  EXPECT_EQ(s.scaling.window, std::chrono::seconds(30));
  EXPECT_EQ(s.scaling.in_stabilization, std::chrono::seconds(600));
  EXPECT_EQ(s.scaling.out_cooldown, std::chrono::seconds(60));  // default kept
  EXPECT_EQ(s.scaling.guard.size(), 2u);
  EXPECT_EQ(s.affinity, Affinity::kSpine);
  EXPECT_EQ(s.priority, 5);
  ASSERT_EQ(s.schedule.size(), 2u);
  EXPECT_EQ(s.schedule[0].days, 0x1f);
  EXPECT_EQ(s.schedule[0].start_minute, 480u);
  EXPECT_EQ(c->gpu_budget.at("l40s"), 128u);
}

TEST(ServiceConfig, EveryErrorAtOnceWithLineColumnAndField) {
  const char* bad = R"(services:
  - name: chat
    variants:
      - name: a
        prefill_gpu: h100
        decode_gpu: l40s
        ratio: "1:x"
        decode_tps_per_instance: fast
        colour: blue
    bounds: {min_prefill: 1, max_prefill: 3, min_decode: 2, max_decode: 10}
    affinity: rack
    scaling:
      tolerance_in: 1.5
      cooldown_s: 30
  - name: chat
    variants: []
    bounds: {min_prefill: 0, max_prefill: 2, min_decode: 1, max_decode: 2}
extra: 1
)";
  auto c = parse_services_yaml(bad, "s.yaml");
  ASSERT_FALSE(c.ok());
  std::string all = c.error().to_string();
  struct Want {
    const char* where;
    const char* says;
  } wants[] = {
      {"s.yaml:7:16", "services[0].variants[0].ratio: expected \"P:D\""},
      {"s.yaml:8:34",
       "services[0].variants[0].decode_tps_per_instance: expected a number, got \"fast\""},
      {"s.yaml:9:9", "services[0].variants[0].colour: unknown key"},
      {"s.yaml:11:15", "services[0].affinity: expected leaf, spine or any, got \"rack\""},
      {"s.yaml:13:21", "services[0].scaling.tolerance_in: must be in [0, 0.99], got 1.5"},
      {"s.yaml:14:7", "services[0].scaling.cooldown_s: unknown key"},
      {"s.yaml:15:11", "services[1].name: service \"chat\" defined twice"},
      {"s.yaml:16:15", "services[1].variants: expected a non-empty list"},
      {"s.yaml:17:27", "services[1].bounds.min_prefill: must be in [1, 1000000], got 0"},
      {"s.yaml:18:1", "extra: unknown key"},
  };
  for (const auto& w : wants) {
    EXPECT_NE(all.find(std::string(w.where) + ": " + w.says), std::string::npos)
        << w.where << " " << w.says << "\n"
        << all;
  }
  EXPECT_EQ(c.error().causes.size(), std::size(wants)) << all;
}

// The policy's newer fields (ratio band, prefill calibration, deficit-sized step): read when
// good, and every bad value named with its line and field.
TEST(ServiceConfig, PolicyFieldsAreReadAndBadValuesNamed) {
  const char* good = R"(services:
  - name: chat
    variants:
      - {name: a, prefill_gpu: h100, decode_gpu: l40s, ratio: "1:2",
         decode_tps_per_instance: 2500, prefill_tps_per_instance: 12000}
    bounds: {min_prefill: 1, max_prefill: 8, min_decode: 2, max_decode: 16}
    ratio_band: 1
    scaling: {deficit_step_fraction: 2}
)";
  auto c = parse_services_yaml(good, "g.yaml");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_DOUBLE_EQ(c->services[0].ratio_band, 1.0);
  EXPECT_DOUBLE_EQ(c->services[0].variants[0].prefill_tps_per_instance, 12000);
  EXPECT_DOUBLE_EQ(c->services[0].scaling.deficit_step_fraction, 2);
  auto d = parse_services_yaml(R"(services:
  - name: chat
    variants: [{name: a, prefill_gpu: h100, decode_gpu: l40s, ratio: "1:2",
                decode_tps_per_instance: 2500, prefill_tps_per_instance: 0}]
    bounds: {min_prefill: 1, max_prefill: 8, min_decode: 2, max_decode: 16}
    ratio_band: wide
    scaling: {deficit_step_fraction: 200}
  - name: code
    variants: [{name: a, prefill_gpu: h100, decode_gpu: l40s, ratio: "1:2",
                decode_tps_per_instance: 2500}]
    bounds: {min_prefill: 1, max_prefill: 8, min_decode: 2, max_decode: 16}
    ratio_band: -0.5
)",
                               "b.yaml");
  ASSERT_FALSE(d.ok());
  std::string all = d.error().to_string();
  for (const char* want : {
           "b.yaml:4:74: services[0].variants[0].prefill_tps_per_instance: must be in",
           "b.yaml:6:17: services[0].ratio_band: expected a number, got \"wide\"",
           "b.yaml:7:38: services[0].scaling.deficit_step_fraction: must be in [0, 100], got 200",
           "b.yaml:12:17: services[1].ratio_band: must be in [0, 10], got -0.5",
       })
    EXPECT_NE(all.find(want), std::string::npos) << want << "\n" << all;
  EXPECT_EQ(d.error().causes.size(), 4u) << all;
}

TEST(ServiceConfig, BoundsThatContradictTheRatioAreRejected) {
  std::string y = R"(services:
  - name: chat
    variants: [{name: a, prefill_gpu: h100, decode_gpu: l40s, ratio: "1:2", decode_tps_per_instance: 100}]
    bounds: {min_prefill: 1, max_prefill: 3, min_decode: 2, max_decode: 10}
)";
  auto c = parse_services_yaml(y, "b.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().to_string().find("max_prefill 3 and max_decode 10 contradict variant \"a\"'s "
                                       "ratio 1:2 (whole units: e.g. 3 and 6)"),
            std::string::npos)
      << c.error().to_string();
  EXPECT_NE(c.error().to_string().find("b.yaml:2:5"), std::string::npos);
}

TEST(ServiceConfig, EveryVariantMustFitOneUnitInTheBounds) {
  std::string y = R"(services:
  - name: chat
    variants:
      - {name: a, prefill_gpu: h100, decode_gpu: h100, ratio: "1:1", decode_tps_per_instance: 100}
      - {name: big, prefill_gpu: l40s, decode_gpu: l40s, ratio: "2:5", decode_tps_per_instance: 50}
    bounds: {min_prefill: 1, max_prefill: 4, min_decode: 1, max_decode: 4}
)";
  auto c = parse_services_yaml(y, "f.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().to_string().find(
                "max_prefill 4 / max_decode 4 cannot hold one unit of variant \"big\"'s ratio 2:5"),
            std::string::npos)
      << c.error().to_string();
  y.replace(y.find("max_decode: 4"), 13, "max_decode: 8");
  y.replace(y.find("max_prefill: 4"), 14, "max_prefill: 8");
  EXPECT_TRUE(parse_services_yaml(y, "f.yaml").ok());
}

TEST(ServiceConfig, OtherRelations) {
  struct Case {
    const char* extra;
    const char* says;
  } cases[] = {
      {"    scaling: {guard: [{slo_factor: 1.2, step: 0.2}, {slo_factor: 1.0, step: 0.3}]}\n",
       "tiers must have rising slo_factor"},
      {"    scaling: {window_s: 600, stale_after_s: 60}\n",
       "stale_after_s: must be at least half of window_s"},
      {"    schedule: [{at: \"25:00\", units: 1}]\n", "expected HH:MM (UTC), got \"25:00\""},
      {"    schedule: [{at: \"08:00\", days: \"fri-mon\", units: 1}]\n", "expected days like"},
      {"    schedule: [{at: \"08:00\", units: 9}]\n", "units 9 outside the bounds' 1..4 units"},
      {"    schedule_mode: sometimes\n", "expected floor or exact"},
  };
  for (const auto& c : cases) {
    std::string y = std::string(R"(services:
  - name: s
    variants: [{name: a, prefill_gpu: h, decode_gpu: h, ratio: "1:1", decode_tps_per_instance: 1}]
    bounds: {min_prefill: 1, max_prefill: 4, min_decode: 1, max_decode: 4}
)") + c.extra;
    auto r = parse_services_yaml(y, "o.yaml");
    ASSERT_FALSE(r.ok()) << c.extra;
    EXPECT_NE(r.error().to_string().find(c.says), std::string::npos) << r.error().to_string();
  }
  auto notyaml = parse_services_yaml("services: [\n  - {name: x\n", "n.yaml");
  ASSERT_FALSE(notyaml.ok());
  EXPECT_NE(notyaml.error().to_string().find("not valid YAML"), std::string::npos);
  EXPECT_NE(notyaml.error().where.find("n.yaml:"), std::string::npos);
  EXPECT_EQ(load_services("/nonexistent.yaml").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace hs::scaler

namespace hs::scaler {
namespace {

TEST(ServiceConfig, ShippedExampleLoads) {
  auto c = load_services(std::string(HS_SOURCE_DIR) + "/slurm-conf/examples/heteroscale.yaml");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  ASSERT_EQ(c->services.size(), 1u);
  EXPECT_EQ(c->services[0].variants.size(), 2u);
  EXPECT_EQ(c->services[0].max_units(), 16u);
}

}  // namespace
}  // namespace hs::scaler
