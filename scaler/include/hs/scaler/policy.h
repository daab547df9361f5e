// Scaling policies: a pure function of (service config, signals, pool state, time, memory)
// to a decision. The daemon, hs-sim, the benchmarks and the tests call the same code; time
// comes in as arguments, never from a clock read here. State that must survive between ticks
// (recommendation history, last actions) lives in PolicyMemory, owned by the caller.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hs/scaler/service_config.h"
#include "hs/scaler/signals.h"

namespace hs::scaler {

// The service's pools as Slurm and the registrations show them.
struct PoolState {
  uint32_t prefill = 0;  // instances counted: running or pending, not draining
  uint32_t decode = 0;
  uint32_t ready_prefill = 0;
  uint32_t ready_decode = 0;
  uint32_t starting = 0;  // started (a throttle was raised) but not ready yet, both roles
  // Sum of the counted decode instances' own per-instance targets (mixed-variant pools);
  // 0 means "use decode x the preferred variant's target".
  double decode_capacity_tps = 0;
  // How long ago the newest counted instance became ready (a large value if long ago). New
  // instances first drain the backlog, so served decode tokens/s briefly exceeds the offered
  // load: no scale-out until they have been ready for half a signal window.
  Duration newest_ready_age = std::chrono::hours(24);
  // The same for prefill: counted prefill instances x their variant's prefill target (0 when
  // no variant has one calibrated).
  double prefill_capacity_tps = 0;
};

enum class Direction { kHold, kOut, kIn };
std::string_view to_string(Direction d);

struct StageResult {
  std::string stage;
  uint32_t prefill = 0;  // the counts after this stage
  uint32_t decode = 0;
  std::string reason;
};

struct Decision {
  std::string service;
  std::string policy;
  TimePoint at;
  uint32_t current_prefill = 0, current_decode = 0;
  uint32_t desired_prefill = 0, desired_decode = 0;
  Direction direction = Direction::kHold;
  std::vector<StageResult> stages;
  // The inputs it used, for the log line.
  double decode_tps = kMissing, coverage = 0, ttft_q = kMissing, tbt_q = kMissing,
         prefill_waiting = kMissing, decode_waiting = kMissing;
  // Served prefill and the routers' offered load (NaN when no router reports it).
  double prefill_tps = kMissing, offered_prompt_tps = kMissing, offered_decode_tps = kMissing,
         backlog_prompt_tokens = kMissing;
  // Prefill per unit over the calibrated ratio's (1 = the ratio; inside [1 - ratio_band,
  // 1 + ratio_band]): the P:D this decision chose, which the Controller grows new units at.
  double prefill_scale = 1;

  // One structured line: key=value pairs, reasons quoted. Stable field names.
  std::string to_log_line() const;
  // The stage that set the final counts' reason (the last stage that changed them, or the
  // last one if none did).
  const StageResult& deciding_stage() const;
};

// Carried by the caller from one decision to the next, per service.
struct PolicyMemory {
  struct Rec {
    TimePoint t;
    uint32_t prefill, decode;
  };
  std::deque<Rec> recs;
  std::optional<TimePoint> last_out, last_in;  // per role for per-pool policies: [0]=P, [1]=D
  std::optional<TimePoint> last_out_role[2], last_in_role[2];
  // Peers' baselines (llmd-slo, dynamo-load): a per-role signal history, [0]=P, [1]=D.
  struct Obs {
    TimePoint t;
    double x[2], y[2];
  };
  std::deque<Obs> obs;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string_view name() const = 0;
  // `wall_utc_s`: seconds since the Unix epoch, for periodic schedules only.
  virtual Decision decide(const ServiceConfig& config, const Signals& signals,
                          const PoolState& pool, TimePoint now, int64_t wall_utc_s,
                          PolicyMemory& memory) const = 0;
};

// HeteroScale: decode tokens/s sizes both pools at the ratio. Stages, in order:
//  signal -> proportional -> latency guard -> tolerance -> schedule -> stabilization ->
//  cooldown -> step limits -> safety -> bounds -> in-flight -> ratio band -> coordinate (P and D
//  together). The ratio band (service ratio_band > 0, not in `paper`) sizes prefill by its
//  own demand inside the band around the units' calibrated ratio (hs/scaler/ratio_band.h).
// Safety (not in `paper`, the published design kept for comparison) refuses a scale-in while
// any latency tier is breached, while requests wait at any engine (prefill or decode), or
// when the survivors' forecast (today's per-unit load times cur/target) would exceed their
// decode capacity or push TTFT or TBT past the first guard tier. An exact schedule (the
// operator's order) is not refused.
class HeteroScalePolicy final : public Policy {
 public:
  explicit HeteroScalePolicy(bool paper = false) : paper_(paper) {}
  std::string_view name() const override { return paper_ ? "paper" : "heteroscale"; }
  Decision decide(const ServiceConfig& config, const Signals& signals, const PoolState& pool,
                  TimePoint now, int64_t wall_utc_s, PolicyMemory& memory) const override;

