// The oracle lower bound, computed over a request stream tick by tick.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "hs/sim/simulator.h"

namespace hs::sim {

Result<PolicyResult> oracle(workload::RequestStream& requests, const scaler::ServiceConfig& svc,
                            const workload::ProfileSet& profiles, const SimOptions& o,
                            OracleMode mode) {
  PolicyResult r;
  r.policy = mode == OracleMode::kSplit ? "oracle-split" : "oracle";
  const scaler::Variant& v = svc.preferred();
  double unit_tps = v.ratio.decode * v.decode_tps_per_instance;
  // A prefill instance's best throughput: full batches of the simulator's token budget.
  const workload::EngineProfile* pp = profiles.find(v.prefill_gpu, o.model);
  double batch = o.prefill_batch_tokens;
  double unit_prefill = pp ? v.ratio.prefill * batch / pp->prefill_s(batch) : 0;
  // The end is the last arrival + drain_s: until the stream has ended, the request read
  // ahead (at or after the tick being summed) says the end is later still.
  double end = o.max_duration_s > 0 ? o.max_duration_s : std::numeric_limits<double>::infinity();
  workload::Request next;
  bool have = requests.next(next);
  size_t n_all = 0;
  double last = 0;
  auto advance = [&] {
    ++n_all;
    last = next.arrival_s;
    have = requests.next(next);
    if (!have) end = std::min(end, last + o.drain_s);
  };
  if (!have) end = std::min(end, o.drain_s);
  for (double t = 0; t < end; t += o.tick_s) {
    double tokens = 0, prompt = 0;
    size_t n = 0;
    while (have && next.arrival_s < t + o.tick_s) {
      if (pp && next.prompt_tokens + next.output_tokens > pp->max_context) {
        advance();  // rejected by the engine, as in the simulation
        continue;
      }
      tokens += next.output_tokens;
      prompt += next.prompt_tokens;
      ++n;
      advance();
    }
    if (requests.error()) return *requests.error();
    double need = tokens / o.tick_s / unit_tps;
    double need_p = unit_prefill > 0 ? prompt / o.tick_s / unit_prefill : 0;
    uint32_t np = 0, nd = 0;  // instances
    if (mode == OracleMode::kUnits) {
      uint32_t units = std::clamp(static_cast<uint32_t>(std::ceil(std::max(need, need_p) - 1e-9)),
                                  svc.min_units(), svc.max_units());
      np = units * v.ratio.prefill;
      nd = units * v.ratio.decode;
    } else {
      // Per instance: a unit's capacity over its instances of that role.
      np = std::clamp(static_cast<uint32_t>(std::ceil(need_p * v.ratio.prefill - 1e-9)),
                      svc.min_prefill, svc.max_prefill);
      nd = std::clamp(static_cast<uint32_t>(std::ceil(need * v.ratio.decode - 1e-9)),
                      svc.min_decode, svc.max_decode);
    }
    double span = std::min(o.tick_s, end - t);
    double hp = np * v.prefill_gpus * span / 3600, hd = nd * v.decode_gpus * span / 3600;
    r.gpu_hours += hp + hd;
    r.gpu_hours_by_role["prefill"] += hp;
    r.gpu_hours_by_role["decode"] += hd;
    r.gpu_hours_by_type[v.prefill_gpu] += hp;
    r.gpu_hours_by_type[v.decode_gpu] += hd;
    SeriesPoint p;
    p.t = t + o.tick_s;
    p.arrivals_per_s = n / o.tick_s;
    p.decode_tps = tokens / o.tick_s;
    p.prefill = p.ready_prefill = np;
    p.decode = p.ready_decode = nd;
    r.series.push_back(p);
  }
  // Requests after a max_duration cut are still counted, as the vector version counted them.
  while (have) advance();
  if (requests.error()) return *requests.error();
  r.requests = n_all;
  r.simulated_s = end;
  return r;
}

Result<PolicyResult> oracle(const std::vector<workload::Request>& requests,
                            const scaler::ServiceConfig& service,
                            const workload::ProfileSet& profiles, const SimOptions& options,
                            OracleMode mode) {
  workload::VectorStream s(requests);
  return oracle(s, service, profiles, options, mode);
}

}  // namespace hs::sim
