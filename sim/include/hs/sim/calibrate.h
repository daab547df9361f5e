// Calibration: the per-decode-instance tokens/s target and the P:D ratio that serve the most
// requests within the SLO for a pair of engine profiles and a workload's lengths (the paper's
// offline "stress test" step, done on the profile's model).
//  - Decode: the largest batch b (within max_batch and KV capacity for b requests of average
//    length) whose step time, at the average context, stays within margin x TBT SLO. The
//    target is b / step.
//  - Prefill: the largest batch of N tokens whose prefill time stays within half of
//    margin x TTFT SLO (the other half is left for queueing, the KV hand-off and the first
//    decode step), run at `prefill_utilization`; requests/s = that x N / prefill(N) / prompt.
//  - Ratio: decode requests/s over prefill requests/s, rounded up to the nearest fraction
//    P:D with both terms <= max_term (too little prefill breaks TTFT; too much wastes GPUs).
#pragma once

#include <cstdint>
#include <string>

#include "hs/common/error.h"
#include "hs/scaler/service_config.h"
#include "hs/workload/profile.h"

namespace hs::sim {

struct CalibrateInput {
  const workload::EngineProfile* prefill = nullptr;
  const workload::EngineProfile* decode = nullptr;
  double avg_prompt_tokens = 1000;
  double avg_output_tokens = 200;
  scaler::Slo slo;
  double margin = 0.8;
  double prefill_utilization = 0.8;
  uint32_t max_prefill_batch_tokens = 8192;
  uint32_t max_term = 8;
};

struct Calibration {
  double decode_tps_per_instance = 0;
  uint32_t decode_batch = 0;
  double decode_step_s = 0;
  double prefill_tokens_per_s = 0;
  double prefill_rps = 0, decode_rps = 0;
  scaler::Ratio ratio;
  std::string explain;
};

Result<Calibration> calibrate(const CalibrateInput& in);

}  // namespace hs::sim
