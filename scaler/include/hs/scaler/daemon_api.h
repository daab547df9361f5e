// heteroscaled's HTTP API and /metrics. What GET endpoints show is a DaemonView the tick
// publishes whole at its end: readers (routers polling /hs/endpoints every few seconds,
// Prometheus, hs-ctl) never wait for a tick, and a tick never waits for them.
//   GET  /healthz, /metrics, /hs/endpoints[?service=S], /hs/status, /hs/explain?service=S
//   POST /hs/register, /hs/heartbeat, /hs/draining, /hs/deregister (hs-launch),
//        /hs/pause, /hs/resume (operators)
// POSTs need the bearer token when one is configured, else come from loopback only.
#pragma once

#include "hs/scaler/slurm_meter.h"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hs/common/clock.h"
#include "hs/common/http.h"
#include "hs/common/logger.h"
#include "hs/scaler/controller.h"
#include "hs/scaler/registrations.h"

namespace hs::scaler {

struct DaemonView {
  std::vector<ServedEndpoint> served;
  std::map<std::string, ServiceStatus> status;
  bool paused = false, dry_run = false;
  std::string slurm = "not read yet";  // "ok", "not read yet" or the last read's error
  bool slurm_up() const { return slurm == "ok"; }
  uint64_t ticks = 0;
  double last_tick_cpu_s = 0;
  std::map<std::string, uint64_t> action_counts;  // "kind outcome"
  double last_action_seconds = 0;
  SlurmMeterReport slurm_calls;  // every libslurm call and the write pacing
};

std::string metrics_text(const DaemonView& v);
// /hs/status (only = "") or one service's entry (only = its name; empty result if unknown).
std::string status_json(const DaemonView& v, const std::string& only, bool* found = nullptr);

class DaemonApi {
 public:
  DaemonApi(Registrations& regs, const Clock& clock, Logger log, std::string token);
  http::Response handle(const http::Request& req);
  void publish(std::shared_ptr<const DaemonView> v);
  std::shared_ptr<const DaemonView> view() const;
  // Set by /hs/pause and /hs/resume; the tick applies it.
  bool pause_requested() const { return paused_.load(); }
  void set_pause(bool p) { paused_ = p; }

 private:
  bool authorized(const http::Request& r) const;
  Registrations& regs_;
  const Clock& clock_;
  Logger log_;
  std::string token_;
  mutable std::mutex mu_;  // guards view_ (the pointer only)
  std::shared_ptr<const DaemonView> view_ = std::make_shared<DaemonView>();
  std::atomic<bool> paused_{false};
};

}  // namespace hs::scaler
