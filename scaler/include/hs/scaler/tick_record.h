// Record and replay of the daemon's ticks. `heteroscaled --record DIR` writes, per tick, what
// the Controller was given (Slurm's job and node records as read, registrations, metric
// windows, the clock, pause) and the actions it returned; `hs-sim replay DIR` feeds the same
// inputs to a Controller built from the recorded configuration and compares the actions,
// tick for tick. The Controller reads no clock and no I/O, so equal inputs in equal order
// give equal actions: a difference is a change of behaviour (or of the configuration).
//
// DIR/header.json: {"format": 1, "config_path", "config_text", "dry_run", "started_ns"};
// DIR/ticks.jsonl: one JSON object per tick (fields in tick_record.cc). Times are nanoseconds
// on the daemon's steady clock; NaN metric values are null.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hs/common/clock.h"
#include "hs/common/error.h"
#include "hs/scaler/controller.h"

namespace hs::scaler {

struct TickInputs {
  // Slurm as read for the tick (the view rebuilt from the job records, as SlurmLink builds
  // it); none when the daemon held (Slurm unread or stale).
  std::optional<SlurmSnapshot> slurm;
  std::vector<Registration> regs;
  std::map<std::string, ServiceMetrics> metrics;
  TimePoint now;
  int64_t wall_unix_s = 0;
  bool paused = false;
  std::vector<std::string> actions;  // Action::describe() of what the Controller returned
};

struct RecordHeader {
  std::string config_path, config_text;
  bool dry_run = false;  // heteroscaled --dry-run (not in the configuration's text)
  TimePoint started;
};

std::string tick_to_json(const TickInputs& t);
// InvalidArgument naming `where` (file:line) and the field.
Result<TickInputs> tick_from_json(const std::string& line, const std::string& where);

class TickRecorder {
 public:
  // Creates DIR (if needed) and writes its header from the configuration file as loaded.
  static Result<std::unique_ptr<TickRecorder>> open(const std::string& dir,
                                                    const std::string& config_path, bool dry_run,
                                                    TimePoint started);
  // One tick; flushed, so a daemon killed between ticks leaves every whole tick readable.
  void write(const SlurmSnapshot* slurm, const std::vector<Registration>& regs,
             const std::map<std::string, ServiceMetrics>& metrics, TimePoint now,
             int64_t wall_unix_s, bool paused, const std::vector<Action>& actions);

 private:
  std::ofstream out_;
};

struct Recording {
  RecordHeader header;
  std::vector<TickInputs> ticks;
};
Result<Recording> load_recording(const std::string& dir);

}  // namespace hs::scaler
