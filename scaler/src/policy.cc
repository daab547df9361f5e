// HeteroScale's pipeline (policy `heteroscale`, and `paper` without its own stages).
#include <algorithm>
#include <cmath>
#include <utility>

#include "hs/scaler/policy.h"
#include "policy_detail.h"

namespace hs::scaler {

using detail::begin_decision;
using detail::num;
using detail::secs;

namespace {

uint32_t ceil_div(uint64_t a, uint64_t b) { return static_cast<uint32_t>((a + b - 1) / b); }

void prune(PolicyMemory& m, TimePoint now, Duration keep) {
  while (!m.recs.empty() && m.recs.front().t < now - keep) m.recs.pop_front();
}

// The safety stage: whether a scale-in from `cur` to `target` units may go ahead, and why.
// The forecast is first order: each survivor carries cur/target of today's per-unit load, and
// TTFT and TBT grow in proportion (they grow faster near saturation, so this errs towards
// keeping capacity only when latency is already close to the tier).
// Returns (refused, why), the forecast always in `why`.
std::pair<bool, std::string> scale_in_check(const Signals& sig, uint32_t cur, uint32_t target,
                                            double tps_per_unit, const ServiceConfig& c) {
  int tier = std::max(sig.ttft.tier, sig.tbt.tier);
  if (tier >= 0)
    return {true, "latency tier " + std::to_string(tier + 1) + " breached (TTFT " +
                      num(sig.ttft.quantile_s, 3) + " s, TBT " + num(sig.tbt.quantile_s, 3) +
                      " s)"};
  double pw = missing(sig.prefill_waiting) ? 0 : sig.prefill_waiting;
  double dw = missing(sig.decode_waiting) ? 0 : sig.decode_waiting;
  if (pw >= 1 || dw >= 1)
    return {true, "requests waiting (prefill_waiting " + num(pw, 0) + ", decode_waiting " +
                      num(dw, 0) + ")"};
  // Served below offered: prompt tokens arrive faster than the engines prefill them (10% and
  // half an instance of slack for counting noise), or the routers' backlog would take more
  // than half the TTFT SLO to clear at today's prefill rate (Little's law: the time a prompt
  // spends before its first token).
  if (sig.offered.known && !missing(sig.prefill_tps)) {
    const double slack = 0.5 * c.preferred().prefill_tps_per_instance;
    if (sig.offered.prompt_tps > 1.1 * sig.prefill_tps + slack)
      return {true, "served below offered load (prompt tokens arriving " +
                        num(sig.offered.prompt_tps, 0) + "/s, prefilled " +
                        num(sig.prefill_tps, 0) + "/s)"};
    double clear_s = sig.prefill_tps > 0 ? sig.offered.backlog_prompt_tokens / sig.prefill_tps
                                         : (sig.offered.backlog_prompt_tokens > 0 ? INFINITY : 0);
    if (clear_s > c.slo.ttft_s / 2)
      return {true, "router backlog of " + num(sig.offered.backlog_prompt_tokens, 0) +
                        " prompt tokens takes " + num(clear_s, 2) + " s to clear (> TTFT SLO / 2)"};
  }
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
struct Demand {
  uint32_t units = 0;
  uint32_t decode_units = 0, prefill_units = 0;
  uint32_t served_units = 0;  // what served load alone sizes (both roles)
  double decode_tps = kMissing, prefill_tps = kMissing;
  std::string reason;
};

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
  const double p_unit = pool.prefill_capacity_tps > 0 && cur > 0
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
    if (sig.offered.known) {
      double arriving = std::max(sig.offered.prompt_tps, sig.offered.prompt_tps_recent) * miss;
      double drain = sig.offered.backlog_prompt_tokens * miss / c.slo.ttft_s;
      need = std::max({need, arriving, drain});
      p_why += ", arriving " + num(arriving, 0) + ", backlog " +
               num(sig.offered.backlog_prompt_tokens, 0) + " tokens / " + num(c.slo.ttft_s, 1) +
               " s = " + num(drain, 0);
    }
    d.prefill_tps = need;
    d.prefill_units = static_cast<uint32_t>(std::ceil(need / p_unit - 1e-9));
    p_why += " -> " + std::to_string(d.prefill_units) + " units at " + num(p_unit, 0) +
             " tok/s per unit";
  }
  d.units = std::max(d.decode_units, d.prefill_units);
  d.reason = "decode " + num(d.decode_tps, 0) + " tok/s -> " + std::to_string(d.decode_units) +
             " units; prefill " + p_why;
  return d;
}

}  // namespace

