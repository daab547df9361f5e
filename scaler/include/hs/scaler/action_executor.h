// Carries out a tick's Slurm actions, in the order the Controller gave them, on the thread
// that owns the SlurmApi. Later actions depend on earlier ones (a throttle is lowered before
// its drain mark, a group's prefill is submitted before its decode), so the batch stops at
// the first failure: the next tick decides again from Slurm's real state. Cancelling a task
// that has already ended is the goal met, not a failure. A submitted array whose comment
// comes back without its tag (a site's job_submit rewrote it) is cancelled and fails.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "hs/common/clock.h"
#include "hs/common/logger.h"
#include "hs/scaler/controller.h"
#include "hs/scaler/slurm_api.h"

namespace hs::scaler {

struct ActionOutcome {
  const Action* action = nullptr;
  Status status;
  double seconds = 0;
  uint32_t submitted_array = 0;  // kSubmit: the new array's id
};

struct BatchResult {
  std::vector<ActionOutcome> done;  // in order; the last one failed if the batch stopped
  size_t dropped = 0;               // actions not tried after a failure
};

class ActionExecutor {
 public:
  // `after_each` runs after every action that took effect (the daemon's test crash points).
  ActionExecutor(SlurmApi& api, const Clock& clock, Logger log,
                 std::function<void(const Action&)> after_each = {});
  BatchResult run(const std::vector<Action>& batch);
  // Actions by "kind outcome" ("throttle ok", "submit error"), since the start.
  const std::map<std::string, uint64_t>& counts() const { return counts_; }
  double last_seconds() const { return last_seconds_; }

 private:
  Status execute(const Action& a, uint32_t* submitted);
  Status check_tag(const Action& a, uint32_t id);
  SlurmApi& api_;
  const Clock& clock_;
  Logger log_;
  std::function<void(const Action&)> after_each_;
  std::map<std::string, uint64_t> counts_;
  double last_seconds_ = 0;
};

}  // namespace hs::scaler
