// From a window of samples to the numbers the policies use. Pure and deterministic.
//  - Counter rates are reset-safe (a drop means the engine restarted: the new value is the
//    increase since), over each instance's samples inside the window.
//  - Latency quantiles come from bucket-count deltas over the window summed across groups —
//    never averages of per-instance quantiles — and guard tiers are checked on bucket edges.
//  - Staleness and coverage are attached; stale instances are not counted.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "hs/scaler/metrics.h"
#include "hs/scaler/service_config.h"

namespace hs::scaler {

struct LatencySignal {
  bool known = false;  // enough observations in the window
  double observations = 0;
  double quantile_s = kMissing;  // the SLO percentile, interpolated inside its bucket
  double p90_s = kMissing;       // the 90th percentile (llm-d's SLO-aware signal reads it)
  double early_quantile_s = kMissing, late_quantile_s = kMissing;  // window halves
  bool rising = false;  // late half above early half by Scaling::ttft_rise
  // Per guard tier: the bucket edge used (the smallest edge >= slo_factor x SLO) and whether
  // more than (1 - percentile) of observations were above it.
  std::vector<double> tier_edge_s;
  std::vector<bool> tier_breached;
  int tier = -1;  // highest breached tier, or -1
};

// Demand as the routers see it (common/router_metrics.h), summed over the service's routers:
// known only when every router reports fresh offered-load samples over the window.
struct OfferedSignal {
  bool known = false;
  double rps = kMissing;         // requests arriving per second
  double prompt_tps = kMissing;  // prompt tokens arriving per second (all, before any cache)
  double decode_tps = kMissing;  // output tokens the arrivals will ask of decode, per second
  // The same two over the window's last quarter (at least two samples): a step in demand shows
  // here one scrape after it, where the whole window's rate takes a window to follow.
  double prompt_tps_recent = kMissing, decode_tps_recent = kMissing;
  double backlog_prompt_tokens = kMissing;  // prompt tokens whose prefill has not answered
  double backlog_requests = kMissing;
};

struct Signals {
  TimePoint now;
  // Decode throughput (tokens/s) of the instances that reported fresh samples.
  bool decode_known = false;
  double decode_tps = kMissing;
  double decode_capacity_reporting = 0;  // sum of reporting decode instances' targets
  double decode_capacity_missing = 0;    // sum of expected-but-silent decode instances' targets
  size_t decode_reporting = 0, decode_expected = 0;
  double coverage = 0;  // decode_reporting / decode_expected (1 when none expected)
  double decode_tps_early = kMissing, decode_tps_late = kMissing;  // window halves
  // Prefill throughput: all prompt tokens, and the ones actually computed (cache misses).
  double prefill_tps = kMissing;
  double prefill_tps_computed = kMissing;
  // Queues (sum over fresh instances, latest sample) and whether the prefill queue grows.
  double prefill_waiting = kMissing, decode_waiting = kMissing;
  double decode_running = kMissing;  // sequences in the decode batches (latest sample, summed)
  bool prefill_queue_growing = false;
  size_t prefill_reporting = 0;
  // Mean GPU utilization per role (0..1), for the HPA baseline.
  double prefill_gpu_util = kMissing, decode_gpu_util = kMissing;
  LatencySignal ttft, tbt;
  OfferedSignal offered;
  std::vector<std::string> notes;  // e.g. "instance 12_3 stale (last sample 95 s old)"
};

// `expected_decode` lists the decode instances the scaler believes ready (from Slurm and
// registrations); silent ones count against coverage. Minimum observations for a latency
// signal: 20 in the window. `decode_target_by_group` rates each decode instance at its
// deployment group's variant target (the Controller fills it from Slurm's view); without an
// entry the series' own decode_tps_target is used.
Signals compute_signals(const MetricsWindow& w, const ServiceConfig& config, TimePoint now,
                        const std::vector<std::string>& expected_decode,
                        const std::map<std::string, double>* decode_target_by_group = nullptr);

// Helpers, exposed for tests.
// Increase of a counter over samples (reset-safe); NaN if fewer than two valid samples.
double counter_increase(const std::vector<std::pair<TimePoint, double>>& series);
// Bucket-wise difference later - earlier (a count that fell means a reset: take `later`).
Histogram histogram_delta(const Histogram& earlier, const Histogram& later);
// Prometheus histogram_quantile: linear inside the bucket; the +Inf bucket returns the last
// finite bound. NaN when the histogram is empty.
double histogram_quantile(double q, const Histogram& h);
// Fraction of observations above the bucket edge `edge` (which must be one of the bounds).
double fraction_above(const Histogram& h, double edge);
// Adds b's buckets into a (same bounds required; returns false otherwise).
bool histogram_add(Histogram& a, const Histogram& b);

}  // namespace hs::scaler
