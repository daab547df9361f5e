// Time as heteroscale's code sees it. Policy code takes a Clock& and never reads the wall
// clock itself, so the daemon (SteadyClock), the simulator (a virtual clock) and tests
// (ManualClock) run the same code.
#pragma once

#include <chrono>
#include <mutex>

namespace hs {

// Nanoseconds since an arbitrary epoch that is fixed for the life of the Clock.
using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic: never goes backwards. Thread-safe in every implementation here.
  virtual TimePoint now() const = 0;
};

// The machine's monotonic clock (CLOCK_MONOTONIC).
class SteadyClock final : public Clock {
 public:
  TimePoint now() const override;
};

// A clock that moves only when told to. Starts at `start` (default: epoch). Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{}) : now_(start) {}
  TimePoint now() const override;
  // Moves the clock forward by `d`; a negative `d` is ignored (the clock is monotonic).
  void advance(Duration d);
  // Sets the clock to `t` if `t` is not before now(); otherwise does nothing.
  void set(TimePoint t);

 private:
  mutable std::mutex mu_;
  TimePoint now_;
};

// Seconds as a double, for reports and rates.
inline double to_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }
inline Duration from_seconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

}  // namespace hs
