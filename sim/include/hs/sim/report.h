// hs-sim's outputs: summary.json, a time-series CSV and gnuplot PNGs per policy.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/sim/simulator.h"
#include "hs/workload/stream.h"

namespace hs::sim {

struct RunInfo {
  std::string workload;  // path
  std::string format;
  double rate_scale = 1;
  double duration_s = 0;
  uint64_t seed = 1;
  std::string service;
  std::string model;
  size_t requests = 0;
  workload::StreamReport stream;              // pooled lengths, reasoning, multimodal tokens
  std::vector<std::string> derived_profiles;  // "gpu/model" of profiles no measurement backs
};

// {"run": {..., "lengths": {"source", "requests_with_pooled_lengths"}, "reasoning_tokens",
// "multimodal_tokens", "derived_profiles": [...]}, "policies": {NAME: {"gpu_hours",
// "gpu_hours_by_role", "gpu_hours_by_type", "gpu_busy_fraction", "ttft_p50_s", "ttft_p99_s",
// "tbt_p50_s", "tbt_p99_s", "slo_attainment":
// {"ttft", "tbt", "both"}, "slo_attainment_feasible": {"ttft", "tbt", "both"} (over the
// feasible requests, hs/sim/feasibility.h), "infeasible_requests",
// "percentiles": "exact" | "sketch (relative error <= 0.5%)",
// "scaling_actions", "scale_ins": {"total", "under_breached_tier", "with_requests_waiting",
// "refused_by_safety"}, "requests", "completed", "unfinished",
// "gpu_hours_vs_oracle", "gpu_hours_vs_oracle_split", ...}}}; "oracle" and "oracle-split" carry
// GPU-hours only. Fractions in 0..1.
std::string summary_json(const RunInfo& info, const std::vector<PolicyResult>& results);
Status write_outputs(const std::string& dir, const RunInfo& info,
                     const std::vector<PolicyResult>& results, std::vector<std::string>* notes);

}  // namespace hs::sim
