#include "hs/scaler/registrations.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "hs/common/http.h"
#include "hs/common/job_tag.h"
#include "hs/common/text.h"

namespace hs::scaler {

using nlohmann::json;

Status Registrations::upsert_json(const std::string& body, TimePoint now) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    return invalid_argument(std::string("not JSON: ") + e.what(), "body");
  }
  if (!j.is_object()) return invalid_argument("expected a JSON object", "body");
  Registration r;
  auto str = [&](const char* k, std::string& out, bool required) -> Status {
    if (!j.contains(k)) {
      if (required) return invalid_argument("required", k);
      return {};
    }
    if (!j[k].is_string()) return invalid_argument("expected a string", k);
    out = j[k].get<std::string>();
    return {};
  };
  std::string role;
  for (auto [k, out, req] :
       {std::tuple{"url", &r.url, true}, std::tuple{"role", &role, true},
        std::tuple{"service", &r.service, true}, std::tuple{"group", &r.group, true},
        std::tuple{"gpu_type", &r.gpu_type, false}, std::tuple{"job_id", &r.job_id, true},
        std::tuple{"array_task_id", &r.array_task_id, true}}) {
    auto st = str(k, *out, req);
    if (!st.ok()) return st;
  }
  if (!http::parse_url(r.url).ok()) return invalid_argument("expected http://host:port", "url");
  auto rr = parse_role(role);
  if (!rr.ok() || *rr == Role::kBoth) return invalid_argument("expected prefill or decode", "role");
  r.role = *rr;
  for (auto [k, v] : {std::pair{"service", &r.service}, std::pair{"group", &r.group}})
    if (!valid_tag_value(*v)) return invalid_argument("expected [A-Za-z0-9._-]{1,64}", k);
  if (!parse_u64(r.job_id).ok()) return invalid_argument("expected a Slurm job id", "job_id");
  if (!parse_u64(r.array_task_id).ok())
    return invalid_argument("expected an array task id (hs-launch must run as an array task)",
                            "array_task_id");
  r.registered = now;
  r.last_heartbeat = now;
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
  for (const auto& r : *in.registrations) {
    if (in.now - r.last_heartbeat > in.heartbeat_timeout) continue;
    if (in.view) {
      const PoolTask* t = in.view->find_task(r.id());
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
    uint32_t rp = 1, rd = 1;
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
    // Units as fractions compared without division: P units = p/rp, D units = d/rd.
    bool progress = true;
    while (progress && !waiting.empty()) {
      progress = false;
      for (auto it = waiting.begin(); it != waiting.end(); ++it) {
        int me = (*it)->role == Role::kPrefill ? 0 : 1;
        uint64_t mine = admitted[me] + 1, other = admitted[1 - me];
        uint64_t r_me = me == 0 ? rp : rd, r_other = me == 0 ? rd : rp;
        // Enter if this role's units after it do not exceed the other's by more than one.
        bool ok = admitted[me] == 0 || mine * r_other <= (other + r_other) * r_me;
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
  json a = json::array();
  for (const auto& e : eps) {
    if (!service.empty() && e.service != service) continue;
    a.push_back({{"url", e.url},
                 {"role", std::string(to_string(e.role))},
                 {"group", e.group},
                 {"draining", e.draining},
                 {"service", e.service},
                 {"gpu_type", e.gpu_type},
                 {"id", e.id}});
  }
  return a.dump(1);
}

}  // namespace hs::scaler
