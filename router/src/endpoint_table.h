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
  explicit EndpointTable(Logger& log) : log_(log) {}
  // Follows a new endpoint set: adds, updates, and unlists (removing those with nothing in
  // flight).
  void apply(const std::vector<Endpoint>& eps, Steady::time_point now);
  // The least-loaded usable instance of `role` (a `both` instance serves any role), in `group`
  // when not empty; a prefill only in a group that has a usable decode. Counts the request
  // against it.
  Picked pick(Role role, const std::string& group, const std::set<std::string>& exclude);
  // `reachable` false marks the instance unhealthy until its next passing health check.
  void release(const Endpoint& ep, bool reachable);
  // Instances whose health check is due: the fast re-probe ones always, the rest when
  // `all_due`.
  std::vector<Endpoint> to_probe(Steady::time_point now, bool all_due) const;
  // Records a check (`why`: what failed, for the log); returns true when the instance's models
  // are not known yet.
  bool record_health(const std::string& url, bool ok, Steady::time_point now,
                     const std::string& why = {});
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
  Logger& log_;
  mutable std::mutex mu_;
  std::map<std::string, Instance> instances_;  // by url
};

// How long an endpoint that failed its first check is re-probed every kFastProbe.
inline constexpr std::chrono::milliseconds kFastProbe{100};
inline constexpr std::chrono::seconds kFastProbeFor{10};

}  // namespace hs::router
