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
//  cooldown -> step limits -> safety -> bounds -> in-flight -> coordinate (P and D together).
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

// By name: "heteroscale", "paper", "hpa-util", "hpa-queue"; nullptr for anything else.
std::unique_ptr<Policy> make_policy(std::string_view name);

}  // namespace hs::scaler
