// A heteroscale service's configuration: what the policy and placement need to size and place
// its prefill and decode pools. Loaded from YAML (docs/service-config.md), strictly: an
// unknown key is an error, every error names file:line:column and the field, and all errors
// of a file are reported at once. Every default lives in this header, next to its field.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hs/common/clock.h"
#include "hs/common/error.h"

namespace hs::scaler {

// P:D as whole numbers: one "ratio unit" is `prefill` prefill instances and `decode` decode
// instances. Pools change only in whole units, so the ratio is always exact.
struct Ratio {
  uint32_t prefill = 1;
  uint32_t decode = 1;
};

// One hardware pairing the service can run on, with the numbers calibrated for it
// (hs-sim calibrate, or a stress test).
struct Variant {
  std::string name;         // e.g. "h100-l40s"
  std::string prefill_gpu;  // GPU type (Slurm gres type) of prefill instances
  std::string decode_gpu;   // GPU type of decode instances
  Ratio ratio;
  double decode_tps_per_instance = 0;  // decode tokens/s one decode instance sustains at SLO
  // Prompt tokens/s one prefill instance computes within the TTFT SLO (calibrated); 0 = not
  // calibrated: prefill demand is then not sized, only the latency guard grows for it.
  double prefill_tps_per_instance = 0;
  uint32_t prefill_gpus = 1;  // GPUs per prefill instance (tensor parallel size)
  uint32_t decode_gpus = 1;   // GPUs per decode instance
};

// One tier of the latency guard: when the client-side latency quantile exceeds
// `slo_factor` x SLO, grow both pools by at least `step` (a fraction, 0.10 = +10%).
struct GuardTier {
  double slo_factor = 1.0;
  double step = 0.10;
};

struct Slo {
  double ttft_s = 2.0;       // time to first token, seconds, at `percentile`
  double tbt_s = 0.1;        // time between tokens, seconds, at `percentile`
  double percentile = 0.99;  // 0 < p < 1
};

enum class Affinity { kLeaf, kSpine, kAny };  // where a deployment group must stay
std::string_view to_string(Affinity a);

// Periodic policy: from `start_minute` (0..1439, UTC) on the days in `days` (bit 0 = Monday),
// the service runs `units` ratio units, until the next entry starts.
struct ScheduleEntry {
  uint8_t days = 0x7f;
  uint32_t start_minute = 0;
  uint32_t units = 1;
  std::string where;
};
enum class ScheduleMode {
  kFloor,  // metrics-driven, never below the schedule (default)
  kExact,  // the schedule alone decides
};

struct Scaling {
  Duration window = std::chrono::seconds(60);       // metric window for signals
  Duration stale_after = std::chrono::seconds(90);  // a sample older than this is ignored
  double min_coverage = 0.75;   // fraction of ready decode instances that must report
  double tolerance_out = 0.10;  // scale out only if desired/current > 1 + this
  double tolerance_in = 0.20;   // scale in only if desired/current < 1 - this
  Duration out_stabilization = std::chrono::seconds(0);   // scale out on the min rec. over it
  Duration in_stabilization = std::chrono::seconds(300);  // scale in on the max rec. over it
  Duration out_cooldown = std::chrono::seconds(60);       // between two scale-outs
  Duration in_cooldown = std::chrono::seconds(300);       // after any action, before a scale-in
  uint32_t max_step_out_units = 4;  // a scale-out adds at most max(this, fraction x current)
  double max_step_out_fraction = 0.5;
  double max_step_in_fraction = 0.1;  // a scale-in removes at most this x current (>= 1 unit)
  // A deficit-sized scale-out (demand measured at the routers beyond the current count) adds
  // at most max(max_step_out_units, ceil(this x current)): 4 lets a 5x load step be covered
  // in one decision; the GPU budget and bounds still apply.
  double deficit_step_fraction = 4.0;
  std::vector<GuardTier> guard = {{1.0, 0.10}, {1.2, 0.20}};
  // The guard (and the "TTFT rising" scale-in veto) acts only under load: decode tokens/s at
  // least this fraction of capacity, or a non-empty or growing prefill queue. A breach at low
  // load (a few very long prompts) is not something more instances fix.
  double guard_min_load = 0.5;
  double ttft_rise =
      0.10;  // TTFT "rises" when the window's late half is this much above its early half
  Duration soft_scale_in_grace = std::chrono::seconds(120);  // drained instance kept, SLO watched
  Duration start_timeout =
      std::chrono::seconds(600);  // a started role waiting on the other is rolled back after
};

struct ServiceConfig {
  std::string name;
  std::vector<Variant> variants;  // preference order; at least one
  Slo slo;
  // Bounds per role: whole ratio units of the preferred variant (the policy counts in them),
  // and room for at least one unit of every fallback variant (validate()).
  uint32_t min_prefill = 1, max_prefill = 1, min_decode = 1, max_decode = 1;
  // How far a group's prefill may move from the calibrated ratio, as a factor either way
  // (hs/scaler/ratio_band.h): 0 is the paper's fixed ratio; 1 lets a 1:2 service of 4 units
  // run 2..8 prefill instances beside its 8 decode. The policy `heteroscale` moves prefill
  // inside it; the Controller keeps every group inside it.
  double ratio_band = 0;
  Scaling scaling;
  Affinity affinity = Affinity::kLeaf;
  int priority = 0;  // higher wins GPUs first
  std::vector<ScheduleEntry> schedule;
  ScheduleMode schedule_mode = ScheduleMode::kFloor;
  std::string where;  // file:line of the service, for messages

  // Bounds in ratio units of the preferred variant.
  uint32_t min_units() const;
  uint32_t max_units() const;
  const Variant& preferred() const { return variants.front(); }
  // The variant a deployment group was opened with (its job tag's variant=): the one owner of
  // a group's P:D ratio and per-instance decode target, for the router's ratio gate, the
  // capacity the policy sees, repair, rollback and growth. Null if the service has none of
  // that name (a renamed or removed variant: the group is left alone).
  const Variant* variant_named(std::string_view variant) const;
};

struct ServicesConfig {
  std::vector<ServiceConfig> services;
  std::map<std::string, uint32_t> gpu_budget;  // GPU type -> GPUs heteroscale may use in all
};

// Checks ranges and relations (bounds against ratios, tiers ascending, ...). All problems
// at once, each naming the service and field.
Status validate(const ServiceConfig& s);

Result<ServicesConfig> parse_services_yaml(const std::string& text, const std::string& name);
Result<ServicesConfig> load_services(const std::string& path);

}  // namespace hs::scaler
