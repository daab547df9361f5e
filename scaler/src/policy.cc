// HeteroScale's pipeline (policy `heteroscale`, and `paper` without its own stages).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "hs/scaler/policy.h"
#include "hs/scaler/ratio_band.h"
#include "policy_detail.h"

namespace hs::scaler {

using detail::begin_decision;
using detail::Demand;
using detail::demand_units;
using detail::num;
using detail::scale_in_blocker;
using detail::scale_in_check;
using detail::secs;

namespace {

uint32_t ceil_div(uint64_t a, uint64_t b) { return static_cast<uint32_t>((a + b - 1) / b); }

void prune(PolicyMemory& m, TimePoint now, Duration keep) {
  while (!m.recs.empty() && m.recs.front().t < now - keep) m.recs.pop_front();
}

// The pipeline of one decision: each stage reads the units the previous one left and appends
// its own result (the counts after it and why) to the decision.
class Pipeline {
 public:
  Pipeline(const ServiceConfig& c, const Signals& sig, const PoolState& pool, TimePoint now,
           int64_t wall, PolicyMemory& mem, bool paper, std::string_view name)
      : c_(c),
        sig_(sig),
        pool_(pool),
        now_(now),
        mem_(mem),
        paper_(paper),
        sc_(c.scaling),
        r_(c.preferred().ratio),
        d_(begin_decision(name, c, sig, pool, now)),
        entry_(active_schedule_entry(c, wall)) {
    const Variant& v = c.preferred();
    // Work in ratio units; the pool's unit count is set by its decode side (capacity).
    cur_ = ceil_div(pool.decode, r_.decode);
    capacity_ = pool.decode_capacity_tps > 0 ? pool.decode_capacity_tps
                                             : pool.decode * v.decode_tps_per_instance;
    tps_per_unit_ = cur_ > 0 ? capacity_ / cur_ : r_.decode * v.decode_tps_per_instance;
    units_ = cur_;
    exact_ = entry_ && c.schedule_mode == ScheduleMode::kExact;
  }

  Decision run() {
    signal();
    proportional();
    if (!paper_) demand();
    latency_guard();
    tolerance();
    schedule();
    stabilization();
    cooldown();
    step_limit();
    if (!paper_ && !exact_) safety();
    bounds();
    in_flight();
    if (!paper_) ratio_band();
    coordinate();
    return std::move(d_);
  }

 private:
  void stage(const char* n, uint32_t u, std::string reason) {
    units_ = u;
    uint32_t p = u * r_.prefill;
    if (!paper_ && c_.ratio_band > 0) {
      // Inside a band a stage that keeps the units keeps today's prefill: only the ratio band
      // stage moves it, so the deciding stage is the one that really changed something.
      PrefillBand b = prefill_band(u, r_, c_.ratio_band);
      p = std::clamp(pool_.prefill, b.lo, b.hi);
    }
    d_.stages.push_back({n, p, u * r_.decode, std::move(reason)});
  }

  // 1. Signal: missing or thin data can never shrink the service.
  void signal() {
    if (!sig_.decode_known) {
      can_scale_in_ = false;
      stage("signal", cur_,
            sig_.decode_reporting == 0
                ? "hold: no decode throughput samples"
                : "hold: insufficient metrics (coverage " + num(sig_.coverage, 2) + " < " +
                      num(sc_.min_coverage, 2) + ")");
      return;
    }
    stage("signal", cur_,
          "decode " + num(sig_.decode_tps) + " tok/s from " +
              std::to_string(sig_.decode_reporting) + "/" + std::to_string(sig_.decode_expected) +
              " instances");
  }

