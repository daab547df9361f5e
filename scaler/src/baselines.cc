// The simulator's baselines: per-pool HPA on utilization or queues, and a static size.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "hs/scaler/policy.h"
#include "policy_detail.h"

namespace hs::scaler {

using detail::begin_decision;
using detail::num;

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

}  // namespace hs::scaler