 private:
  bool paper_;
};

// Baselines for the simulator, each scaling P and D independently as Kubernetes' HPA would
// (tolerance 0.1, scale-down stabilization 300 s, scale-up at most max(2x, +4) per decision,
// bounds per role), on different signals.
class HpaUtilizationPolicy final : public Policy {
 public:
  explicit HpaUtilizationPolicy(double target_utilization = 0.7) : target_(target_utilization) {}
  std::string_view name() const override { return "hpa-util"; }
  Decision decide(const ServiceConfig&, const Signals&, const PoolState&, TimePoint, int64_t,
                  PolicyMemory&) const override;

 private:
  double target_;
};

class HpaQueuePolicy final : public Policy {
 public:
  explicit HpaQueuePolicy(double target_waiting_per_instance = 2.0)
      : target_(target_waiting_per_instance) {}
  std::string_view name() const override { return "hpa-queue"; }
  Decision decide(const ServiceConfig&, const Signals&, const PoolState&, TimePoint, int64_t,
                  PolicyMemory&) const override;

 private:
  double target_;
};

// llm-d's SLO-aware control law (llm-d/llm-d guides/workload-autoscaling/README.slo-aware.md
// @ d38c9f0c), per pool: s = the 45 s average of min(s_raw, 2), s_raw = max(P90 TTFT / SLO,
// P90 TPOT / SLO) over the window's histograms (0 without traffic); above 0.55,
// d = n + ceil(n (s c / 0.55 - 1)) with the in-flight credit c = ready / provisioned when some
// are not ready (else 1), never below n; below 0.40, d = n - floor(n (1 - s / 0.40)); then HPA's
// behaviour as configured there: up at most max(100%, 4) per 60 s on the lowest
// recommendation of 30 s, down 1 per 120 s on the highest of 180 s. `per_role` false: one s
// for both pools, as published; true (llmd-slo-role): TTFT drives prefill and TPOT decode, the
// P/D adaptation that guide names as future work.
class LlmdSloPolicy final : public Policy {
 public:
  explicit LlmdSloPolicy(bool per_role) : per_role_(per_role) {}
  std::string_view name() const override { return per_role_ ? "llmd-slo-role" : "llmd-slo"; }
  Decision decide(const ServiceConfig&, const Signals&, const PoolState&, TimePoint, int64_t,
                  PolicyMemory&) const override;

 private:
  bool per_role_;
};

// Dynamo's load-based planner (ai-dynamo/dynamo docs/pages/design-docs/planner-design.md and
// reviews/peers-2026-12.md 3.1): per pool, an online linear regression of latency (TTFT for
// prefill, TBT for decode, at the SLO percentile) on per-instance load (prompt or decode
// tokens/s per ready instance) over the recent observations (at least 5); +1 when the latency
// predicted at today's load exceeds the SLO, -1 when the latency predicted at N/(N-1) of it
// (the survivors' load) stays under 80% of the SLO. Dynamo steps every 5 s; here once a tick.
class DynamoLoadPolicy final : public Policy {
 public:
  std::string_view name() const override { return "dynamo-load"; }
  Decision decide(const ServiceConfig&, const Signals&, const PoolState&, TimePoint, int64_t,
                  PolicyMemory&) const override;
};

// A fixed number of ratio units, e.g. provisioning for the peak.
class StaticPolicy final : public Policy {
 public:
  explicit StaticPolicy(uint32_t units) : units_(units) {}
  std::string_view name() const override { return "static"; }
  Decision decide(const ServiceConfig&, const Signals&, const PoolState&, TimePoint, int64_t,
                  PolicyMemory&) const override;

 private:
  uint32_t units_;
};

// The schedule entry in force at `wall_utc_s`, if the service has a schedule.
std::optional<ScheduleEntry> active_schedule_entry(const ServiceConfig& c, int64_t wall_utc_s);

// By name: "heteroscale", "paper", "hpa-util", "hpa-queue", "llmd-slo", "llmd-slo-role",
// "dynamo-load"; nullptr for anything else.
std::unique_ptr<Policy> make_policy(std::string_view name);

}  // namespace hs::scaler