  // 2. Proportional: units = ceil(tokens/s / capacity per unit). Silent instances count as
  //    idle when growing and as fully loaded when shrinking (HPA's conservative rule).
  void proportional() {
    if (!sig_.decode_known) {
      stage("proportional", cur_, "no signal: keep " + std::to_string(cur_) + " units");
      return;
    }
    uint32_t prop = cur_;
    uint32_t out_units = static_cast<uint32_t>(std::ceil(sig_.decode_tps / tps_per_unit_ - 1e-9));
    double tps_in = sig_.decode_tps + sig_.decode_capacity_missing;
    uint32_t in_units = static_cast<uint32_t>(std::ceil(tps_in / tps_per_unit_ - 1e-9));
    if (out_units > cur_)
      prop = out_units;
    else if (in_units < cur_)
      prop = in_units;
    stage("proportional", prop,
          "ceil(" + num(sig_.decode_tps) + " / " + num(tps_per_unit_) +
              " tok/s per unit) = " + std::to_string(prop) + " units");
  }

  // 2b. Demand (not in `paper`): size for the offered load and the backlog, not only for what
  //     is served; scale in only to what both roles' demand allows. An increase it makes is
  //     deficit-sized: not damped by the out-stabilization window or the out-cooldown.
  void demand() {
    if (!sig_.decode_known) return;
    Demand dm = demand_units(c_, sig_, pool_, cur_, tps_per_unit_);
    need_prefill_ = dm.prefill_instances;
    uint32_t prop = units_, u = prop;
    if (dm.units > std::max(prop, cur_)) {
      u = dm.units;
      // Deficit-sized only when demand beyond what is served sizes it: served load alone
      // is inflated while new instances drain a backlog, and keeps the ordinary damping.
      if (dm.units > dm.served_units) deficit_ = u;
    } else if (prop < cur_) {
      u = std::min(cur_, std::max(prop, dm.units));
    }
    stage("demand", u, dm.reason);
  }

  // 3. Latency guard: stepwise growth when the client-side SLO is at risk (scale-out only);
  //    it also vetoes any scale-in while TTFT rises or the prefill queue grows, because decode
  //    tokens/s measures served load and falls exactly when prefill is the bottleneck.
  void latency_guard() {
    std::string why = "latency within SLO";
    int tier = std::max(sig_.ttft.tier, sig_.tbt.tier);
    const double load = capacity_ > 0 && sig_.decode_known ? sig_.decode_tps / capacity_ : 0;
    const bool decode_queue = !paper_ && !missing(sig_.decode_waiting) && sig_.decode_waiting >= 1;
    const bool pressure = load >= sc_.guard_min_load || sig_.prefill_queue_growing ||
                          (!missing(sig_.prefill_waiting) && sig_.prefill_waiting >= 1) ||
                          decode_queue;
    if (tier >= 0 && !pressure) {
      why = "latency above tier " + std::to_string(tier + 1) + " but no load pressure (decode at " +
            num(load * 100, 0) + "% of capacity, prefill queue empty" +
            (paper_ ? "" : ", decode queue empty") + "): not a capacity problem";
    } else if (tier >= 0 && prefill_guard(tier)) {
      why = "TTFT p" + num(c_.slo.percentile * 100, 0) + " above tier " + std::to_string(tier + 1) +
            " with TBT and decode fine: prefill +" +
            num(sc_.guard[static_cast<size_t>(tier)].step * 100, 0) + "% to at least " +
            std::to_string(prefill_floor_) + " inside the ratio band";
      can_scale_in_ = false;
    } else if (tier >= 0) {
      const GuardTier& t = sc_.guard[static_cast<size_t>(tier)];
      guard_floor_ = std::max<uint32_t>(
          cur_ + 1, static_cast<uint32_t>(std::ceil(cur_ * (1.0 + t.step) - 1e-9)));
      const LatencySignal& ls = sig_.ttft.tier >= sig_.tbt.tier ? sig_.ttft : sig_.tbt;
      why = std::string(sig_.ttft.tier >= sig_.tbt.tier ? "TTFT" : "TBT") + " p" +
            num(c_.slo.percentile * 100, 0) + " above " +
            num(ls.tier_edge_s[static_cast<size_t>(tier)], 3) + " s (tier " +
            std::to_string(tier + 1) + "): +" + num(t.step * 100, 0) + "% -> at least " +
            std::to_string(guard_floor_) + " units";
      can_scale_in_ = false;
    }
    if ((sig_.ttft.rising && pressure) || sig_.prefill_queue_growing) {
      can_scale_in_ = false;
      why += std::string("; scale-in vetoed: ") +
             (sig_.prefill_queue_growing ? "prefill queue growing" : "TTFT rising");
    }
    uint32_t guarded = std::max(units_, guard_floor_);
    if (!can_scale_in_) guarded = std::max(guarded, cur_);
    stage("latency_guard", guarded, why);
  }

