#include "hs/sim/calibrate.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace hs::sim {

Result<Calibration> calibrate(const CalibrateInput& in) {
  if (!in.prefill || !in.decode)
    return invalid_argument("calibrate needs a prefill and a decode profile");
  if (in.avg_prompt_tokens <= 0 || in.avg_output_tokens <= 0)
    return invalid_argument("average lengths must be positive");
  Calibration c;
  const auto& d = *in.decode;
  double ctx = in.avg_prompt_tokens + in.avg_output_tokens / 2;
  double budget = in.margin * in.slo.tbt_s;
  for (uint32_t b = 1; b <= d.max_batch; ++b) {
    if (static_cast<double>(b) * (in.avg_prompt_tokens + in.avg_output_tokens) >
        static_cast<double>(d.kv_capacity_tokens))
      break;
    double step = d.decode_step_s(b, b * ctx);
    if (step > budget) break;
    c.decode_batch = b;
    c.decode_step_s = step;
  }
  if (c.decode_batch == 0)
    return failed_precondition(
        "even one sequence takes " + std::to_string(d.decode_step_s(1, ctx)) + " s per token on " +
        d.gpu + ", above " + std::to_string(budget) + " s (margin x TBT SLO)");
  c.decode_tps_per_instance = c.decode_batch / c.decode_step_s;
  const auto& p = *in.prefill;
  double pbudget = in.margin * in.slo.ttft_s / 2;
  double best_n = 0, best_t = 0;
  // A batch always holds at least one whole prompt, even one longer than the token budget
  // (the simulator's batcher does the same).
  double limit = std::max<double>(in.max_prefill_batch_tokens, in.avg_prompt_tokens);
  for (double n = in.avg_prompt_tokens; n <= limit + 1e-9; n += in.avg_prompt_tokens) {
    double t = p.prefill_s(n);
    if (t > pbudget) break;
    best_n = n;
    best_t = t;
  }
  if (best_n == 0)
    return failed_precondition("one average prompt takes " +
                               std::to_string(p.prefill_s(in.avg_prompt_tokens)) +
                               " s to prefill on " + p.gpu + ", above " + std::to_string(pbudget) +
                               " s (half of margin x TTFT SLO)");
  c.prefill_tokens_per_s = in.prefill_utilization * best_n / best_t;
  c.prefill_rps = c.prefill_tokens_per_s / in.avg_prompt_tokens;
  c.decode_rps = c.decode_tps_per_instance / in.avg_output_tokens;
  double x = c.decode_rps / c.prefill_rps;  // prefill instances needed per decode instance
  double best_err = INFINITY;
  for (uint32_t dd = 1; dd <= in.max_term; ++dd) {
    for (uint32_t pp = 1; pp <= in.max_term; ++pp) {
      double r = static_cast<double>(pp) / dd;
      if (r + 1e-9 < x) continue;
      double err = r - x;
      if (err < best_err - 1e-12) {
        best_err = err;
        c.ratio = {pp, dd};
      }
    }
  }
  if (std::isinf(best_err)) c.ratio = {in.max_term, 1};
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "decode on %s: batch %u, step %.1f ms at %.0f context -> %.0f tok/s per instance "
                "(%.2f req/s); "
                "prefill on %s: %.0f-token batches in %.1f ms -> %.0f tok/s at %.0f%% (%.2f "
                "req/s); P:D = %.3f -> %u:%u",
                d.gpu.c_str(), c.decode_batch, c.decode_step_s * 1000, ctx,
                c.decode_tps_per_instance, c.decode_rps, p.gpu.c_str(), best_n, best_t * 1000,
                c.prefill_tokens_per_s, in.prefill_utilization * 100, c.prefill_rps, x,
                c.ratio.prefill, c.ratio.decode);
  c.explain = buf;
  return c;
}

}  // namespace hs::sim
