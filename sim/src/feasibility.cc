#include "hs/sim/feasibility.h"

#include <algorithm>
#include <cstdint>

namespace hs::sim {

Feasibility::Feasibility(const scaler::ServiceConfig& service, const workload::ProfileSet& profiles,
                         const std::string& model) {
  if (const auto* p = profiles.find(service.preferred().prefill_gpu, model))
    max_context_ = p->max_context;
  // prefill_s grows with the prompt (non-negative terms), so the longest feasible prompt of
  // each profile is found by bisection; the fastest profile admits the longest.
  uint32_t best = 0;
  bool any = false;
  for (const auto& v : service.variants) {
    const auto* p = profiles.find(v.prefill_gpu, model);
    if (!p) continue;
    any = true;
    uint64_t lo = 0, hi = uint64_t{1} << 32;  // prefill_s(lo) <= SLO < prefill_s(hi)
    if (p->prefill_s(1) > service.slo.ttft_s) continue;
    lo = 1;
    while (hi - lo > 1) {
      uint64_t mid = lo + (hi - lo) / 2;
      (p->prefill_s(static_cast<double>(mid)) <= service.slo.ttft_s ? lo : hi) = mid;
    }
    best = std::max(best, static_cast<uint32_t>(std::min<uint64_t>(lo, UINT32_MAX)));
  }
  if (any) longest_prompt_ = best;
}

Infeasible Feasibility::check(uint32_t prompt, uint32_t output) const {
  if (static_cast<uint64_t>(prompt) + output > max_context_) return Infeasible::kContext;
  if (prompt > longest_prompt_) return Infeasible::kPrefillAlone;
  return Infeasible::kNo;
}

}  // namespace hs::sim
