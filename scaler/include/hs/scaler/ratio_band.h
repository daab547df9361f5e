// The P:D ratio band: how many prefill instances a deployment group of `units` ratio units may
// run. With `ratio_band` b = 0 (the paper's fixed ratio) a group is exactly units x the
// variant's ratio. With b > 0 decode stays units x ratio.decode (decode sets a group's units,
// as it sets the policy's) and prefill may sit anywhere in
//   [max(1, ceil(units x ratio.prefill / (1 + b))), floor(units x ratio.prefill x (1 + b))]
// (at least one instance, and the calibrated count always inside): the prompt/output mix
// drifts by the hour, and prefill demand per decode token drifts with it. The band is a factor
// either way (b = 1: from half to twice the calibrated prefill) because a ratio is: a x4 prompt
// length needs x4 prefill, a x4 output length x1/4 of it per decode unit. The one owner of that
// rule: the policy's reshape stage, the Controller's repair, rollback, growth and shrink, and the
// router's ready-ratio gate all read it here.
#pragma once

#include <cstdint>

#include "hs/scaler/service_config.h"

namespace hs::scaler {

struct PrefillBand {
  uint32_t lo = 0, hi = 0;  // inclusive
  bool holds(uint32_t prefill) const { return prefill >= lo && prefill <= hi; }
};

// The prefill counts a group of `units` units may run (0 units: exactly 0).
PrefillBand prefill_band(uint32_t units, const Ratio& r, double band);

// Prefill for `units` units at `scale` (prefill per unit / the calibrated ratio.prefill, the
// current decision's), rounded to the nearest instance and kept inside the band.
uint32_t prefill_at_scale(uint32_t units, const Ratio& r, double band, double scale);

// The fewest units a group running `prefill` and `decode` instances belongs to: enough for its
// decode and for its prefill to fit under the band's top.
uint32_t group_units(uint32_t prefill, uint32_t decode, const Ratio& r, double band);

// The most units `prefill` running prefill instances can carry (the largest u with lo(u) <=
// prefill): what a rollback keeps when decode runs more.
uint32_t units_carried_by_prefill(uint32_t prefill, const Ratio& r, double band);

}  // namespace hs::scaler
