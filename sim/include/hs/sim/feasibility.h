// Which requests no autoscaler could serve within the SLO (docs/simulator.md, "Feasibility"):
//  - its context does not fit: prompt + output > the model's context length on the service's
//    preferred prefill profile (the engine refuses it, as vLLM answers 400);
//  - its prefill alone, at batch 1 on the fastest prefill profile of any of the service's
//    variants, takes longer than the TTFT SLO: with an idle instance waiting for it, the first
//    token still comes late (the simulator's prefill is not chunked).
// hs-sim reports SLO attainment over all requests and over the feasible ones beside it.
#pragma once

#include <cstdint>
#include <string>

#include "hs/scaler/service_config.h"
#include "hs/workload/profile.h"

namespace hs::sim {

enum class Infeasible { kNo, kContext, kPrefillAlone };

class Feasibility {
 public:
  // Profiles missing for a variant are skipped; with none at all nothing is infeasible.
  Feasibility(const scaler::ServiceConfig& service, const workload::ProfileSet& profiles,
              const std::string& model);
  Infeasible check(uint32_t prompt_tokens, uint32_t output_tokens) const;
  // The longest prompt whose batch-1 prefill meets the TTFT SLO on the fastest profile.
  uint32_t longest_feasible_prompt() const { return longest_prompt_; }

 private:
  uint32_t max_context_ = UINT32_MAX;
  uint32_t longest_prompt_ = UINT32_MAX;
};

}  // namespace hs::sim
