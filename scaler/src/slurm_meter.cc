#include "hs/scaler/slurm_meter.h"

#include <algorithm>
#include <cstdint>

namespace hs::scaler {
SlurmMeter::SlurmMeter(SlurmApi& inner, const Clock& clock, SlurmPace pace,
                       std::function<void(Duration)> sleep)
    : inner_(inner),
      clock_(clock),
      pace_(pace),
      sleep_(std::move(sleep)),
      tokens_(pace.burst),
      refilled_(clock.now()) {}

template <typename F>
auto SlurmMeter::timed(const char* call, F&& f) {
  TimePoint t0 = clock_.now();
  auto r = f();
  double s = to_seconds(clock_.now() - t0);
  std::lock_guard lock(mu_);
  SlurmCallStats& st = report_.by_call[call];
  ++st.calls;
  st.seconds += s;
  if (!r.ok()) {  // Status is Result<void>: one path for reads and writes
    ++st.errors;
    if (r.error().code == ErrorCode::kUnavailable) ++st.unavailable;
  }
  return r;
}

// Token bucket: `burst` writes at once, then `writes_per_s`. Waiting happens here, on the
// Slurm thread, before the write, never inside libslurm.
void SlurmMeter::take_write_token() {
  if (pace_.writes_per_s <= 0) return;
  auto refill = [&] {
    TimePoint now = clock_.now();
    tokens_ = std::min(pace_.burst, tokens_ + to_seconds(now - refilled_) * pace_.writes_per_s);
    refilled_ = now;
  };
  refill();
  if (tokens_ < 1) {
    TimePoint before = refilled_;
    sleep_(from_seconds((1 - tokens_) / pace_.writes_per_s));
    refill();
    std::lock_guard lock(mu_);
    report_.write_wait_seconds += to_seconds(refilled_ - before);
    ++report_.writes_paced;
  }
  tokens_ = std::max(0.0, tokens_ - 1);
}

Result<std::vector<SlurmJob>> SlurmMeter::load_jobs() {
  return timed("load_jobs", [&] { return inner_.load_jobs(); });
}
Result<std::vector<SlurmNode>> SlurmMeter::load_nodes() {
  return timed("load_nodes", [&] { return inner_.load_nodes(); });
}
Result<SlurmJob> SlurmMeter::load_job(uint32_t id) {
  return timed("load_job", [&] { return inner_.load_job(id); });
}
Result<SlurmSiteConfig> SlurmMeter::load_site_config() {
  return timed("load_site_config", [&] { return inner_.load_site_config(); });
}
Status SlurmMeter::set_throttle(uint32_t id, uint32_t n) {
  take_write_token();
  return timed("set_throttle", [&] { return inner_.set_throttle(id, n); });
}
Status SlurmMeter::set_comment(uint32_t id, const std::string& c) {
  take_write_token();
  return timed("set_comment", [&] { return inner_.set_comment(id, c); });
}
Status SlurmMeter::cancel_task(const std::string& task) {
  take_write_token();
  return timed("cancel_task", [&] { return inner_.cancel_task(task); });
}
Status SlurmMeter::cancel_array(uint32_t id) {
  take_write_token();
  return timed("cancel_array", [&] { return inner_.cancel_array(id); });
}
Result<uint32_t> SlurmMeter::submit(const SubmitSpec& s) {
  take_write_token();
  return timed("submit", [&] { return inner_.submit(s); });
}

SlurmMeterReport SlurmMeter::report() const {
  std::lock_guard lock(mu_);
  return report_;
}

}  // namespace hs::scaler
