#include "hs/scaler/signals.h"

#include <algorithm>
#include <set>

namespace hs::scaler {

double counter_increase(const std::vector<std::pair<TimePoint, double>>& s) {
  double inc = 0;
  int valid = 0;
  double prev = kMissing;
  for (const auto& [t, v] : s) {
    if (missing(v) || v < 0) continue;
    if (!missing(prev)) inc += v >= prev ? v - prev : v;  // a drop: the counter restarted
    prev = v;
    ++valid;
  }
  return valid >= 2 ? inc : kMissing;
}

Histogram histogram_delta(const Histogram& a, const Histogram& b) {
  // The bucket totals, not the optional _count series, tell whether the engine restarted.
  double ta = a.cumulative.empty() ? 0 : a.cumulative.back();
  double tb = b.cumulative.empty() ? 0 : b.cumulative.back();
  if (a.upper_bounds != b.upper_bounds || tb < ta) return b;
  Histogram d = b;
  for (size_t i = 0; i < d.cumulative.size(); ++i)
    d.cumulative[i] = std::max(0.0, b.cumulative[i] - a.cumulative[i]);
  d.count = b.count - a.count;
  d.sum = b.sum - a.sum;
  return d;
}

bool histogram_add(Histogram& a, const Histogram& b) {
  if (a.upper_bounds.empty()) {
    a = b;
    return true;
  }
  if (a.upper_bounds != b.upper_bounds) return false;
  for (size_t i = 0; i < a.cumulative.size(); ++i) a.cumulative[i] += b.cumulative[i];
  a.count += b.count;
  a.sum += b.sum;
  return true;
}

double histogram_quantile(double q, const Histogram& h) {
  if (h.cumulative.empty()) return kMissing;
  double total = h.cumulative.back();
  if (total <= 0) return kMissing;
  double rank = q * total;
  for (size_t i = 0; i < h.cumulative.size(); ++i) {
    if (h.cumulative[i] >= rank) {
      if (std::isinf(h.upper_bounds[i])) return i > 0 ? h.upper_bounds[i - 1] : kMissing;
      double lo = i == 0 ? 0.0 : h.upper_bounds[i - 1];
      double below = i == 0 ? 0.0 : h.cumulative[i - 1];
      double in = h.cumulative[i] - below;
      if (in <= 0) return h.upper_bounds[i];
      return lo + (h.upper_bounds[i] - lo) * (rank - below) / in;
    }
  }
  return h.upper_bounds.size() >= 2 ? h.upper_bounds[h.upper_bounds.size() - 2] : kMissing;
}

double fraction_above(const Histogram& h, double edge) {
  if (h.cumulative.empty() || h.cumulative.back() <= 0) return kMissing;
  for (size_t i = 0; i < h.upper_bounds.size(); ++i) {
    if (h.upper_bounds[i] >= edge)
      return (h.cumulative.back() - h.cumulative[i]) / h.cumulative.back();
  }
  return 0;
}

namespace {

constexpr double kMinObservations = 20;

// Samples of one instance inside (now - window, now], if its newest is fresh.
std::vector<const InstanceSample*> fresh_samples(const InstanceSeries& s, TimePoint now,
                                                 Duration window, Duration stale_after,
                                                 bool* stale) {
  std::vector<const InstanceSample*> out;
  *stale = s.samples.empty() || now - s.samples.back().t > stale_after;
  if (*stale) return out;
  for (const auto& x : s.samples)
    if (x.t > now - window && x.t <= now) out.push_back(&x);
  return out;
}

template <typename Sample, typename Get>
double rate_of(const std::vector<const Sample*>& xs, Get get) {
  if (xs.size() < 2) return kMissing;
  std::vector<std::pair<TimePoint, double>> series;
  for (const auto* x : xs) series.emplace_back(x->t, get(*x));
  // Span between the first and last valid samples.
  TimePoint first{}, last{};
  bool any = false;
  for (const auto& [t, v] : series) {
    if (missing(v)) continue;
    if (!any) first = t;
    last = t;
    any = true;
  }
  double inc = counter_increase(series);
  double span = to_seconds(last - first);
  if (missing(inc) || span <= 0) return kMissing;
  return inc / span;
}

LatencySignal latency_signal(const MetricsWindow& w, bool ttft, const ServiceConfig& c,
                             TimePoint now, std::vector<std::string>& notes) {
  LatencySignal s;
  Histogram all, early, late;
  TimePoint mid = now - c.scaling.window / 2;
  for (const auto& g : w.groups) {
    std::vector<const GroupLatencySample*> in;
    for (const auto& x : g.samples)
      if (x.t > now - c.scaling.window && x.t <= now) in.push_back(&x);
    if (in.size() < 2) continue;
    if (now - in.back()->t > c.scaling.stale_after) {
      notes.push_back("group " + g.group + " latency stale");
      continue;
    }
    auto h = [&](const GroupLatencySample* x) -> const Histogram& {
      return ttft ? x->ttft : x->tbt;
    };
    const GroupLatencySample* m = in.front();
    for (const auto* x : in)
      if (x->t <= mid) m = x;
    bool ok = histogram_add(all, histogram_delta(h(in.front()), h(in.back())));
    if (m != in.front()) ok = histogram_add(early, histogram_delta(h(in.front()), h(m))) && ok;
    if (m != in.back()) ok = histogram_add(late, histogram_delta(h(m), h(in.back()))) && ok;
    if (!ok)
      notes.push_back("group " + g.group + " has different " + (ttft ? "TTFT" : "TBT") +
                      " buckets; skipped");
  }
  s.observations = all.cumulative.empty() ? 0 : all.cumulative.back();
  s.known = s.observations >= kMinObservations;
  if (!s.known) return s;
  double q = c.slo.percentile;
  double slo = ttft ? c.slo.ttft_s : c.slo.tbt_s;
  s.quantile_s = histogram_quantile(q, all);
  s.p90_s = histogram_quantile(0.9, all);
  for (const auto& tier : c.scaling.guard) {
    double target = tier.slo_factor * slo;
    double edge = all.upper_bounds.back();
    for (double b : all.upper_bounds)
      if (b >= target - 1e-12) {
        edge = b;
        break;
      }
    double above = fraction_above(all, edge);
    bool breached = !std::isinf(edge) && !missing(above) && above > 1.0 - q + 1e-12;
    s.tier_edge_s.push_back(edge);
    s.tier_breached.push_back(breached);
    if (breached) s.tier = static_cast<int>(s.tier_breached.size()) - 1;
  }
  double eo = early.cumulative.empty() ? 0 : early.cumulative.back();
  double lo = late.cumulative.empty() ? 0 : late.cumulative.back();
  if (eo >= kMinObservations / 2 && lo >= kMinObservations / 2) {
    s.early_quantile_s = histogram_quantile(q, early);
    s.late_quantile_s = histogram_quantile(q, late);
    // A rise matters only on the way to the SLO: far below it, a quantile hopping one bucket
    // (observations sitting on a bucket edge) must not veto a scale-in.
    s.rising = s.late_quantile_s > s.early_quantile_s * (1.0 + c.scaling.ttft_rise) &&
               s.late_quantile_s > 0.5 * slo;
  }
  return s;
}

// The routers' offered load: counter rates over the window summed across routers, backlog
// gauges at their newest sample. Unknown when no router reports it fresh (a stale or silent
// router would under-count demand, and demand is what scale-in is checked against).
OfferedSignal offered_signal(const std::vector<OfferedSeries>& routers, const ServiceConfig& c,
                             TimePoint now) {
  OfferedSignal o;
  if (routers.empty()) return o;
  double rps = 0, ptps = 0, dtps = 0, bp = 0, br = 0, ptps_r = 0, dtps_r = 0;
  for (const auto& r : routers) {
    std::vector<const OfferedSample*> xs;
    for (const auto& x : r.samples)
      if (x.t > now - c.scaling.window && x.t <= now) xs.push_back(&x);
    if (xs.size() < 2 || now - xs.back()->t > c.scaling.stale_after) return o;
    double a = rate_of(xs, [](const OfferedSample& x) { return x.requests; });
    double p = rate_of(xs, [](const OfferedSample& x) { return x.prompt_tokens; });
    double d = rate_of(xs, [](const OfferedSample& x) { return x.decode_tokens; });
    if (missing(a) || missing(p) || missing(d)) return o;
    rps += a, ptps += p, dtps += d;
    std::vector<const OfferedSample*> late;
    for (const auto* x : xs)
      if (x->t > now - c.scaling.window / 4) late.push_back(x);
    if (late.size() < 2) late.assign(xs.end() - 2, xs.end());
    double pr = rate_of(late, [](const OfferedSample& x) { return x.prompt_tokens; });
    double dr = rate_of(late, [](const OfferedSample& x) { return x.decode_tokens; });
    ptps_r += missing(pr) ? p : pr;
    dtps_r += missing(dr) ? d : dr;
    bp += missing(xs.back()->backlog_prompt_tokens) ? 0 : xs.back()->backlog_prompt_tokens;
    br += missing(xs.back()->backlog_requests) ? 0 : xs.back()->backlog_requests;
  }
  o.known = true;
  o.rps = rps;
  o.prompt_tps = ptps;
  o.decode_tps = dtps;
  o.prompt_tps_recent = ptps_r;
  o.decode_tps_recent = dtps_r;
  o.backlog_prompt_tokens = bp;
  o.backlog_requests = br;
  return o;
}

}  // namespace

Signals compute_signals(const MetricsWindow& w, const ServiceConfig& c, TimePoint now,
                        const std::vector<std::string>& expected_decode,
                        const std::map<std::string, double>* decode_target_by_group) {
  auto target_of = [&](const InstanceSeries& inst) {
    if (decode_target_by_group)
      if (auto it = decode_target_by_group->find(inst.group); it != decode_target_by_group->end())
        return it->second;
    return inst.decode_tps_target;
  };
  Signals s;
  s.now = now;
  const Duration window = c.scaling.window, stale = c.scaling.stale_after;
  const TimePoint mid = now - window / 2;
  std::set<std::string> expected(expected_decode.begin(), expected_decode.end());
  std::set<std::string> reporting;
  double decode_tps = 0, early_tps = 0, late_tps = 0, pf_tps = 0, pf_comp = 0, pf_wait = 0,
         d_wait = 0, d_run = kMissing;
  double pf_wait_early = 0, pf_wait_late = 0, util_p = 0, util_d = 0;
  size_t n_util_p = 0, n_util_d = 0, early_n = 0, late_n = 0;
  bool any_pf_tps = false, any_pf_comp = false, any_pf_wait = false, any_d_wait = false,
       pf_trend = false;
  for (const auto& inst : w.instances) {
    bool is_stale = false;
    auto xs = fresh_samples(inst, now, window, stale, &is_stale);
    if (is_stale) {
      if (!inst.samples.empty())
        s.notes.push_back(
            "instance " + inst.id + " stale (last sample " +
            std::to_string(static_cast<int>(to_seconds(now - inst.samples.back().t))) + " s old)");
      continue;
    }
    bool decode = inst.role != Role::kPrefill;
    bool prefill = inst.role != Role::kDecode;
    double util_sum = 0;
    size_t util_n = 0;
    for (const auto* x : xs)
      if (!missing(x->gpu_util)) {
        util_sum += x->gpu_util;
        ++util_n;
      }
    if (decode) {
      double r = rate_of(xs, [](const InstanceSample& x) { return x.generation_tokens; });
      if (!missing(r)) {
        decode_tps += r;
        s.decode_capacity_reporting += target_of(inst);
        reporting.insert(inst.id);
        std::vector<const InstanceSample*> a, b;
        for (const auto* x : xs) (x->t <= mid ? a : b).push_back(x);
        if (!a.empty() && !b.empty()) a.push_back(b.front());  // halves share the middle sample
        double ra = rate_of(a, [](const InstanceSample& x) { return x.generation_tokens; });
        double rb = rate_of(b, [](const InstanceSample& x) { return x.generation_tokens; });
        if (!missing(ra)) early_tps += ra, ++early_n;
        if (!missing(rb)) late_tps += rb, ++late_n;
      }
      if (!xs.empty() && !missing(xs.back()->waiting))
        d_wait += xs.back()->waiting, any_d_wait = true;
      if (!xs.empty() && !missing(xs.back()->running))
        d_run = (missing(d_run) ? 0 : d_run) + xs.back()->running;
      if (util_n) util_d += util_sum / util_n, ++n_util_d;
    }
    if (prefill) {
      double r = rate_of(xs, [](const InstanceSample& x) { return x.prompt_tokens; });
      if (!missing(r)) pf_tps += r, any_pf_tps = true;
      double cached = rate_of(xs, [](const InstanceSample& x) { return x.prompt_tokens_cached; });
      if (!missing(r) && !missing(cached)) pf_comp += std::max(0.0, r - cached), any_pf_comp = true;
      if (!xs.empty() && !missing(xs.back()->waiting)) {
        pf_wait += xs.back()->waiting;
        any_pf_wait = true;
        ++s.prefill_reporting;
        double e = 0, l = 0;
        size_t ne = 0, nl = 0;
        for (const auto* x : xs) {
          if (missing(x->waiting)) continue;
          if (x->t <= mid)
            e += x->waiting, ++ne;
          else
            l += x->waiting, ++nl;
        }
        if (ne && nl) {
          pf_wait_early += e / ne;
          pf_wait_late += l / nl;
          pf_trend = true;
        }
      }
      if (util_n) util_p += util_sum / util_n, ++n_util_p;
    }
  }
  s.decode_expected = expected.size();
  for (const auto& id : expected) {
    if (!reporting.count(id)) {
      for (const auto& inst : w.instances)
        if (inst.id == id) s.decode_capacity_missing += target_of(inst);
    }
  }
  s.decode_reporting = 0;
  for (const auto& id : reporting)
    s.decode_reporting += expected.empty() || expected.count(id) ? 1 : 0;
  s.coverage = s.decode_expected == 0 ? (reporting.empty() ? 0.0 : 1.0)
                                      : static_cast<double>(s.decode_reporting) /
                                            static_cast<double>(s.decode_expected);
  s.decode_known = !reporting.empty() && s.coverage >= c.scaling.min_coverage;
  if (!reporting.empty()) s.decode_tps = decode_tps;
  if (early_n) s.decode_tps_early = early_tps;
  if (late_n) s.decode_tps_late = late_tps;
  if (any_pf_tps) s.prefill_tps = pf_tps;
  if (any_pf_comp) s.prefill_tps_computed = pf_comp;
  if (any_pf_wait) s.prefill_waiting = pf_wait;
  if (any_d_wait) s.decode_waiting = d_wait;
  s.decode_running = d_run;
  s.prefill_queue_growing = pf_trend && pf_wait_late >= 1.0 &&
                            pf_wait_late > pf_wait_early + std::max(0.5, 0.1 * pf_wait_early);
  if (n_util_p) s.prefill_gpu_util = util_p / n_util_p;
  if (n_util_d) s.decode_gpu_util = util_d / n_util_d;
  s.ttft = latency_signal(w, true, c, now, s.notes);
  s.tbt = latency_signal(w, false, c, now, s.notes);
  s.offered = offered_signal(w.offered, c, now);
  return s;
}

}  // namespace hs::scaler
