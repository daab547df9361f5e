// A discrete-event simulation of one service's P/D fleet on a switch-tree cluster, with
// heteroscaled's Controller (policy, placement, reconciliation, actuation) driving a
// simulated Slurm on a virtual clock.
//
// Model: requests arrive; the router sends each to the prefill instance with the fewest
// queued tokens; prefill batches FCFS up to a token budget (time from the GPU's profile);
// the KV cache moves to the least-loaded decode instance of the same deployment group at the
// bandwidth of their fabric distance; decode runs continuous batching limited by batch size
// and KV capacity (a request reserves prompt + output tokens when admitted), with step time
// d0 + d1*b + d2*C. Between batch changes, decode iterations are not stepped one by one:
// their times form an arithmetic series, so the simulator jumps to the next finish or
// admission boundary. Engines are scraped every `scrape_s` (counters and gauges as vLLM
// exports them), the router keeps per-group TTFT/TBT histograms with vLLM's buckets, and
// every `tick_s` heteroscaled's Controller ticks on what the simulated Slurm (SimSlurm: arrays,
// throttles, queue wait, GPUs per node) and the engines show, and its ActionExecutor carries
// the actions out there; an instance runs while its Slurm task does, and the router follows
// the daemon's endpoint set (ratio gate and drain flags included).
// Deterministic for a seed; reads no wall clock except to report its own speed.
//
// Scale: requests are read from a stream as they arrive and only those in flight are held,
// so memory follows the load, not the length of the replay (two weeks of a large fleet run
// in a few hundred MB); the router's choices are O(log n) in the fleet's size.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/common/quantiles.h"
#include "hs/scaler/policy.h"
#include "hs/sim/cluster.h"
#include "hs/workload/profile.h"
#include "hs/workload/request.h"
#include "hs/workload/stream.h"