  // With a ratio band, a TTFT breach while TBT is within its tiers and nothing queues for
  // decode is prefill's: the guard's step goes to prefill alone, inside the band at today's
  // units (the ratio band stage takes it), never to decode.
  bool prefill_guard(int tier) {
    if (paper_ || c_.ratio_band <= 0 || sig_.ttft.tier != tier || sig_.tbt.tier >= 0) return false;
    if (!missing(sig_.decode_waiting) && sig_.decode_waiting >= 1) return false;
    const double step = sc_.guard[static_cast<size_t>(tier)].step;
    uint32_t floor = std::max<uint32_t>(
        pool_.prefill + 1, static_cast<uint32_t>(std::ceil(pool_.prefill * (1.0 + step) - 1e-9)));
    // Capped at the band's top for today's units: a TTFT breach the band's top cannot cover
    // is a backlog (steady prefill demand past the top grows units in the demand stage), and
    // more decode units would not drain it.
    prefill_floor_ = std::min({floor, prefill_band(cur_, r_, c_.ratio_band).hi, c_.max_prefill});
    return true;
  }

  // The newest scale action of either direction (the in-cooldown runs from it).
  std::optional<TimePoint> last_action() const {
    std::optional<TimePoint> last = mem_.last_out;
    if (mem_.last_in && (!last || *mem_.last_in > *last)) last = mem_.last_in;
    return last;
  }
  // What one scale-in may remove from `cur`: max(1, max_step_in_fraction x cur).
  uint32_t max_step_in(uint32_t cur) const {
    return std::max<uint32_t>(1, static_cast<uint32_t>(std::floor(cur * sc_.max_step_in_fraction)));
  }

  // 4. Tolerance band (separate out/in thresholds); a guard-driven increase is not damped.
  void tolerance() {
    uint32_t tol = units_;
    std::string why;
    if (guard_floor_ > cur_) {
      why = "guard increase kept";
    } else if (cur_ == 0) {
      why = "empty pool";
    } else {
      double ratio = static_cast<double>(units_) / cur_;
      if (ratio > 1.0 + sc_.tolerance_out) {
        why = "ratio " + num(ratio, 2) + " above 1+" + num(sc_.tolerance_out, 2);
      } else if (ratio < 1.0 - sc_.tolerance_in) {
        why = "ratio " + num(ratio, 2) + " below 1-" + num(sc_.tolerance_in, 2);
      } else {
        tol = cur_;
        why = "ratio " + num(ratio, 2) + " within [1-" + num(sc_.tolerance_in, 2) + ", 1+" +
              num(sc_.tolerance_out, 2) + "]: hold";
      }
    }
    stage("tolerance", tol, why);
  }

  // 5. Periodic schedule: exact (the schedule decides) or a floor under the metrics.
  void schedule() {
    if (!entry_) return;
    uint32_t sched = exact_ ? entry_->units : std::max(units_, entry_->units);
    stage("schedule", sched,
          std::string(exact_ ? "exact " : "floor ") + std::to_string(entry_->units) + " units");
  }

