// The autoscaler's view of the simulation: engines scraped as vLLM exports them, the
// router's per-group latency histograms, each tick's figures, and the run's totals.
#include <algorithm>
#include <cstdint>

#include "hs/scaler/engine_metrics.h"
#include "hs/scaler/signals.h"
#include "sim.h"

namespace hs::sim {

using scaler::Role;

namespace {

TimePoint vt(double s) { return TimePoint{} + from_seconds(s); }

double p99(std::vector<double>& v) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(0.99 * (v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

template <class Samples>
void drop_before(Samples& s, TimePoint t) {
  auto keep = std::find_if(s.begin(), s.end(), [&](const auto& x) { return !(x.t < t); });
  s.erase(s.begin(), keep);
}

}  // namespace

void Sim::scrape() {
  double keep = to_seconds(svc_.scaling.window) + 3 * o_.scrape_s;
  for (uint32_t id : live_) {
    Inst& in = insts_[id];
    if (!in.ready) continue;
    scaler::InstanceSample x;
    x.t = vt(now_);
    double busy = in.busy_time + (in.busy_since >= 0 ? now_ - in.busy_since : 0);
    x.gpu_util = std::min(1.0, (busy - in.busy_at_scrape) / o_.scrape_s);
    in.busy_at_scrape = busy;
    if (in.role == Role::kDecode) {
      x.generation_tokens = in.generated_at(now_);
      x.waiting = static_cast<double>(in.waiting.size() - in.waiting_abandoned);
      x.running = in.b();
    } else {
      x.prompt_tokens = in.prompt_total;
      x.waiting = static_cast<double>(in.queue.size() - in.queue_abandoned);
      x.running = static_cast<double>(in.batch.size());
    }
    in.series.samples.push_back(x);
    drop_before(in.series.samples, vt(now_ - keep));
  }
  for (auto& [g, h] : hist_) {
    auto& s = group_series_[g];
    s.group = group_names_[g];
    s.samples.push_back(
        {vt(now_), scaler::signal_histogram(h.first), scaler::signal_histogram(h.second)});
    drop_before(s.samples, vt(now_ - keep));
  }
  offered_series_.source = "sim-router";
  offered_series_.samples.push_back({vt(now_), offered_.requests(), offered_.prompt_tokens(),
                                     offered_.decode_tokens(), offered_.backlog_prompt_tokens(),
                                     offered_.backlog_requests()});
  drop_before(offered_series_.samples, vt(now_ - keep));
}

// The tick's figures, from the Controller's status: its decision (or the counts it holds
// at), what it did, and the latencies of the requests that finished in the tick.
void Sim::record_tick(const scaler::Signals& sig, bool changed_slurm) {
  const scaler::ServiceStatus& st = ctl_->status().at(svc_.name);
  const scaler::Decision& d = st.decision;
  res_.scaling_actions += changed_slurm;
  auto keep = [&](const std::string& line, bool notable) {
    if (o_.keep_decisions && (notable || res_.decisions.size() < o_.keep_decisions / 2) &&
        res_.decisions.size() < o_.keep_decisions)
      res_.decisions.push_back("t=" + std::to_string(static_cast<int64_t>(now_)) + " " + line);
  };
  if (st.decided) {
    keep(d.to_log_line(), d.direction != scaler::Direction::kHold);
    auto& si = res_.scale_ins;
    if (d.direction == scaler::Direction::kIn) {
      ++si.total;
      si.under_breach += std::max(sig.ttft.tier, sig.tbt.tier) >= 0;
      si.with_waiting += (!scaler::missing(sig.prefill_waiting) && sig.prefill_waiting >= 1) ||
                         (!scaler::missing(sig.decode_waiting) && sig.decode_waiting >= 1);
    }
    for (const auto& stage : d.stages)
      si.refused += stage.stage == "safety" && stage.reason.rfind("scale-in refused", 0) == 0;
  }
  for (const auto& a : st.actions) keep("action " + a, true);
  SeriesPoint p;
  p.t = now_;
  p.arrivals_per_s = static_cast<double>(tick_arrivals_) / o_.tick_s;
  tick_arrivals_ = 0;
  p.decode_tps = scaler::missing(sig.decode_tps) ? 0 : sig.decode_tps;
  uint32_t target[2] = {0, 0};
  for (const auto& [g, roles] : st.counts)
    for (const auto& [role, tr] : roles) {
      bool prefill = role == to_string(Role::kPrefill);
      target[prefill ? 0 : 1] += tr.first;
      (prefill ? p.ready_prefill : p.ready_decode) += tr.second;
    }
  p.prefill = st.decided ? d.desired_prefill : target[0];
  p.decode = st.decided ? d.desired_decode : target[1];
  p.ttft_p99_s = p99(tick_ttft_);
  p.tbt_p99_s = p99(tick_tbt_);
  p.decision = std::string(scaler::to_string(st.decided ? d.direction : scaler::Direction::kHold));
  tick_ttft_.clear();
  tick_tbt_.clear();
  res_.series.push_back(p);
}

void Sim::finish() {
  double alloc = 0, busy = 0;
  for (auto& in : insts_) {
    double end = in.gone ? in.removed : end_;
    if (!in.gone) set_busy(in, false);
    double h = in.gpus * (end - in.created) / 3600.0;
    res_.gpu_hours += h;
    res_.gpu_hours_by_role[std::string(scaler::to_string(in.role))] += h;
    res_.gpu_hours_by_type[in.gpu] += h;
    alloc += in.gpus * (end - in.created);
    busy += in.gpus * in.busy_time;
  }
  res_.gpu_busy_fraction = alloc > 0 ? busy / alloc : 0;
  res_.unfinished = reqs_.live() - abandoned_held_;
  res_.ttft_p50_s = ttft_.quantile(0.5);
  res_.ttft_p99_s = ttft_.quantile(0.99);
  res_.tbt_p50_s = tbt_.quantile(0.5);
  res_.tbt_p99_s = tbt_.quantile(0.99);
  res_.percentiles_exact = ttft_.exact() && tbt_.exact();
  double n = res_.requests ? static_cast<double>(res_.requests) : 1;
  res_.slo_ttft = static_cast<double>(ok_ttft_) / n;
  res_.slo_tbt = static_cast<double>(ok_tbt_) / n;
  res_.slo_both = static_cast<double>(ok_both_) / n;
  size_t feasible = res_.requests - res_.infeasible_prefill;
  double nf = feasible ? static_cast<double>(feasible) : 1;
  res_.slo_ttft_feasible = static_cast<double>(ok_ttft_feasible_) / nf;
  res_.slo_tbt_feasible = static_cast<double>(ok_tbt_feasible_) / nf;
  res_.slo_both_feasible = static_cast<double>(ok_both_feasible_) / nf;
}

}  // namespace hs::sim
