// A SlurmApi in front of another that measures every call (count, errors, seconds inside
// libslurm) and paces writes through a token bucket, so that a tick that resizes many arrays
// does not burst past slurmctld's RPC rate limiting (SlurmctldParameters=rl_enable, 23.02+),
// which libslurm answers by sleeping and retrying inside the call: the Slurm thread would
// stall there, unseen. Reads are never paced (the tick waits on them).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "hs/common/clock.h"
#include "hs/scaler/slurm_api.h"

namespace hs::scaler {

struct SlurmCallStats {
  uint64_t calls = 0, errors = 0, unavailable = 0;
  double seconds = 0;  // inside the wrapped api
};
struct SlurmMeterReport {
  std::map<std::string, SlurmCallStats> by_call;  // "load_jobs", "set_throttle", ...
  double write_wait_seconds = 0;                  // spent pacing writes
  uint64_t writes_paced = 0;                      // writes that had to wait for a token
};

struct SlurmPace {
  double writes_per_s = 20;  // refill; <= 0: no pacing
  double burst = 20;         // bucket size
};

class SlurmMeter final : public SlurmApi {
 public:
  // `sleep` waits (the real one: std::this_thread::sleep_for; tests advance a ManualClock).
  SlurmMeter(SlurmApi& inner, const Clock& clock, SlurmPace pace,
             std::function<void(Duration)> sleep);

  Result<std::vector<SlurmJob>> load_jobs() override;
  Result<std::vector<SlurmNode>> load_nodes() override;
  Result<SlurmJob> load_job(uint32_t job_id) override;
  Status set_throttle(uint32_t array_job_id, uint32_t max_running) override;
  Status set_comment(uint32_t job_id, const std::string& comment) override;
  Status cancel_task(const std::string& task) override;
  Status cancel_array(uint32_t array_job_id) override;
  Result<uint32_t> submit(const SubmitSpec& spec) override;
  Result<SlurmSiteConfig> load_site_config() override;

  SlurmMeterReport report() const;  // any thread

 private:
  void take_write_token();
  template <typename F>
  auto timed(const char* call, F&& f);

  SlurmApi& inner_;
  const Clock& clock_;
  SlurmPace pace_;
  std::function<void(Duration)> sleep_;
  double tokens_;
  TimePoint refilled_;
  mutable std::mutex mu_;  // guards report_
  SlurmMeterReport report_;
};

}  // namespace hs::scaler
