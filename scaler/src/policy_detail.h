// What the policies share and nothing else needs: number formatting for reasons, the decision
// header (policy.cc, baselines.cc, decision.cc) and HeteroScale's stage arithmetic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "hs/scaler/policy.h"

namespace hs::scaler::detail {

// `v` with `prec` decimals, "nan" when missing.
std::string num(double v, int prec = 1);
// A duration as whole seconds, e.g. "60 s".
std::string secs(Duration d);
// A decision's header: which service and policy, when, from what pool and signals.
Decision begin_decision(std::string_view policy, const ServiceConfig& c, const Signals& sig,
                        const PoolState& pool, TimePoint now);

// HeteroScale's safety and demand stages' arithmetic (policy_stages.cc).
// What forbids any scale-in, whatever it would leave (a breached tier, requests waiting at an
// engine, served below offered load, a slow backlog): its reason, or empty.
std::string scale_in_blocker(const Signals& sig, const ServiceConfig& c);
// Whether a scale-in from `cur` to `target` units may go ahead: (refused, why with the
// survivors' forecast).
std::pair<bool, std::string> scale_in_check(const Signals& sig, uint32_t cur, uint32_t target,
                                            double tps_per_unit, const ServiceConfig& c);
// Demand beyond what is served, in ratio units (policy_stages.cc says how).
struct Demand {
  uint32_t units = 0;
  uint32_t decode_units = 0, prefill_units = 0;
  uint32_t served_units = 0;  // what served load alone sizes (both roles)
  double decode_tps = kMissing, prefill_tps = kMissing;
  // Prefill instances the prefill demand needs (none: not known), for the ratio band.
  std::optional<uint32_t> prefill_instances;
  std::string reason;
};
Demand demand_units(const ServiceConfig& c, const Signals& sig, const PoolState& pool, uint32_t cur,
                    double decode_tps_per_unit);

}  // namespace hs::scaler::detail
