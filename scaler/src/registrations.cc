#include "hs/scaler/registrations.h"

#include "hs/common/endpoint_set.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>

#include "hs/common/http.h"
#include "hs/common/job_tag.h"
#include "hs/common/text.h"

namespace hs::scaler {

using nlohmann::json;

Registration registration_from(const endpoint_set::RegistrationBody& b, TimePoint at) {
  Registration r;
  r.url = b.url;
  r.role = b.role;
  r.service = b.service;
  r.group = b.group;
  r.gpu_type = b.gpu_type;
  r.job_id = b.job_id;
  r.array_task_id = b.array_task_id;
  r.registered = at;
  r.last_heartbeat = at;
  return r;
}

Status Registrations::upsert_json(const std::string& body, TimePoint now) {
  auto b = endpoint_set::parse_registration(body);
  if (!b.ok()) return b.error();
  Registration r = registration_from(*b, now);
  std::lock_guard lock(mu_);
  by_url_[r.url] = std::move(r);
  return {};
}

Status Registrations::heartbeat(const std::string& url, TimePoint now) {
  std::lock_guard lock(mu_);
  auto it = by_url_.find(url);
  if (it == by_url_.end()) return not_found("not registered (register again)", url);
  it->second.last_heartbeat = now;
  return {};
}

Status Registrations::self_draining(const std::string& url) {
  std::lock_guard lock(mu_);
  auto it = by_url_.find(url);
  if (it == by_url_.end()) return not_found("not registered", url);
  it->second.self_draining = true;
  return {};
}

Status Registrations::remove(const std::string& url) {
  std::lock_guard lock(mu_);
  if (!by_url_.erase(url)) return not_found("not registered", url);
  return {};
}

std::vector<Registration> Registrations::snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<Registration> out;
  out.reserve(by_url_.size());
  for (const auto& [u, r] : by_url_) out.push_back(r);
  return out;
}

std::vector<ServedEndpoint> served_endpoints(const EndpointInputs& in) {
  std::vector<ServedEndpoint> out;
  // (service, group) -> candidates per role, published first, then oldest registration.
  std::map<std::pair<std::string, std::string>, std::vector<const Registration*>> by_group;
  std::optional<TaskIndex> tasks;
  if (in.view) tasks.emplace(*in.view);
  for (const auto& r : *in.registrations) {
    if (in.now - r.last_heartbeat > in.heartbeat_timeout) continue;
    if (tasks) {
      const PoolTask* t = tasks->find(r.id());
      if (!t || t->state != JobState::kRunning) continue;
    }
    by_group[{r.service, r.group}].push_back(&r);
  }
  for (auto& [key, regs] : by_group) {
    std::sort(regs.begin(), regs.end(), [&](const Registration* a, const Registration* b) {
      bool pa = in.published.count(a->url), pb = in.published.count(b->url);
      if (pa != pb) return pa;
      return a->registered < b->registered;
    });
    double rp = 1, rd = 1;
    if (auto s = in.ratios.find(key.first); s != in.ratios.end())
      if (auto g = s->second.find(key.second); g != s->second.end()) std::tie(rp, rd) = g->second;
    uint32_t admitted[2] = {0, 0};  // serving (not draining) admitted, [0]=P [1]=D
    auto emit = [&](const Registration* r, bool draining) {
      out.push_back({r->url, r->service, r->group, r->gpu_type, r->id(), r->role, draining});
    };
    std::vector<const Registration*> waiting;
    for (const Registration* r : regs) {
      bool draining = r->self_draining || in.draining_ids.count(r->id());
      if (draining || in.published.count(r->url)) {
        emit(r, draining);
        if (!draining) ++admitted[r->role == Role::kPrefill ? 0 : 1];
      } else {
        waiting.push_back(r);
      }
    }
    // Units compared without division: P units = p/rp, D units = d/rd.
    bool progress = true;
    while (progress && !waiting.empty()) {
      progress = false;
      for (auto it = waiting.begin(); it != waiting.end(); ++it) {
        int me = (*it)->role == Role::kPrefill ? 0 : 1;
        double mine = admitted[me] + 1, other = admitted[1 - me];
        double r_me = me == 0 ? rp : rd, r_other = me == 0 ? rd : rp;
        // Enter if this role's units after it do not exceed the other's by more than one.
        bool ok = admitted[me] == 0 || mine * r_other <= (other + r_other) * r_me + 1e-9;
        if (!ok) continue;
        emit(*it, false);
        ++admitted[me];
        waiting.erase(it);
        progress = true;
        break;
      }
    }
  }
  return out;
}

std::string endpoints_json(const std::vector<ServedEndpoint>& eps, const std::string& service) {
  std::vector<endpoint_set::Entry> out;
  for (const auto& e : eps) {
    if (!service.empty() && e.service != service) continue;
    endpoint_set::Entry x;
    x.url = e.url;
    x.role = e.role;
    x.group = e.group;
    x.draining = e.draining;
    x.service = e.service;
    x.gpu_type = e.gpu_type;
    x.id = e.id;
    out.push_back(std::move(x));
  }
  return endpoint_set::to_json(out);
}

}  // namespace hs::scaler
