#include "hs/workload/profile.h"

#include <gtest/gtest.h>

namespace hs::workload {
namespace {

TEST(Profiles, ShippedSetHasEveryGpuAndModelWithSources) {
  const ProfileSet& s = default_profiles();
  for (const char* gpu : {"h100", "a100", "h20", "l40s", "l20"}) {
    for (const char* model : {"llama-8b", "llama-70b"}) {
      const EngineProfile* p = s.find(gpu, model);
      ASSERT_NE(p, nullptr) << gpu << " " << model;
      EXPECT_FALSE(p->source.empty());
      bool measured = std::string(gpu) == "h100" || std::string(gpu) == "a100";
      EXPECT_EQ(p->derived, !measured) << gpu;
      if (measured) {
        EXPECT_LT(p->fit_error.at("prefill_mape_pct"), 15.0) << gpu << " " << model;
        EXPECT_LT(p->fit_error.at("decode_mape_pct"), 15.0) << gpu << " " << model;
      } else {
        EXPECT_NE(p->source.find("DERIVED"), std::string::npos);
      }
      EXPECT_GT(p->kv_capacity_tokens, 10000u);
    }
  }
}

TEST(Profiles, MatchTheMeasurementsTheyCameFrom) {
  const ProfileSet& s = default_profiles();
  // Splitwise, Llama-2-70B TP4 medians (SANITY.md): prefill 2048 tokens 403.3 ms on A100 and
  // 200.7 ms on H100; decode at batch 64, prompt 512: 72.95 ms (A100) and 52.36 ms (H100).
  EXPECT_NEAR(s.find("a100", "llama-70b")->prefill_s(2048), 0.4033, 0.4033 * 0.10);
  EXPECT_NEAR(s.find("h100", "llama-70b")->prefill_s(2048), 0.2007, 0.2007 * 0.15);
  EXPECT_NEAR(s.find("a100", "llama-70b")->decode_step_s(64, 64 * 576), 0.07295, 0.07295 * 0.10);
  EXPECT_NEAR(s.find("h100", "llama-70b")->decode_step_s(64, 64 * 576), 0.05236, 0.05236 * 0.10);
  // vidur A100 Llama-3-8B: decode b=128 at 1024 context per request 24.49 ms.
  EXPECT_NEAR(s.find("a100", "llama-8b")->decode_step_s(128, 128 * 1024), 0.02449, 0.02449 * 0.10);
  // Memory-bound decode: an L40S instance serves fewer tokens/s than an H20's.
  EXPECT_LT(s.find("l40s", "llama-8b")->decode_tps(64, 1024),
            s.find("h20", "llama-8b")->decode_tps(64, 1024));
}

TEST(Profiles, StrictYaml) {
  auto r = parse_profiles_yaml(
      "profiles:\n  - gpu: x\n    model: y\n    colour: red\n    prefill: {p0: 1, p1: 0, p2: 0}\n",
      "p.yaml");
  ASSERT_FALSE(r.ok());
  std::string all = r.error().to_string();
  EXPECT_NE(all.find("p.yaml:4:5: colour: unknown key"), std::string::npos) << all;
  EXPECT_NE(all.find("decode: required mapping"), std::string::npos) << all;
  EXPECT_NE(all.find("source: required"), std::string::npos) << all;
}

}  // namespace
}  // namespace hs::workload