  // 6. Stabilization (HPA): scale out on the lowest recommendation of the out window, scale in
  //    on the highest of the in window.
  void stabilization() {
    const uint32_t sched = units_;
    mem_.recs.push_back({now_, sched * r_.prefill, sched * r_.decode});
    prune(mem_, now_, std::max(sc_.in_stabilization, sc_.out_stabilization));
    uint32_t stab = sched;
    std::string why = "no change";
    if (sched > cur_) {
      uint32_t lo = sched;
      for (const auto& rec : mem_.recs)
        if (rec.t >= now_ - sc_.out_stabilization) lo = std::min(lo, rec.decode / r_.decode);
      stab = std::max(cur_, lo);
      why = "lowest recommendation over " + secs(sc_.out_stabilization) + ": " + std::to_string(lo);
      if (deficit_ > stab) {
        stab = std::min(deficit_, sched);
        why += "; deficit-sized " + std::to_string(stab) + " not damped";
      }
    } else if (sched < cur_) {
      uint32_t hi = sched;
      for (const auto& rec : mem_.recs)
        if (rec.t >= now_ - sc_.in_stabilization) hi = std::max(hi, rec.decode / r_.decode);
      stab = std::min(cur_, hi);
      why = "highest recommendation over " + secs(sc_.in_stabilization) + ": " + std::to_string(hi);
    }
    if (exact_) {
      stab = sched;
      why = "schedule is exact";
    }
    stage("stabilization", stab, why);
  }

  // 7. Cooldowns.
  void cooldown() {
    const uint32_t stab = units_;
    uint32_t cool = stab;
    std::string why = "none active";
    if (stab > cur_ && deficit_ >= stab) {
      why = "deficit-sized: no out-cooldown";
    } else if (stab > cur_ && mem_.last_out && now_ - *mem_.last_out < sc_.out_cooldown) {
      cool = cur_;
      why = "scale-out cooldown: last scale-out " + secs(now_ - *mem_.last_out) + " ago < " +
            secs(sc_.out_cooldown);
    } else if (stab < cur_) {
      std::optional<TimePoint> last = last_action();
      if (last && now_ - *last < sc_.in_cooldown) {
        cool = cur_;
        why = "scale-in cooldown: last action " + secs(now_ - *last) + " ago < " +
              secs(sc_.in_cooldown);
      }
    }
    stage("cooldown", cool, why);
  }

  // 8. Step limits: out at most max(step_min, step_frac x current) (max_step_out_units and
  //    max_step_out_fraction, or deficit_step_fraction for a deficit-sized increase; the
  //    paper's rounding, floor, is kept for `paper`, ours rounds up); in at most
  //    max(1, max_step_in_fraction x current).
  void step_limit() {
    const uint32_t cool = units_;
    uint32_t step = cool;
    std::string why = "within limits";
    if (cool > cur_) {
      const bool sized = deficit_ >= cool;
      double frac = cur_ * (sized ? sc_.deficit_step_fraction : sc_.max_step_out_fraction);
      uint32_t max_add = std::max<uint32_t>(
          sc_.max_step_out_units,
          static_cast<uint32_t>(paper_ ? std::floor(frac) : std::ceil(frac - 1e-9)));
      if (cool - cur_ > max_add) {
        step = cur_ + max_add;
        why = "scale-out limited to +" + std::to_string(max_add) + " units" +
              (sized ? " (deficit-sized)" : "");
      }
    } else if (cool < cur_) {
      uint32_t max_rm = max_step_in(cur_);
      if (cur_ - cool > max_rm) {
        step = cur_ - max_rm;
        why = "scale-in limited to -" + std::to_string(max_rm) + " units";
      }
    }
    stage("step_limit", step, why);
  }

  // 8b. Safety (not in `paper`): a scale-in must not make a breach, a queue or a shortage.
  //     An exact schedule is the operator's order (as it overrides stabilization): not refused.
  void safety() {
    uint32_t safe = units_;
    std::string why = "no scale-in proposed";
    if (units_ < cur_) {
      auto [refused, because] = scale_in_check(sig_, cur_, units_, tps_per_unit_, c_);
      if (refused) safe = cur_;
      why = (refused ? "scale-in refused: " : "scale-in allowed: ") + because;
    }
    stage("safety", safe, why);
  }

  // 9. Bounds, in whole ratio units.
  void bounds() {
    uint32_t bounded = std::clamp(units_, c_.min_units(), c_.max_units());
    std::string range =
        "[" + std::to_string(c_.min_units()) + ", " + std::to_string(c_.max_units()) + "] units";
    stage("bounds", bounded, (bounded == units_ ? "within " : "clamped to ") + range);
  }

