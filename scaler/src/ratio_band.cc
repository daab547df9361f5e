#include "hs/scaler/ratio_band.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace hs::scaler {

PrefillBand prefill_band(uint32_t units, const Ratio& r, double band) {
  if (units == 0) return {0, 0};
  const double mid = static_cast<double>(units) * r.prefill;
  const auto exact = static_cast<uint32_t>(mid);
  if (band <= 0) return {exact, exact};
  // 1e-9: a band edge that is a whole number (4 x 0.5 = 2) must stay inside.
  auto lo = static_cast<uint32_t>(std::ceil(mid / (1 + band) - 1e-9));
  auto hi = static_cast<uint32_t>(std::floor(mid * (1 + band) + 1e-9));
  return {std::max<uint32_t>({lo, 1}), std::max(hi, exact)};
}

uint32_t prefill_at_scale(uint32_t units, const Ratio& r, double band, double scale) {
  PrefillBand b = prefill_band(units, r, band);
  if (units == 0 || b.lo == b.hi) return b.lo;
  double want = std::round(static_cast<double>(units) * r.prefill * scale);
  return std::clamp(static_cast<uint32_t>(std::max(want, 0.0)), b.lo, b.hi);
}

uint32_t group_units(uint32_t prefill, uint32_t decode, const Ratio& r, double band) {
  uint32_t u = (decode + r.decode - 1) / r.decode;
  while (prefill > prefill_band(u, r, band).hi) ++u;  // hi(u) >= u x ratio.prefill: bounded
  return u;
}

uint32_t units_carried_by_prefill(uint32_t prefill, const Ratio& r, double band) {
  if (band <= 0) return prefill / r.prefill;
  if (prefill == 0) return 0;
  // lo(u) <= prefill  <=>  u x ratio.prefill / (1 + band) <= prefill (lo's ceil and its 1e-9).
  return static_cast<uint32_t>(std::floor(prefill * (1 + band) / r.prefill + 1e-9));
}

}  // namespace hs::scaler