namespace hs::sim {

struct SimOptions {
  double tick_s = 15;
  double scrape_s = 5;
  double drain_s = 600;       // simulated time after the last arrival
  double max_duration_s = 0;  // 0: until the last arrival + drain_s
  uint32_t prefill_batch_tokens = 8192;
  bool zero_startup = false;  // instances ready the moment they are placed
  std::string model = "llama-8b";
  uint32_t initial_units = 0;  // 0: the service's min units
  // The simulated Slurm's and the policy's clock at the start (periodic schedules, drain
  // marks, time limits): Monday 2024-01-01 00:00 UTC.
  int64_t wall_start_utc = 1704067200;
  size_t keep_decisions = 0;  // how many decision log lines to keep (0: none)
  // A client gives up on a request without a first token after this long, and the engine
  // drops it (vLLM aborts a request whose client disconnected). The default is the OpenAI
  // Python SDK's (openai/_constants.py: DEFAULT_TIMEOUT 600 s; its retries are not modelled).
  // It bounds what an overloaded fleet holds. 0: clients wait for ever.
  double client_timeout_s = 600;
  // The daemon's daemon.drain_timeout_s: a drained instance still busy this long is cancelled
  // and what it holds is lost (the daemon's default).
  double drain_timeout_s = 120;
  // Called about every 1% of simulated time with the fraction done (0..1); may be empty.
  // A stream's end is known only when it is reached: progress is measured against
  // progress_end_s if set, else against max_duration_s; without either there is none.
  std::function<void(double)> progress;
  double progress_end_s = 0;
};

struct SeriesPoint {
  double t = 0;
  double arrivals_per_s = 0;
  double decode_tps = 0;
  uint32_t prefill = 0, decode = 0, ready_prefill = 0, ready_decode = 0;
  double ttft_p99_s = 0, tbt_p99_s = 0;  // of requests finishing in the tick
  std::string decision;
};

struct PolicyResult {
  std::string policy;
  double gpu_hours = 0;
  std::map<std::string, double> gpu_hours_by_role, gpu_hours_by_type;
  double gpu_busy_fraction = 0;
  double ttft_p50_s = 0, ttft_p99_s = 0, tbt_p50_s = 0, tbt_p99_s = 0;
  // Exact order statistics, or (past Quantiles' cap of completed requests) a sketch's within
  // kPercentileRelativeError.
  bool percentiles_exact = true;
  double slo_ttft = 0, slo_tbt = 0, slo_both = 0;  // fractions of all requests
  // Over the feasible requests only (hs/sim/feasibility.h), and how many were not: the
  // rejected (context) and those whose prefill alone exceeds the TTFT SLO.
  double slo_ttft_feasible = 0, slo_tbt_feasible = 0, slo_both_feasible = 0;
  size_t infeasible_requests = 0, infeasible_prefill = 0;
  // Ticks in which the daemon changed Slurm (a throttle, a drain mark, a cancel, a
  // submission): a decision the daemon cannot carry out (a per-pool policy's shrink of one
  // role, held in the group's ratio) changes nothing and is not counted.
  size_t scaling_actions = 0;
  size_t requests = 0, completed = 0, unfinished = 0;
  size_t abandoned = 0;  // clients gave up before a first token: SLO misses
  size_t rejected =
      0;  // longer than the model's context: refused at once (vLLM's 400), not in the SLO figures
  size_t cross_group_transfers = 0;
  // In flight on an instance whose Slurm task ended (a drain timeout, a time limit): failed,
  // and SLO misses like the abandoned.
  size_t lost = 0;
  size_t slurm_actions = 0, slurm_action_failures = 0;  // done by the daemon's ActionExecutor
  size_t max_in_flight = 0;                             // requests held at once
  // Scale-in decisions, and how many came while a latency tier was breached or requests
  // waited at an engine (the signals they were decided on); and those the safety stage refused.
  struct ScaleIns {
    size_t total = 0, under_breach = 0, with_waiting = 0, refused = 0;
  } scale_ins;
  std::vector<SeriesPoint> series;
  std::vector<std::string> decisions;
  double simulated_s = 0;
  double wall_s = 0;
};

inline constexpr double kPercentileRelativeError = Quantiles::kRelativeError;

// Runs one policy over the requests of a stream. Errors: a service variant without a profile
// for the model, a cluster that cannot hold the service's minimum, or the stream's own error
// (a bad trace row, naming file:line).
Result<PolicyResult> simulate(workload::RequestStream& requests,
                              const scaler::ServiceConfig& service, const Cluster& cluster,
                              const workload::ProfileSet& profiles, const scaler::Policy& policy,
                              const SimOptions& options);
Result<PolicyResult> simulate(const std::vector<workload::Request>& requests,
                              const scaler::ServiceConfig& service, const Cluster& cluster,
                              const workload::ProfileSet& profiles, const scaler::Policy& policy,
                              const SimOptions& options);

// The lower bounds every policy with the same tick is measured against: per tick, with perfect
// foresight and zero start-up, the fewest instances whose capacity covers the tokens arriving
// in that tick — output tokens at the calibrated decode target, prompt tokens at the prefill
// profile's throughput for full batches — summed into GPU-hours. `oracle` counts whole ratio
// units (what a fixed-ratio policy can reach); `oracle-split` sizes prefill and decode each on
// its own (within each role's bounds): the true lower bound. They serve no requests, so they
// have no latencies.
enum class OracleMode { kUnits, kSplit };
Result<PolicyResult> oracle(workload::RequestStream& requests, const scaler::ServiceConfig& service,
                            const workload::ProfileSet& profiles, const SimOptions& options,
                            OracleMode mode = OracleMode::kUnits);
Result<PolicyResult> oracle(const std::vector<workload::Request>& requests,
                            const scaler::ServiceConfig& service,
                            const workload::ProfileSet& profiles, const SimOptions& options,
                            OracleMode mode = OracleMode::kUnits);
// "oracle" or "oracle-split": a bound, not a policy that serves.
inline bool is_oracle(std::string_view policy) {
  return policy == "oracle" || policy == "oracle-split";
}

}  // namespace hs::sim