  // 10. In flight: no new action while the previous one is still starting (new capacity is on
  //     its way; acting again would overshoot), and no scale-out while the newest instances
  //     settle (they drain the backlog first, which reads as extra load). Bounds still apply
  //     if the pool is outside them. A deficit-sized increase passes: it is demand beyond
  //     every counted instance, the starting ones included, so waiting would only delay it.
  void in_flight() {
    const uint32_t bounded = units_;
    const bool inside = cur_ >= c_.min_units() && cur_ <= c_.max_units();
    if (deficit_ >= bounded && bounded > cur_ && inside) {
      stage("in_flight", bounded,
            "deficit-sized: beyond the " + std::to_string(cur_) + " units counted, " +
                std::to_string(pool_.starting) + " instance(s) starting");
    } else if (pool_.starting > 0 && bounded != cur_ && inside) {
      stage("in_flight", cur_,
            "hold: " + std::to_string(pool_.starting) + " instance(s) still starting");
    } else if (bounded > cur_ && inside && pool_.newest_ready_age < sc_.window / 2) {
      stage("in_flight", cur_,
            "hold: newest instance ready " + secs(pool_.newest_ready_age) + " ago, settling for " +
                secs(sc_.window / 2));
    } else {
      stage("in_flight", bounded,
            pool_.starting > 0 ? std::to_string(pool_.starting) + " starting" : "nothing starting");
    }
  }

  // 10b. Ratio band (ratio_band > 0, not in `paper`): prefill sized by its own demand inside
  //      the band around the units' calibrated prefill, decode left at units x ratio.decode.
  //      A rise follows demand at once (a prefill shortage is TTFT); a cut waits for the
  //      highest need over the in-stabilization window, the in-tolerance and the in-cooldown,
  //      and is refused by whatever forbids a scale-in or would leave the survivors short.
  void ratio_band() {
    const uint32_t fin = units_;
    const uint32_t now_p = pool_.prefill;
    PrefillBand band = prefill_band(fin, r_, c_.ratio_band);
    band.lo = std::max(band.lo, std::min(c_.min_prefill, band.hi));
    band.hi = std::max(std::min(band.hi, c_.max_prefill), band.lo);
    if (c_.ratio_band <= 0 || band.lo == band.hi) {
      prefill_ = band.lo;
      if (fin > 0) d_.prefill_scale = static_cast<double>(band.lo) / (fin * r_.prefill);
      return;
    }
    uint32_t want = std::max(need_prefill_.value_or(fin * r_.prefill), prefill_floor_);
    if (!mem_.recs.empty()) mem_.recs.back().prefill = want;
    uint32_t hi_rec = want;
    for (const auto& rec : mem_.recs)
      if (rec.t >= now_ - sc_.in_stabilization) hi_rec = std::max(hi_rec, rec.prefill);
    uint32_t p = want;
    std::string why = "prefill demand " + std::to_string(want) + " instances";
    if (!need_prefill_) why = "prefill demand unknown: the calibrated ratio";
    if (prefill_floor_ > 0 && prefill_floor_ == want)
      why = "latency guard: prefill to at least " + std::to_string(want);
    if (pool_.starting > 0 && fin == cur_) {
      p = now_p;
      why += "; hold: " + std::to_string(pool_.starting) + " instance(s) starting";
    } else if (want < now_p && fin >= cur_) {
      p = std::min(now_p, hi_rec);
      std::optional<TimePoint> last = last_action();
      std::string blocker = scale_in_blocker(sig_, c_);
      if (p >= now_p) {
        why += "; highest over " + secs(sc_.in_stabilization) + ": " + std::to_string(hi_rec);
      } else if (p > now_p * (1 - sc_.tolerance_in)) {
        p = now_p;
        why += "; within the in-tolerance of " + std::to_string(now_p) + ": hold";
      } else if (last && now_ - *last < sc_.in_cooldown) {
        p = now_p;
        why += "; in-cooldown: last action " + secs(now_ - *last) + " ago";
      } else if (!blocker.empty()) {
        p = now_p;
        why += "; cut refused: " + blocker;
      } else {
        // As a scale-in: at most max(1, max_step_in_fraction x current) at a time, and not if
        // the survivors' TTFT (today's x now/after, first order) would pass the first tier.
        uint32_t max_rm = max_step_in(now_p);
        p = std::max(p, now_p - std::min(now_p, max_rm));
        const LatencySignal& t = sig_.ttft;
        if (p > 0 && t.known && !missing(t.quantile_s) && !t.tier_edge_s.empty() &&
            t.quantile_s * now_p / p > t.tier_edge_s.front()) {
          why += "; cut refused: TTFT forecast " + num(t.quantile_s * now_p / p, 3) +
                 " s past tier 1 " + num(t.tier_edge_s.front(), 3) + " s";
          p = now_p;
        } else {
          why += "; cut by at most " + std::to_string(max_rm);
        }
      }
    }
    const uint32_t chosen = std::clamp(p, band.lo, band.hi);
    prefill_ = chosen;
    const double scale = fin > 0 ? static_cast<double>(chosen) / (fin * r_.prefill) : 1.0;
    d_.prefill_scale = scale;
    d_.stages.push_back({"ratio_band", chosen, fin * r_.decode,
                         why + " -> " + std::to_string(chosen) + " in [" + std::to_string(band.lo) +
                             ", " + std::to_string(band.hi) + "] for " + std::to_string(fin) +
                             " units (x" + num(scale, 2) + " the calibrated ratio)"});
  }

