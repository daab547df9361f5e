// Peers' published control laws as hs-sim baselines (policy.h names the sources): llm-d's
// SLO-aware law and Dynamo's load-based planner. Each sizes the two pools on its own; the
// Controller then holds a group's pools to whole units of its ratio, as for the HPA baselines.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "hs/scaler/policy.h"
#include "policy_detail.h"

namespace hs::scaler {

using detail::begin_decision;
using detail::num;

namespace {

constexpr int kP = 0, kD = 1;

// The decision for per-pool counts, with one stage per pool.
Decision per_pool(std::string_view policy, const ServiceConfig& c, const Signals& sig,
                  const PoolState& pool, TimePoint now, uint32_t p, uint32_t d, std::string why_p,
                  std::string why_d) {
  Decision out = begin_decision(policy, c, sig, pool, now);
  out.desired_prefill = p;
  out.desired_decode = d;
  out.stages.push_back({"prefill", p, pool.decode, std::move(why_p)});
  out.stages.push_back({"decode", p, d, std::move(why_d)});
  int64_t delta = static_cast<int64_t>(p + d) - static_cast<int64_t>(pool.prefill + pool.decode);
  out.direction = delta > 0 ? Direction::kOut : delta < 0 ? Direction::kIn : Direction::kHold;
  return out;
}

// Latency / SLO at P90, clamped at 2; 0 without enough traffic (the guide's NaN -> 0).
double slo_ratio(const LatencySignal& l, double slo) {
  if (!l.known || missing(l.p90_s) || slo <= 0) return 0;
  return std::min(l.p90_s / slo, 2.0);
}

// HPA's behaviour from the llm-d guide: the recommendation `raw` for a pool of `n`, after the
// up (lowest of 30 s, at most max(2n, n + 4), once per 60 s) and down (highest of 180 s, one
// instance per 120 s) rules. `role` indexes the per-role memory.
uint32_t hpa_behaviour(uint32_t n, uint32_t raw, int role, TimePoint now, PolicyMemory& mem,
                       std::string& why) {
  using std::chrono::seconds;
  uint32_t lo = raw, hi = raw;
  for (const auto& r : mem.recs) {
    uint32_t v = role == kP ? r.prefill : r.decode;
    if (r.t >= now - seconds(30)) lo = std::min(lo, v);
    if (r.t >= now - seconds(180)) hi = std::max(hi, v);
  }
  uint32_t d = n;
  if (raw > n) {
    d = std::max(n, lo);
    if (mem.last_out_role[role] && now - *mem.last_out_role[role] < seconds(60)) {
      d = n;
      why += "; up-rate: one step per 60 s";
    }
    d = std::min(d, std::max(2 * n, n + 4));
  } else if (raw < n) {
    d = std::min(n, hi);
    if (d < n) d = n - 1;
    if (mem.last_in_role[role] && now - *mem.last_in_role[role] < seconds(120)) {
      d = n;
      why += "; down-rate: one instance per 120 s";
    }
  }
  if (d > n) mem.last_out_role[role] = now;
  if (d < n) mem.last_in_role[role] = now;
  return d;
}

void remember(PolicyMemory& mem, TimePoint now, uint32_t p, uint32_t d, std::chrono::seconds keep) {
  mem.recs.push_back({now, p, d});
  while (!mem.recs.empty() && mem.recs.front().t < now - keep) mem.recs.pop_front();
}

}  // namespace

Decision LlmdSloPolicy::decide(const ServiceConfig& c, const Signals& sig, const PoolState& pool,
                               TimePoint now, int64_t, PolicyMemory& mem) const {
  const double ttft = slo_ratio(sig.ttft, c.slo.ttft_s), tpot = slo_ratio(sig.tbt, c.slo.tbt_s);
  const double both = std::max(ttft, tpot);
  mem.obs.push_back({now, {per_role_ ? ttft : both, per_role_ ? tpot : both}, {0, 0}});
  while (!mem.obs.empty() && mem.obs.front().t <= now - std::chrono::seconds(45))
    mem.obs.pop_front();
  uint32_t raw[2], n[2] = {pool.prefill, pool.decode},
                   r[2] = {pool.ready_prefill, pool.ready_decode};
  std::string why[2];
  for (int k : {kP, kD}) {
    double s = 0;
    for (const auto& o : mem.obs) s += o.x[k];
    s /= static_cast<double>(mem.obs.size());
    double cr = r[k] > 0 && r[k] < n[k] ? static_cast<double>(r[k]) / n[k] : 1.0;
    raw[k] = n[k];
    if (s > 0.55)
      raw[k] = std::max<uint32_t>(
          n[k], n[k] + static_cast<uint32_t>(std::max(0.0, std::ceil(n[k] * (s * cr / 0.55 - 1)))));
    else if (s < 0.40)
      raw[k] = n[k] - static_cast<uint32_t>(std::floor(n[k] * (1 - s / 0.40)));
    why[k] = "s " + num(s, 2) + " (credit " + num(cr, 2) + ") -> " + std::to_string(raw[k]);
  }
  uint32_t p = hpa_behaviour(n[kP], raw[kP], kP, now, mem, why[kP]);
  uint32_t d = hpa_behaviour(n[kD], raw[kD], kD, now, mem, why[kD]);
  remember(mem, now, raw[kP], raw[kD], std::chrono::seconds(180));
  p = std::clamp(p, c.min_prefill, c.max_prefill);
  d = std::clamp(d, c.min_decode, c.max_decode);
  return per_pool(name(), c, sig, pool, now, p, d, why[kP], why[kD]);
}

Decision DynamoLoadPolicy::decide(const ServiceConfig& c, const Signals& sig, const PoolState& pool,
                                  TimePoint now, int64_t, PolicyMemory& mem) const {
  constexpr size_t kMinObs = 5, kKeep = 40;
  const uint32_t n[2] = {pool.prefill, pool.decode};
  const uint32_t r[2] = {pool.ready_prefill, pool.ready_decode};
  const double slo[2] = {c.slo.ttft_s, c.slo.tbt_s};
  // Per-instance load and latency this tick (NaN when not measured).
  double x[2] = {r[kP] > 0 && !missing(sig.prefill_tps) ? sig.prefill_tps / r[kP] : kMissing,
                 r[kD] > 0 && sig.decode_known ? sig.decode_tps / r[kD] : kMissing};
  double y[2] = {sig.ttft.known ? sig.ttft.quantile_s : kMissing,
                 sig.tbt.known ? sig.tbt.quantile_s : kMissing};
  mem.obs.push_back({now, {x[0], x[1]}, {y[0], y[1]}});
  while (mem.obs.size() > kKeep) mem.obs.pop_front();
  uint32_t out[2];
  std::string why[2];
  for (int k : {kP, kD}) {
    out[k] = n[k];
    double sx = 0, sy = 0, sxx = 0, sxy = 0, m = 0;
    for (const auto& o : mem.obs) {
      if (missing(o.x[k]) || missing(o.y[k])) continue;
      sx += o.x[k], sy += o.y[k], sxx += o.x[k] * o.x[k], sxy += o.x[k] * o.y[k], m += 1;
    }
    if (m < kMinObs || missing(x[k])) {
      why[k] = "hold: " + num(m, 0) + " observations (need " + std::to_string(kMinObs) + ")";
      continue;
    }
    double var = m * sxx - sx * sx;
    double b = var > 1e-12 ? (m * sxy - sx * sy) / var : 0, a = (sy - b * sx) / m;
    double now_pred = a + b * x[k];
    if (now_pred > slo[k]) {
      out[k] = n[k] + 1;
      why[k] = "predicted " + num(now_pred, 3) + " s > SLO " + num(slo[k], 3) + " s: +1";
    } else if (n[k] > 1) {
      double after = a + b * x[k] * n[k] / (n[k] - 1);
      if (after < 0.8 * slo[k]) out[k] = n[k] - 1;
      why[k] = "predicted at N/(N-1) " + num(after, 3) + " s vs 80% of SLO " +
               num(0.8 * slo[k], 3) + " s" + (out[k] < n[k] ? ": -1" : ": hold");
    } else {
      why[k] = "predicted " + num(now_pred, 3) + " s within SLO";
    }
  }
  uint32_t p = std::clamp(out[kP], c.min_prefill, c.max_prefill);
  uint32_t d = std::clamp(out[kD], c.min_decode, c.max_decode);
  return per_pool(name(), c, sig, pool, now, p, d, why[kP], why[kD]);
}

}  // namespace hs::scaler
