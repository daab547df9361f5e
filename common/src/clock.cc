#include "hs/common/clock.h"

namespace hs {

TimePoint SteadyClock::now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
}

TimePoint ManualClock::now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

void ManualClock::advance(Duration d) {
  if (d.count() <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  now_ += d;
}

void ManualClock::set(TimePoint t) {
  std::lock_guard<std::mutex> lock(mu_);
  if (t > now_) now_ = t;
}

}  // namespace hs