  // 11. P and D always change together: decode in whole units, prefill at the units' ratio
  //     or where the ratio band put it.
  void coordinate() {
    const uint32_t fin = units_;
    d_.desired_prefill = prefill_.value_or(fin * r_.prefill);
    d_.desired_decode = fin * r_.decode;
    d_.direction = fin > cur_ ? Direction::kOut : fin < cur_ ? Direction::kIn : Direction::kHold;
    if (d_.direction == Direction::kHold &&
        (d_.desired_prefill != pool_.prefill || d_.desired_decode != pool_.decode))
      d_.direction = d_.desired_prefill + d_.desired_decode > pool_.prefill + pool_.decode
                         ? Direction::kOut
                         : Direction::kIn;
    stage("coordinate", fin,
          "prefill " + std::to_string(pool_.prefill) + "->" + std::to_string(d_.desired_prefill) +
              ", decode " + std::to_string(pool_.decode) + "->" +
              std::to_string(d_.desired_decode) + " (" + std::to_string(r_.prefill) + ":" +
              std::to_string(r_.decode) + ")");
    d_.stages.back().prefill = d_.desired_prefill;
    if (d_.direction == Direction::kOut) mem_.last_out = now_;
    if (d_.direction == Direction::kIn) mem_.last_in = now_;
  }

  const ServiceConfig& c_;
  const Signals& sig_;
  const PoolState& pool_;
  const TimePoint now_;
  PolicyMemory& mem_;
  const bool paper_;
  const Scaling& sc_;
  const Ratio r_;
  Decision d_;
  const std::optional<ScheduleEntry> entry_;
  bool exact_ = false;
  uint32_t cur_ = 0, units_ = 0;
  double capacity_ = 0, tps_per_unit_ = 0;
  uint32_t deficit_ = 0;                  // units a deficit-sized increase asks for (0: none)
  std::optional<uint32_t> need_prefill_;  // prefill instances the demand stage found needed
  std::optional<uint32_t> prefill_;       // set by the ratio band stage
  uint32_t guard_floor_ = 0;              // units the latency guard asks for at least (0: none)
  uint32_t prefill_floor_ = 0;  // prefill the latency guard asks for in the ratio band (0: none)
  bool can_scale_in_ = true;
};

}  // namespace

Decision HeteroScalePolicy::decide(const ServiceConfig& c, const Signals& sig,
                                   const PoolState& pool, TimePoint now, int64_t wall,
                                   PolicyMemory& mem) const {
  return Pipeline(c, sig, pool, now, wall, mem, paper_, name()).run();
}

}  // namespace hs::scaler
