// HeteroScale's safety and demand arithmetic (declared in policy_detail.h): what forbids a
// scale-in, the survivors' forecast, and demand beyond what is served.
#include <algorithm>
#include <cmath>

#include "policy_detail.h"

namespace hs::scaler::detail {

// What forbids any scale-in, whatever it would leave (not a forecast): a breached latency
// tier, requests waiting at an engine, or served below offered load. Empty when none does.
std::string scale_in_blocker(const Signals& sig, const ServiceConfig& c) {
  int tier = std::max(sig.ttft.tier, sig.tbt.tier);
  if (tier >= 0)
    return "latency tier " + std::to_string(tier + 1) + " breached (TTFT " +
           num(sig.ttft.quantile_s, 3) + " s, TBT " + num(sig.tbt.quantile_s, 3) + " s)";
  double pw = missing(sig.prefill_waiting) ? 0 : sig.prefill_waiting;
  double dw = missing(sig.decode_waiting) ? 0 : sig.decode_waiting;
  if (pw >= 1 || dw >= 1)
    return "requests waiting (prefill_waiting " + num(pw, 0) + ", decode_waiting " + num(dw, 0) +
           ")";
  // Served below offered: prompt tokens arrive faster than the engines prefill them (10% and
  // half an instance of slack for counting noise), or the routers' backlog would take more
  // than half the TTFT SLO to clear at today's prefill rate (Little's law: the time a prompt
  // spends before its first token).
  if (sig.offered.known && !missing(sig.prefill_tps)) {
    const double slack = 0.5 * c.preferred().prefill_tps_per_instance;
    if (sig.offered.prompt_tps > 1.1 * sig.prefill_tps + slack)
      return "served below offered load (prompt tokens arriving " + num(sig.offered.prompt_tps, 0) +
             "/s, prefilled " + num(sig.prefill_tps, 0) + "/s)";
    double clear_s = sig.prefill_tps > 0 ? sig.offered.backlog_prompt_tokens / sig.prefill_tps
                                         : (sig.offered.backlog_prompt_tokens > 0 ? INFINITY : 0);
    if (clear_s > c.slo.ttft_s / 2)
      return "router backlog of " + num(sig.offered.backlog_prompt_tokens, 0) +
             " prompt tokens takes " + num(clear_s, 2) + " s to clear (> TTFT SLO / 2)";
  }
  return {};
}

// The safety stage: whether a scale-in from `cur` to `target` units may go ahead, and why.
// The forecast is first order: each survivor carries cur/target of today's per-unit load, and
// TTFT and TBT grow in proportion (they grow faster near saturation, so this errs towards
// keeping capacity only when latency is already close to the tier).
// Returns (refused, why), the forecast always in `why`.
std::pair<bool, std::string> scale_in_check(const Signals& sig, uint32_t cur, uint32_t target,
                                            double tps_per_unit, const ServiceConfig& c) {
  if (std::string b = scale_in_blocker(sig, c); !b.empty()) return {true, b};
  const double grow = target > 0 ? static_cast<double>(cur) / target : INFINITY;
  std::string forecast =
      "forecast at " + std::to_string(target) + " units (x" + num(grow, 2) + " per unit):";
  bool refuse = false;
  if (sig.decode_known && tps_per_unit > 0) {
    double load = (sig.decode_tps + sig.decode_capacity_missing) / (target * tps_per_unit);
    forecast += " decode " + num(load * 100, 0) + "% of capacity";
    refuse |= load > 1.0 + 1e-9;  // the proportional stage sizes to exactly 100%
  }
  for (const auto* ls : {&sig.ttft, &sig.tbt}) {
    if (!ls->known || missing(ls->quantile_s) || ls->tier_edge_s.empty()) continue;
    double f = ls->quantile_s * grow;
    forecast += std::string(ls == &sig.ttft ? ", TTFT " : ", TBT ") + num(f, 3) + " s vs tier 1 " +
                num(ls->tier_edge_s.front(), 3) + " s";
    refuse |= f > ls->tier_edge_s.front();
  }
  return {refuse, forecast};
}

// Demand beyond what is served (not in `paper`): the routers' offered load and backlog, and
// the engines' waiting queues, in ratio units. Decode: the output tokens arriving per
// second (the routers' estimate) or those served, whichever is more; requests waiting at
// decode mean served understates it by (running + waiting) / running. Prefill: the prompt
// tokens arriving that miss the prefix cache, or enough to clear the prompt tokens not yet
// prefilled within the TTFT SLO (Little's law: a backlog of B tokens at capacity C waits B/C,
// so C >= B / TTFT SLO), whichever is more. The larger of the two sizes the service.

Demand demand_units(const ServiceConfig& c, const Signals& sig, const PoolState& pool, uint32_t cur,
                    double decode_tps_per_unit) {
  const Variant& v = c.preferred();
  Demand d;
  if (sig.decode_known) {
    double tps = sig.decode_tps;
    if (sig.offered.known)
      tps = std::max({tps, sig.offered.decode_tps, sig.offered.decode_tps_recent});
    // Requests queued for a decode slot (KV memory or batch full) are demand served tokens/s
    // cannot show: the engines are full before their tokens/s reaches the calibrated target
    // when contexts run longer than calibrated.
    if (!missing(sig.decode_waiting) && sig.decode_waiting >= 1 && !missing(sig.decode_running) &&
        sig.decode_running >= 1)
      tps = std::max(
          tps, sig.decode_tps * (sig.decode_running + sig.decode_waiting) / sig.decode_running);
    d.decode_tps = tps;
    d.decode_units = static_cast<uint32_t>(std::ceil(tps / decode_tps_per_unit - 1e-9));
    d.served_units = static_cast<uint32_t>(std::ceil(sig.decode_tps / decode_tps_per_unit - 1e-9));
  }
  // Per unit of the calibrated ratio. With a ratio band the pool's prefill per unit moves, so
  // its per-instance capacity is what carries over; without one, the pool's per unit (mixed
  // variants' groups run their own ratios).
  const double band = c.ratio_band;
  const double p_inst = pool.prefill_capacity_tps > 0 && pool.prefill > 0
                            ? pool.prefill_capacity_tps / pool.prefill
                            : v.prefill_tps_per_instance;
  const double p_unit = band > 0 ? v.ratio.prefill * p_inst
                        : pool.prefill_capacity_tps > 0 && cur > 0
                            ? pool.prefill_capacity_tps / cur
                            : v.ratio.prefill * v.prefill_tps_per_instance;
  std::string p_why = "prefill not calibrated";
  if (p_unit > 0) {
    double miss = 1.0;  // the share of prompt tokens the engines compute (prefix-cache misses)
    if (!missing(sig.prefill_tps) && !missing(sig.prefill_tps_computed) && sig.prefill_tps > 0)
      miss = std::clamp(sig.prefill_tps_computed / sig.prefill_tps, 0.0, 1.0);
    double need = missing(sig.prefill_tps_computed)
                      ? (missing(sig.prefill_tps) ? 0 : sig.prefill_tps)
                      : sig.prefill_tps_computed;
    p_why = "served " + num(need, 0);
    d.served_units =
        std::max(d.served_units, static_cast<uint32_t>(std::ceil(need / p_unit - 1e-9)));
    // With a band, the backlog is prefill's alone to drain (more decode units do not clear
    // it): it sizes prefill inside the band, while units follow the steady demand.
    double steady = need;
    if (sig.offered.known) {
      double arriving = std::max(sig.offered.prompt_tps, sig.offered.prompt_tps_recent) * miss;
      double drain = sig.offered.backlog_prompt_tokens * miss / c.slo.ttft_s;
      steady = std::max(need, arriving);
      need = std::max({need, arriving, drain});
      p_why += ", arriving " + num(arriving, 0) + ", backlog " +
               num(sig.offered.backlog_prompt_tokens, 0) + " tokens / " + num(c.slo.ttft_s, 1) +
               " s = " + num(drain, 0);
    }
    d.prefill_tps = need;
    // With a band, prefill can stretch to (1 + band) x ratio.prefill per unit before the
    // service needs more units.
    d.prefill_units =
        static_cast<uint32_t>(std::ceil((band > 0 ? steady : need) / (p_unit * (1 + band)) - 1e-9));
    const bool measured =
        !missing(sig.prefill_tps) || !missing(sig.prefill_tps_computed) || sig.offered.known;
    if (p_inst > 0 && measured)
      d.prefill_instances = static_cast<uint32_t>(std::ceil(need / p_inst - 1e-9));
    p_why += " -> " + std::to_string(d.prefill_units) + " units at " + num(p_unit, 0) +
             " tok/s per unit" + (band > 0 ? " x (1 + band " + num(band, 2) + ")" : "");
  }
  d.units = std::max(d.decode_units, d.prefill_units);
  d.reason = "decode " + num(d.decode_tps, 0) + " tok/s -> " + std::to_string(d.decode_units) +
             " units; prefill " + p_why;
  return d;
}

}  // namespace hs::scaler::detail
