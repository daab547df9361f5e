// What the policies share and nothing else needs: number formatting for reasons and the
// decision header (policy.cc, baselines.cc, decision.cc).
#pragma once

#include <string>
#include <string_view>

#include "hs/scaler/policy.h"

namespace hs::scaler::detail {

// `v` with `prec` decimals, "nan" when missing.
std::string num(double v, int prec = 1);
// A duration as whole seconds, e.g. "60 s".
std::string secs(Duration d);
// A decision's header: which service and policy, when, from what pool and signals.
Decision begin_decision(std::string_view policy, const ServiceConfig& c, const Signals& sig,
                        const PoolState& pool, TimePoint now);

}  // namespace hs::scaler::detail
