// Replay: the Controller is a function of its inputs and its own state, which the same
// inputs in the same order rebuild, so the actions must come out equal.
#include "hs/sim/replay.h"

#include "hs/scaler/daemon_setup.h"

namespace hs::sim {

Result<ReplayResult> replay(const scaler::Recording& rec) {
  auto cfg = scaler::parse_daemon_config(rec.header.config_text, rec.header.config_path);
  if (!cfg.ok()) return cfg.error();
  cfg->daemon.dry_run = rec.header.dry_run;
  auto fabric = scaler::load_fabric(*cfg);
  if (!fabric.ok()) return fabric.error();
  scaler::Controller ctl(*cfg, std::move(*fabric), rec.header.started);
  ReplayResult out;
  for (const auto& t : rec.ticks) {
    ctl.set_paused(t.paused);
    auto actions = ctl.tick(t.slurm ? &*t.slurm : nullptr, t.regs, t.metrics, t.now, t.wall_unix_s);
    std::vector<std::string> got;
    for (const auto& a : actions) got.push_back(a.describe());
    if (out.identical && got != t.actions) {
      out.identical = false;
      out.first_difference = out.ticks;
      out.recorded = t.actions;
      out.replayed = got;
    }
    ++out.ticks;
    out.actions += got.size();
  }
  return out;
}

}  // namespace hs::sim
