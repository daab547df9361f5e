#include "hs/scaler/policy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

namespace hs::scaler {

std::string_view to_string(Direction d) {
  switch (d) {
    case Direction::kHold:
      return "hold";
    case Direction::kOut:
      return "scale_out";
    case Direction::kIn:
      return "scale_in";
  }
  return "hold";
}

namespace {

std::string num(double v, int prec = 1) {
  if (missing(v)) return "nan";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

std::string secs(Duration d) { return num(to_seconds(d), 0) + " s"; }

uint32_t ceil_div(uint64_t a, uint64_t b) { return static_cast<uint32_t>((a + b - 1) / b); }

void prune(PolicyMemory& m, TimePoint now, Duration keep) {
  while (!m.recs.empty() && m.recs.front().t < now - keep) m.recs.pop_front();
}

// A decision's header: which service and policy, when, from what pool and signals.
Decision begin_decision(std::string_view policy, const ServiceConfig& c, const Signals& sig,
                        const PoolState& pool, TimePoint now) {
  Decision d;
  d.service = c.name;
  d.policy = std::string(policy);
  d.at = now;
  d.current_prefill = pool.prefill;
  d.current_decode = pool.decode;
  d.decode_tps = sig.decode_tps;
  d.coverage = sig.coverage;
  d.ttft_q = sig.ttft.quantile_s;
  d.tbt_q = sig.tbt.quantile_s;
  d.prefill_waiting = sig.prefill_waiting;
  d.decode_waiting = sig.decode_waiting;
  return d;
}

// The safety stage: whether a scale-in from `cur` to `target` units may go ahead, and why.
// The forecast is first order: each survivor carries cur/target of today's per-unit load, and
// TTFT and TBT grow in proportion (they grow faster near saturation, so this errs towards
// keeping capacity only when latency is already close to the tier).
// Returns (refused, why), the forecast always in `why`.
std::pair<bool, std::string> scale_in_check(const Signals& sig, uint32_t cur, uint32_t target,
                                            double tps_per_unit) {
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

}  // namespace

const StageResult& Decision::deciding_stage() const {
  const StageResult* last_change = nullptr;
  uint32_t p = current_prefill, d = current_decode;
  for (const auto& s : stages) {
    if (s.prefill != p || s.decode != d) last_change = &s;
    p = s.prefill;
    d = s.decode;
  }
  return last_change ? *last_change : stages.back();
}

std::string Decision::to_log_line() const {
  auto q = [](const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + "\"";
  };
  std::string l = "service=" + service + " policy=" + policy +
                  " decision=" + std::string(to_string(direction)) +
                  " prefill=" + std::to_string(current_prefill) + "->" +
                  std::to_string(desired_prefill) + " decode=" + std::to_string(current_decode) +
                  "->" + std::to_string(desired_decode) + " decode_tps=" + num(decode_tps) +
                  " coverage=" + num(coverage, 2) + " ttft_q=" + num(ttft_q, 3) +
                  " tbt_q=" + num(tbt_q, 4) + " prefill_waiting=" + num(prefill_waiting, 0) +
                  " decode_waiting=" + num(decode_waiting, 0);
  if (!stages.empty()) l += " by=" + deciding_stage().stage;
  for (const auto& s : stages)
    l += " " + s.stage + "=" + std::to_string(s.prefill) + "/" + std::to_string(s.decode) + ":" +
         q(s.reason);
  return l;
}

std::optional<ScheduleEntry> active_schedule_entry(const ServiceConfig& c, int64_t wall) {
  if (c.schedule.empty()) return std::nullopt;
  // 1970-01-01 was a Thursday (day 3 with Monday = 0).
  int64_t day = wall >= 0 ? wall / 86400 : (wall - 86399) / 86400;
  int64_t minute = (wall - day * 86400) / 60;
  for (int back = 0; back <= 7; ++back) {
    int weekday = static_cast<int>(((day - back) % 7 + 7 + 3) % 7);
    const ScheduleEntry* best = nullptr;
    for (const auto& e : c.schedule) {
      if (!(e.days & (1u << weekday))) continue;
      if (back == 0 && e.start_minute > minute) continue;
      if (!best || e.start_minute > best->start_minute) best = &e;
    }
    if (best) return *best;
  }
  return std::nullopt;
}

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

  // 3. Latency guard: stepwise growth when the client-side SLO is at risk (scale-out only);
  //    it also vetoes any scale-in while TTFT rises or the prefill queue grows, because decode
  //    tokens/s measures served load and falls exactly when prefill is the bottleneck.
  uint32_t guard_floor = 0;
  std::string guard_reason = "latency within SLO";
  int tier = std::max(sig.ttft.tier, sig.tbt.tier);
  const double load = capacity > 0 && sig.decode_known ? sig.decode_tps / capacity : 0;
  const bool pressure = load >= sc.guard_min_load || sig.prefill_queue_growing ||
                        (!missing(sig.prefill_waiting) && sig.prefill_waiting >= 1);
  if (tier >= 0 && !pressure) {
    guard_reason = "latency above tier " + std::to_string(tier + 1) +
                   " but no load pressure (decode at " + num(load * 100, 0) +
                   "% of capacity, prefill queue empty): not a capacity problem";
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
  if (stab > cur && mem.last_out && now - *mem.last_out < sc.out_cooldown) {
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
    uint32_t max_add = std::max<uint32_t>(
        sc.max_step_out_units, static_cast<uint32_t>(std::floor(cur * sc.max_step_out_fraction)));
    if (cool - cur > max_add) {
      step = cur + max_add;
      step_reason = "scale-out limited to +" + std::to_string(max_add) + " units";
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
      auto [refused, because] = scale_in_check(sig, cur, step, tps_per_unit);
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
  if (pool.starting > 0 && bounded != cur && inside) {
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

namespace {

// One pool under HPA's rules: tolerance 0.1; scale-down on the max recommendation of the last
// 300 s; scale-up at most max(2x, +4) per decision.
uint32_t hpa_pool(uint32_t cur, double desired_raw, uint32_t lo, uint32_t hi, TimePoint now,
                  std::deque<std::pair<TimePoint, uint32_t>>& recs, std::string& reason) {
  uint32_t desired = cur;
  if (!missing(desired_raw)) {
    double ratio = cur > 0 ? desired_raw / cur : (desired_raw > 0 ? 2.0 : 1.0);
    if (std::fabs(ratio - 1.0) > 0.1 || cur == 0)
      desired = static_cast<uint32_t>(std::ceil(desired_raw - 1e-9));
    reason = "raw " + num(desired_raw, 2);
  } else {
    reason = "no metric: hold";
  }
  recs.push_back({now, desired});
  while (!recs.empty() && recs.front().first < now - std::chrono::seconds(300)) recs.pop_front();
  if (desired < cur) {
    uint32_t m = desired;
    for (const auto& rr : recs) m = std::max(m, rr.second);
    desired = std::min(cur, m);
  }
  if (desired > cur) desired = std::min(desired, std::max(cur * 2, cur + 4));
  return std::clamp(desired, lo, hi);
}

Decision hpa_decide(const char* policy, const ServiceConfig& c, const PoolState& pool,
                    TimePoint now, PolicyMemory& mem, double p_raw, double d_raw,
                    const Signals& sig) {
  Decision d = begin_decision(policy, c, sig, pool, now);
  // Per-role recommendation history in the shared deque: prefill in .prefill, decode in .decode.
  std::deque<std::pair<TimePoint, uint32_t>> rp, rd;
  for (const auto& r : mem.recs) {
    rp.push_back({r.t, r.prefill});
    rd.push_back({r.t, r.decode});
  }
  std::string why_p, why_d;
  uint32_t p = hpa_pool(pool.prefill, p_raw, c.min_prefill, c.max_prefill, now, rp, why_p);
  uint32_t dd = hpa_pool(pool.decode, d_raw, c.min_decode, c.max_decode, now, rd, why_d);
  mem.recs.clear();
  for (size_t i = 0; i < rp.size() && i < rd.size(); ++i)
    mem.recs.push_back({rp[i].first, rp[i].second, rd[i].second});
  d.desired_prefill = p;
  d.desired_decode = dd;
  d.stages.push_back({"hpa_prefill", p, pool.decode, why_p});
  d.stages.push_back({"hpa_decode", p, dd, why_d});
  int64_t delta = static_cast<int64_t>(p + dd) - static_cast<int64_t>(pool.prefill + pool.decode);
  d.direction = delta > 0 ? Direction::kOut : delta < 0 ? Direction::kIn : Direction::kHold;
  return d;
}

}  // namespace

Decision HpaUtilizationPolicy::decide(const ServiceConfig& c, const Signals& s,
                                      const PoolState& pool, TimePoint now, int64_t,
                                      PolicyMemory& mem) const {
  double p_raw =
      missing(s.prefill_gpu_util) ? kMissing : pool.prefill * s.prefill_gpu_util / target_;
  double d_raw = missing(s.decode_gpu_util) ? kMissing : pool.decode * s.decode_gpu_util / target_;
  return hpa_decide("hpa-util", c, pool, now, mem, p_raw, d_raw, s);
}

Decision HpaQueuePolicy::decide(const ServiceConfig& c, const Signals& s, const PoolState& pool,
                                TimePoint now, int64_t, PolicyMemory& mem) const {
  double p_raw = missing(s.prefill_waiting) ? kMissing : s.prefill_waiting / target_;
  double d_raw = missing(s.decode_waiting) ? kMissing : s.decode_waiting / target_;
  return hpa_decide("hpa-queue", c, pool, now, mem, p_raw, d_raw, s);
}

Decision StaticPolicy::decide(const ServiceConfig& c, const Signals& s, const PoolState& pool,
                              TimePoint now, int64_t, PolicyMemory&) const {
  Decision d = begin_decision("static", c, s, pool, now);
  uint32_t u = std::clamp(units_, c.min_units(), c.max_units());
  d.desired_prefill = u * c.preferred().ratio.prefill;
  d.desired_decode = u * c.preferred().ratio.decode;
  d.stages.push_back({"static", d.desired_prefill, d.desired_decode, std::to_string(u) + " units"});
  int64_t delta = static_cast<int64_t>(d.desired_prefill + d.desired_decode) -
                  static_cast<int64_t>(pool.prefill + pool.decode);
  d.direction = delta > 0 ? Direction::kOut : delta < 0 ? Direction::kIn : Direction::kHold;
  return d;
}

std::unique_ptr<Policy> make_policy(std::string_view n) {
  if (n == "heteroscale") return std::make_unique<HeteroScalePolicy>();
  if (n == "paper") return std::make_unique<HeteroScalePolicy>(/*paper=*/true);
  if (n == "hpa-util") return std::make_unique<HpaUtilizationPolicy>();
  if (n == "hpa-queue") return std::make_unique<HpaQueuePolicy>();
  return nullptr;
}

}  // namespace hs::scaler