Decision HeteroScalePolicy::decide(const ServiceConfig& c, const Signals& sig,
                                   const PoolState& pool, TimePoint now, int64_t wall,
                                   PolicyMemory& mem) const {
  const Variant& v = c.preferred();
  const Ratio r = v.ratio;
  const Scaling& sc = c.scaling;
  Decision d = begin_decision(name(), c, sig, pool, now);

  // Work in ratio units; the pool's unit count is set by its decode side (capacity).
  const uint32_t cur = ceil_div(pool.decode, r.decode);
  const double capacity = pool.decode_capacity_tps > 0 ? pool.decode_capacity_tps
                                                       : pool.decode * v.decode_tps_per_instance;
  const double tps_per_unit = cur > 0 ? capacity / cur : r.decode * v.decode_tps_per_instance;
  uint32_t units = cur;
  auto stage = [&](const char* n, uint32_t u, std::string reason) {
    units = u;
    d.stages.push_back({n, u * r.prefill, u * r.decode, std::move(reason)});
  };

  // 1. Signal: missing or thin data can never shrink the service.
  bool can_scale_in = true;
  if (!sig.decode_known) {
    can_scale_in = false;
    stage("signal", cur,
          sig.decode_reporting == 0
              ? "hold: no decode throughput samples"
              : "hold: insufficient metrics (coverage " + num(sig.coverage, 2) + " < " +
                    num(sc.min_coverage, 2) + ")");
  } else {
    stage("signal", cur,
          "decode " + num(sig.decode_tps) + " tok/s from " + std::to_string(sig.decode_reporting) +
              "/" + std::to_string(sig.decode_expected) + " instances");
  }

  // 2. Proportional: units = ceil(tokens/s / capacity per unit). Silent instances count as
  //    idle when growing and as fully loaded when shrinking (HPA's conservative rule).
  uint32_t prop = cur;
  if (sig.decode_known) {
    uint32_t out_units = static_cast<uint32_t>(std::ceil(sig.decode_tps / tps_per_unit - 1e-9));
    double tps_in = sig.decode_tps + sig.decode_capacity_missing;
    uint32_t in_units = static_cast<uint32_t>(std::ceil(tps_in / tps_per_unit - 1e-9));
    if (out_units > cur)
      prop = out_units;
    else if (in_units < cur)
      prop = in_units;
    stage("proportional", prop,
          "ceil(" + num(sig.decode_tps) + " / " + num(tps_per_unit) +
              " tok/s per unit) = " + std::to_string(prop) + " units");
  } else {
    stage("proportional", cur, "no signal: keep " + std::to_string(cur) + " units");
  }

  // 2b. Demand (not in `paper`): size for the offered load and the backlog, not only for what
  //     is served; scale in only to what both roles' demand allows. An increase it makes is
  //     deficit-sized: not damped by the out-stabilization window or the out-cooldown.
  uint32_t deficit = 0;
  if (!paper_ && sig.decode_known) {
    Demand dm = demand_units(c, sig, pool, cur, tps_per_unit);
    uint32_t u = prop;
    if (dm.units > std::max(prop, cur)) {
      u = dm.units;
      // Deficit-sized only when demand beyond what is served sizes it: served load alone
      // is inflated while new instances drain a backlog, and keeps the ordinary damping.
      if (dm.units > dm.served_units) deficit = u;
    } else if (prop < cur) {
      u = std::min(cur, std::max(prop, dm.units));
    }
    stage("demand", u, dm.reason);
    prop = u;
  }

  // 3. Latency guard: stepwise growth when the client-side SLO is at risk (scale-out only);
  //    it also vetoes any scale-in while TTFT rises or the prefill queue grows, because decode
  //    tokens/s measures served load and falls exactly when prefill is the bottleneck.
  uint32_t guard_floor = 0;
  std::string guard_reason = "latency within SLO";
  int tier = std::max(sig.ttft.tier, sig.tbt.tier);
  const double load = capacity > 0 && sig.decode_known ? sig.decode_tps / capacity : 0;
  const bool decode_queue = !paper_ && !missing(sig.decode_waiting) && sig.decode_waiting >= 1;
  const bool pressure = load >= sc.guard_min_load || sig.prefill_queue_growing ||
                        (!missing(sig.prefill_waiting) && sig.prefill_waiting >= 1) || decode_queue;
  if (tier >= 0 && !pressure) {
    guard_reason = "latency above tier " + std::to_string(tier + 1) +
                   " but no load pressure (decode at " + num(load * 100, 0) +
                   "% of capacity, prefill queue empty" + (paper_ ? "" : ", decode queue empty") +
                   "): not a capacity problem";
  } else if (tier >= 0) {
    const GuardTier& t = sc.guard[static_cast<size_t>(tier)];
    guard_floor =
        std::max<uint32_t>(cur + 1, static_cast<uint32_t>(std::ceil(cur * (1.0 + t.step) - 1e-9)));
    const LatencySignal& ls = sig.ttft.tier >= sig.tbt.tier ? sig.ttft : sig.tbt;
    guard_reason = std::string(sig.ttft.tier >= sig.tbt.tier ? "TTFT" : "TBT") + " p" +
                   num(c.slo.percentile * 100, 0) + " above " +
                   num(ls.tier_edge_s[static_cast<size_t>(tier)], 3) + " s (tier " +
                   std::to_string(tier + 1) + "): +" + num(t.step * 100, 0) + "% -> at least " +
                   std::to_string(guard_floor) + " units";
    can_scale_in = false;
  }
  if ((sig.ttft.rising && pressure) || sig.prefill_queue_growing) {
    can_scale_in = false;
    guard_reason += std::string("; scale-in vetoed: ") +
                    (sig.prefill_queue_growing ? "prefill queue growing" : "TTFT rising");
  }
  uint32_t guarded = std::max(prop, guard_floor);
  if (!can_scale_in) guarded = std::max(guarded, cur);
  stage("latency_guard", guarded, guard_reason);

  // 4. Tolerance band (separate out/in thresholds); a guard-driven increase is not damped.
  uint32_t tol = guarded;
  std::string tol_reason;
  if (guard_floor > cur) {
    tol_reason = "guard increase kept";
  } else if (cur == 0) {
    tol_reason = "empty pool";
  } else {
    double ratio = static_cast<double>(guarded) / cur;
    if (ratio > 1.0 + sc.tolerance_out)
      tol_reason = "ratio " + num(ratio, 2) + " above 1+" + num(sc.tolerance_out, 2);
    else if (ratio < 1.0 - sc.tolerance_in)
      tol_reason = "ratio " + num(ratio, 2) + " below 1-" + num(sc.tolerance_in, 2);
    else {
      tol = cur;
      tol_reason = "ratio " + num(ratio, 2) + " within [1-" + num(sc.tolerance_in, 2) + ", 1+" +
                   num(sc.tolerance_out, 2) + "]: hold";
    }
  }
  stage("tolerance", tol, tol_reason);

  // 5. Periodic schedule: exact (the schedule decides) or a floor under the metrics.
  uint32_t sched = tol;
  std::optional<ScheduleEntry> entry = active_schedule_entry(c, wall);
  if (entry) {
    if (c.schedule_mode == ScheduleMode::kExact)
      sched = entry->units;
    else
      sched = std::max(tol, entry->units);
    stage("schedule", sched,
          std::string(c.schedule_mode == ScheduleMode::kExact ? "exact " : "floor ") +
              std::to_string(entry->units) + " units");
  }

  // 6. Stabilization (HPA): scale out on the lowest recommendation of the out window, scale in
  //    on the highest of the in window.
  mem.recs.push_back({now, sched * r.prefill, sched * r.decode});
  prune(mem, now, std::max(sc.in_stabilization, sc.out_stabilization));
  uint32_t stab = sched;
  std::string stab_reason = "no change";
  if (sched > cur) {
    uint32_t lo = sched;
    for (const auto& rec : mem.recs)
      if (rec.t >= now - sc.out_stabilization) lo = std::min(lo, rec.decode / r.decode);
    stab = std::max(cur, lo);
    stab_reason =
        "lowest recommendation over " + secs(sc.out_stabilization) + ": " + std::to_string(lo);
    if (deficit > stab) {
      stab = std::min(deficit, sched);
      stab_reason += "; deficit-sized " + std::to_string(stab) + " not damped";
    }
  } else if (sched < cur) {
    uint32_t hi = sched;
    for (const auto& rec : mem.recs)
      if (rec.t >= now - sc.in_stabilization) hi = std::max(hi, rec.decode / r.decode);
    stab = std::min(cur, hi);
    stab_reason =
        "highest recommendation over " + secs(sc.in_stabilization) + ": " + std::to_string(hi);
  }
  if (entry && c.schedule_mode == ScheduleMode::kExact) {
    stab = sched;
    stab_reason = "schedule is exact";
  }
  stage("stabilization", stab, stab_reason);

  // 7. Cooldowns.
  uint32_t cool = stab;
  std::string cool_reason = "none active";
  if (stab > cur && deficit >= stab) {
    cool_reason = "deficit-sized: no out-cooldown";
  } else if (stab > cur && mem.last_out && now - *mem.last_out < sc.out_cooldown) {
    cool = cur;
    cool_reason = "scale-out cooldown: last scale-out " + secs(now - *mem.last_out) + " ago < " +
                  secs(sc.out_cooldown);
  } else if (stab < cur) {
    std::optional<TimePoint> last = mem.last_out;
    if (mem.last_in && (!last || *mem.last_in > *last)) last = mem.last_in;
    if (last && now - *last < sc.in_cooldown) {
      cool = cur;
      cool_reason =
          "scale-in cooldown: last action " + secs(now - *last) + " ago < " + secs(sc.in_cooldown);
    }
  }
  stage("cooldown", cool, cool_reason);

  // 8. Step limits.
  uint32_t step = cool;
  std::string step_reason = "within limits";
  if (cool > cur) {
    // max(step_min, step_frac x current): max_step_out_units and max_step_out_fraction. The
    // paper's rounding (floor) is kept for `paper`; ours rounds up.
    const bool sized = deficit >= cool;
    double frac = cur * (sized ? sc.deficit_step_fraction : sc.max_step_out_fraction);
    uint32_t max_add = std::max<uint32_t>(
        sc.max_step_out_units,
        static_cast<uint32_t>(paper_ ? std::floor(frac) : std::ceil(frac - 1e-9)));
    if (cool - cur > max_add) {
      step = cur + max_add;
      step_reason = "scale-out limited to +" + std::to_string(max_add) + " units" +
                    (sized ? " (deficit-sized)" : "");
    }
  } else if (cool < cur) {
    uint32_t max_rm =
        std::max<uint32_t>(1, static_cast<uint32_t>(std::floor(cur * sc.max_step_in_fraction)));
    if (cur - cool > max_rm) {
      step = cur - max_rm;
      step_reason = "scale-in limited to -" + std::to_string(max_rm) + " units";
    }
  }
  stage("step_limit", step, step_reason);

  // 8b. Safety (not in `paper`): a scale-in must not make a breach, a queue or a shortage.
  // An exact schedule is the operator's order (as it overrides stabilization): not refused.
  if (!paper_ && !(entry && c.schedule_mode == ScheduleMode::kExact)) {
    uint32_t safe = step;
    std::string why = "no scale-in proposed";
    if (step < cur) {
      auto [refused, because] = scale_in_check(sig, cur, step, tps_per_unit, c);
      if (refused) safe = cur;
      why = (refused ? "scale-in refused: " : "scale-in allowed: ") + because;
    }
    stage("safety", safe, why);
    step = safe;
  }

  // 9. Bounds, in whole ratio units.
  uint32_t bounded = std::clamp(step, c.min_units(), c.max_units());
  stage("bounds", bounded,
        bounded == step ? "within [" + std::to_string(c.min_units()) + ", " +
                              std::to_string(c.max_units()) + "] units"
                        : "clamped to [" + std::to_string(c.min_units()) + ", " +
                              std::to_string(c.max_units()) + "] units");

  // 10. In flight: no new action while the previous one is still starting (new capacity is on
  //     its way; acting again would overshoot), and no scale-out while the newest instances
  //     settle (they drain the backlog first, which reads as extra load). Bounds still apply
  //     if the pool is outside them.
  uint32_t fin = bounded;
  bool inside = cur >= c.min_units() && cur <= c.max_units();
  if (deficit >= bounded && bounded > cur && inside) {
    // Demand beyond every counted instance, the starting ones included: what is on its way
    // does not cover it, so waiting for it would only delay the rest.
    stage("in_flight", fin,
          "deficit-sized: beyond the " + std::to_string(cur) + " units counted, " +
              std::to_string(pool.starting) + " instance(s) starting");
  } else if (pool.starting > 0 && bounded != cur && inside) {
    fin = cur;
    stage("in_flight", fin,
          "hold: " + std::to_string(pool.starting) + " instance(s) still starting");
  } else if (bounded > cur && inside && pool.newest_ready_age < sc.window / 2) {
    fin = cur;
    stage("in_flight", fin,
          "hold: newest instance ready " + secs(pool.newest_ready_age) + " ago, settling for " +
              secs(sc.window / 2));
  } else {
    stage("in_flight", fin,
          pool.starting > 0 ? std::to_string(pool.starting) + " starting" : "nothing starting");
  }

  // 11. P and D always change together, in whole units.
  d.desired_prefill = fin * r.prefill;
  d.desired_decode = fin * r.decode;
  d.direction = fin > cur ? Direction::kOut : fin < cur ? Direction::kIn : Direction::kHold;
  if (d.direction == Direction::kHold &&
      (d.desired_prefill != pool.prefill || d.desired_decode != pool.decode))
    d.direction = d.desired_prefill + d.desired_decode > pool.prefill + pool.decode
                      ? Direction::kOut
                      : Direction::kIn;
  stage("coordinate", fin,
        "prefill " + std::to_string(pool.prefill) + "->" + std::to_string(d.desired_prefill) +
            ", decode " + std::to_string(pool.decode) + "->" + std::to_string(d.desired_decode) +
            " (" + std::to_string(r.prefill) + ":" + std::to_string(r.decode) + ")");
  if (d.direction == Direction::kOut) mem.last_out = now;
  if (d.direction == Direction::kIn) mem.last_in = now;
  return d;
}

}  // namespace hs::scaler
