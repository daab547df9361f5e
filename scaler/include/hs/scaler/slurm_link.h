// The one thread that talks to slurmctld. It runs the tick's action batches (ActionExecutor)
// and reads Slurm's state between them; the tick takes the newest snapshot without waiting.
// A tick decides only on a snapshot read after the previous batch finished, so no action is
// issued twice from a stale view. While reads fail the link reports the outage (logged once
// when it starts and once when slurmctld answers again) and the tick holds.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "hs/scaler/action_executor.h"
#include "hs/scaler/controller.h"
#include "hs/scaler/slurm_api.h"

namespace hs::scaler {

struct SlurmTake {
  // What the tick may decide on: fresh and read after the last batch; null otherwise.
  std::shared_ptr<const SlurmSnapshot> decide_on;
  std::shared_ptr<const SlurmSnapshot> latest;  // the newest good read, however old (or null)
  std::string error;                            // the last read's error; empty when it succeeded
  Duration down_for{};                          // how long reads have failed
};

class SlurmLink {
 public:
  // `unix_now` stamps each snapshot (job times in Slurm's view are Unix seconds).
  SlurmLink(SlurmApi& api, const Clock& clock, Logger log, std::function<int64_t()> unix_now,
            std::function<void(const Action&)> after_each = {});
  // One round: the queued batch (if any), then one read. The Slurm thread's loop body.
  void step();
  // step() until stop(), waiting `period` (or a new batch) between reads.
  void run();
  void stop();
  void set_read_period(Duration d);

  void submit(std::vector<Action> batch);
  SlurmTake take(Duration stale) const;
  std::map<std::string, uint64_t> action_counts() const;
  double last_action_seconds() const;

 private:
  SlurmApi& api_;
  const Clock& clock_;
  Logger log_;
  std::function<int64_t()> unix_now_;
  ActionExecutor exec_;    // used on the Slurm thread only
  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  bool stop_ = false;
  Duration period_ = std::chrono::seconds(1);
  std::deque<std::vector<Action>> batches_;
  bool batch_in_flight_ = false;
  uint64_t seq_ = 0;
  uint64_t batch_done_seq_ = 0;  // the seq of the read that followed the last batch
  std::shared_ptr<const SlurmSnapshot> snapshot_;
  std::string error_;
  TimePoint error_since_{};
  std::set<std::string> reported_problems_;  // bad job tags already logged
  std::map<std::string, uint64_t> counts_;
  double last_action_seconds_ = 0;
};

}  // namespace hs::scaler
