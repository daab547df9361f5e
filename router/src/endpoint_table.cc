#include "endpoint_table.h"

namespace hs::router {

void EndpointTable::apply(const std::vector<Endpoint>& eps, Steady::time_point now) {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& [url, in] : instances_) in.listed = false;
  for (const auto& ep : eps) {
    auto [it, fresh] = instances_.try_emplace(ep.url);
    it->second.ep = ep;
    it->second.listed = true;
    if (fresh) {
      it->second.added = now;
      it->second.fast_until = now + kFastProbeFor;
      log_.info("endpoint added: " + ep.url + " (" + std::string(to_string(ep.role)) + ", group " +
                ep.group + ")");
    }
  }
  for (auto it = instances_.begin(); it != instances_.end();) {
    if (!it->second.listed && it->second.outstanding == 0) {
      log_.info("endpoint removed: " + it->first);
      it = instances_.erase(it);
    } else {
      ++it;
    }
  }
}

Instance* EndpointTable::best_of(Role role, const std::string& group,
                                 const std::set<std::string>& exclude, bool slow_ok) {
  auto ok = [slow_ok](const Instance& in) { return usable(in) || (slow_ok && fallback(in)); };
  std::set<std::string> decoding_groups;
  if (role == Role::kPrefill)
    for (const auto& [url, in] : instances_)
      if (ok(in) && in.ep.role != Role::kPrefill) decoding_groups.insert(in.ep.group);
  Instance* best = nullptr;
  for (auto& [url, in] : instances_) {
    if (!ok(in) || exclude.count(url)) continue;
    if (in.ep.role != role && in.ep.role != Role::kBoth) continue;
    if (!group.empty() && in.ep.group != group) continue;
    if (role == Role::kPrefill && !decoding_groups.count(in.ep.group)) continue;
    // Healthy before slow, then fewest outstanding, then fewest sent.
    if (!best || (usable(in) && !usable(*best)) ||
        (usable(in) == usable(*best) &&
         (in.outstanding < best->outstanding ||
          (in.outstanding == best->outstanding && in.sent < best->sent))))
      best = &in;
  }
  return best;
}

Picked EndpointTable::pick(Role role, const std::string& group,
                           const std::set<std::string>& exclude) {
  std::lock_guard<std::mutex> lk(mu_);
  Instance* best = best_of(role, group, exclude, false);
  bool slow = false;
  if (!best) {
    best = best_of(role, group, exclude, true);
    slow = best != nullptr;
  }
  const std::string key = std::string(to_string(role)) + "/" + group;
  if (slow != (in_fallback_.count(key) > 0)) {
    std::string what = "no healthy " + std::string(to_string(role)) + " instance" +
                       (group.empty() ? "" : " in group " + group);
    if (slow) {
      in_fallback_.insert(key);
      log_.warning(what +
                   ": sending requests to ones whose health checks time out (busy, not "
                   "refusing) until one passes");
    } else {
      in_fallback_.erase(key);
      log_.warning(what + " was the case; a healthy one is back");
    }
  }
  if (!best) return {};
  ++best->outstanding;
  ++best->sent;
  return {best->ep, true};
}

void EndpointTable::release(const Endpoint& ep, bool reachable, bool timed_out) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = instances_.find(ep.url);
  if (it == instances_.end()) return;
  --it->second.outstanding;
  if (!reachable) it->second.slow = timed_out && (it->second.healthy || it->second.slow);
  if (!reachable && it->second.healthy) {
    it->second.healthy = false;
    log_.warning(ep.url + " is unreachable; no requests until it passes a health check");
  }
  if (!it->second.listed && it->second.outstanding == 0) instances_.erase(it);
}

std::vector<Endpoint> EndpointTable::to_probe(Steady::time_point now, bool all_due) const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<Endpoint> out;
  for (const auto& [url, in] : instances_) {
    bool fast = !in.ever_healthy && now < in.fast_until;
    if (all_due || fast) out.push_back(in.ep);
  }
  return out;
}

bool EndpointTable::record_health(const std::string& url, bool ok, Steady::time_point now,
                                  const std::string& why, bool timed_out) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = instances_.find(url);
  if (it == instances_.end()) return false;
  Instance& in = it->second;
  in.slow_checks = !ok && timed_out ? in.slow_checks + 1 : 0;
  if (!ok && timed_out && in.healthy && in.slow_checks < timeouts_to_fail_) {
    log_.info(url + " was slow to answer its health check (" + std::to_string(in.slow_checks) +
              " of " + std::to_string(timeouts_to_fail_) + " in a row fail it): " + why);
    return false;
  }
  if (in.healthy != ok && (in.ever_healthy || ok))
    log_.warning(
        url + (ok ? (in.ever_healthy ? " is healthy again" : " is healthy")
                  : " failed its health check: " + why +
                        (in.slow_checks > 1 ? " (" + std::to_string(in.slow_checks) + " in a row)"
                                            : "")));
  if (!ok && !in.ever_healthy && now >= in.fast_until && in.fast_until != Steady::time_point{}) {
    log_.warning(url + " has not passed a health check in " +
                 std::to_string(kFastProbeFor.count()) + " s (" + why +
                 "); probing at the normal interval");
    in.fast_until = Steady::time_point{};
  }
  // Slow: it was healthy (or slow already) and now only times out.
  in.slow = !ok && timed_out && (in.healthy || in.slow);
  in.healthy = ok;
  in.ever_healthy = in.ever_healthy || ok;
  return ok && in.models.empty();
}

void EndpointTable::set_models(const std::string& url, std::vector<std::string> models) {
  std::lock_guard<std::mutex> lk(mu_);
  if (auto it = instances_.find(url); it != instances_.end()) it->second.models = std::move(models);
}

bool EndpointTable::ready() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::set<std::string> p, d;
  for (const auto& [url, in] : instances_) {
    if (!usable(in)) continue;
    if (in.ep.role == Role::kBoth) return true;
    (in.ep.role == Role::kPrefill ? p : d).insert(in.ep.group);
  }
  for (const auto& g : p)
    if (d.count(g)) return true;
  return false;
}

std::vector<std::string> EndpointTable::models() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::set<std::string> all;
  for (const auto& [url, in] : instances_)
    if (in.listed) all.insert(in.models.begin(), in.models.end());
  return {all.begin(), all.end()};
}

bool EndpointTable::any_fast_probe(Steady::time_point now) const {
  std::lock_guard<std::mutex> lk(mu_);
  for (const auto& [url, in] : instances_)
    if (!in.ever_healthy && now < in.fast_until) return true;
  return false;
}

bool EndpointTable::probing_fast(const std::string& url, Steady::time_point now) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = instances_.find(url);
  return it != instances_.end() && !it->second.ever_healthy && now < it->second.fast_until;
}

}  // namespace hs::router
