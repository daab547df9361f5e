// The router's view of its instances: the endpoint set it follows, each instance's health and
// load, and the pick rule. Pure bookkeeping, no I/O, one mutex; time comes in as arguments.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hs/common/logger.h"
#include "hs/router/endpoints.h"

namespace hs::router {

using Steady = std::chrono::steady_clock;

struct Instance {
  Endpoint ep;
  int outstanding = 0;
  uint64_t sent = 0;
  // Not usable until a health check passes; one that fails its first check is re-probed
  // quickly (fast_until) before it falls back to the normal interval.
  bool healthy = false;
  bool ever_healthy = false;
  int slow_checks = 0;  // health checks timed out in a row
  // Unhealthy by timeouts only (it accepted, then answered late): alive but busy, the
  // fallback when a role has no healthy instance left (Envoy's panic routing, narrowed).
  bool slow = false;
  Steady::time_point added{}, fast_until{};
  bool listed = true;               // false: removed from the set, kept until its requests finish
  std::vector<std::string> models;  // from its /v1/models, cached
};

struct Picked {
  Endpoint ep;
  bool ok = false;
};

class EndpointTable {
 public:
  // A healthy instance whose checks time out stays usable until `timeouts_to_fail` in a row
  // (an engine busy with a burst answers /health late; Kubernetes' failureThreshold); a
  // refused connection or an error answer fails it at once.
  explicit EndpointTable(Logger& log, int timeouts_to_fail = 2)
      : log_(log), timeouts_to_fail_(timeouts_to_fail < 1 ? 1 : timeouts_to_fail) {}
  // Follows a new endpoint set: adds, updates, and unlists (removing those with nothing in
  // flight).
  void apply(const std::vector<Endpoint>& eps, Steady::time_point now);
  // The least-loaded usable instance of `role` (a `both` instance serves any role), in `group`
  // when not empty; a prefill only in a group that has a usable decode. When none is healthy,
  // the least-loaded slow one: every engine answering /health late under a burst must not turn
  // the whole service into 503s. Counts the request against it.
  Picked pick(Role role, const std::string& group, const std::set<std::string>& exclude);
  // `reachable` false marks the instance unhealthy until its next passing health check; with
  // `timed_out` it stays a fallback (slow), as after health checks that time out.
  void release(const Endpoint& ep, bool reachable, bool timed_out = false);
  // Instances whose health check is due: the fast re-probe ones always, the rest when
  // `all_due`.
  std::vector<Endpoint> to_probe(Steady::time_point now, bool all_due) const;
  // Records a check (`why`: what failed, for the log; `timed_out`: it was the probe's
  // deadline); returns true when the instance's models are not known yet.
  bool record_health(const std::string& url, bool ok, Steady::time_point now,
                     const std::string& why = {}, bool timed_out = false);
  void set_models(const std::string& url, std::vector<std::string> models);
  // True when some group has a usable prefill and decode, or a usable `both` instance exists.
  bool ready() const;
  // Every model a listed instance serves, from the cache.
  std::vector<std::string> models() const;
  bool any_fast_probe(Steady::time_point now) const;
  bool probing_fast(const std::string& url, Steady::time_point now) const;

  template <typename F>
  void for_each(F f) const {
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& [url, in] : instances_) f(in);
  }

 private:
  static bool usable(const Instance& in) { return in.listed && in.healthy && !in.ep.draining; }
  static bool fallback(const Instance& in) {
    return in.listed && !in.healthy && in.slow && !in.ep.draining;
  }
  Instance* best_of(Role role, const std::string& group, const std::set<std::string>& exclude,
                    bool slow_ok);
  std::set<std::string> in_fallback_;  // under mu_: "role/group" whose last pick was a slow one
  Logger& log_;
  const int timeouts_to_fail_;
  mutable std::mutex mu_;
  std::map<std::string, Instance> instances_;  // by url
};

// How long an endpoint that failed its first check is re-probed every kFastProbe.
inline constexpr std::chrono::milliseconds kFastProbe{100};
inline constexpr std::chrono::seconds kFastProbeFor{10};

}  // namespace hs::router
