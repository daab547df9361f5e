// The shortage stage: when the GPUs free (or the GPU budget) cannot hold a service's growth,
// lower-priority services that run on the same GPU types give units to it. A yield is decided
// after a tick's placement (where the shortfall shows) and applied to the donor's next
// decision as a cap on its units: the donor shrinks by its ordinary drain (drained instances
// finish their requests; GPUs come free as they end), never below its min; the receiver's
// growth takes the GPUs on a later tick, placed first as the higher priority. A yield ends
// when the receiver is no longer short. Pure: the Controller keeps the state.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hs/scaler/placement.h"
#include "hs/scaler/policy.h"

namespace hs::scaler {

struct Yield {
  std::string to;          // the receiving service
  uint32_t cap_units = 0;  // the donor holds at most this many units of its preferred variant
  std::string why;         // who gives what to whom, for the decision and the status
};

// The Controller's yields, donor service -> its yield (kept across ticks, lost on restart:
// the next short placement decides them again).
struct ShortageState {
  std::map<std::string, Yield> yields;
};

// A service as this tick saw it, for choosing donors.
struct DonorState {
  const ServiceConfig* service = nullptr;
  uint32_t units = 0;     // counted units (decode / the preferred ratio's decode)
  bool draining = false;  // some of its tasks still drain (their GPUs are not free yet)
};

// GPUs of each type one unit of the service's preferred variant takes.
std::map<std::string, uint32_t> unit_gpus(const ServiceConfig& s);

// After the tick's placement: every growth placed short takes units from lower-priority
// services sharing a GPU type, lowest priority first. An existing yield to the same receiver
// is lowered again only once the donor has given all it was asked for and nothing of it
// drains (so units in transit are not asked twice). Yields whose receiver is not short are
// dropped.
void update_yields(std::map<std::string, Yield>& yields,
                   const std::vector<PlacementRequest>& requests, const PlacementResult& placed,
                   const std::map<std::string, DonorState>& donors);

// Caps the donor's decision at its yield (a "shortage" stage); true when it changed it.
bool apply_yield(const Yield& y, const ServiceConfig& s, const PoolState& pool, Decision& d);

}  // namespace hs::scaler
