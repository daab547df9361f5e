// Replays a heteroscaled recording (scaler/tick_record.h) through a Controller built from the
// recorded configuration, with the recorded inputs tick for tick, and compares the actions it
// returns with the ones the daemon returned.
#pragma once

#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/scaler/tick_record.h"

namespace hs::sim {

struct ReplayResult {
  size_t ticks = 0, actions = 0;
  // The first tick whose actions differ: its index and both lists (empty when identical).
  bool identical = true;
  size_t first_difference = 0;
  std::vector<std::string> recorded, replayed;
};

// Errors: the configuration or the fabric of the recording no longer loads.
Result<ReplayResult> replay(const scaler::Recording& rec);

}  // namespace hs::sim
