#include "hs/common/endpoint_set.h"

#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "hs/common/http.h"
#include "hs/common/job_tag.h"
#include "hs/common/text.h"

namespace hs::endpoint_set {

using json = nlohmann::json;

namespace {

const char* const kStringFields[] = {"service", "gpu_type", "id", "job_id", "array_task_id"};

// The informational string fields by name (E: Entry or const Entry).
template <class E>
auto string_field(E& e, std::string_view k) -> decltype(&e.service) {
  if (k == "service") return &e.service;
  if (k == "gpu_type") return &e.gpu_type;
  if (k == "id") return &e.id;
  if (k == "job_id") return &e.job_id;
  if (k == "array_task_id") return &e.array_task_id;
  return nullptr;
}

}  // namespace

std::string to_json(const std::vector<Entry>& entries) {
  json a = json::array();
  for (const auto& e : entries) {
    json j = {{"url", e.url},
              {"role", std::string(to_string(e.role))},
              {"group", e.group},
              {"draining", e.draining}};
    for (const char* k : kStringFields)
      if (const std::string* v = string_field(e, k); v && !v->empty()) j[k] = *v;
    if (e.heartbeat_unix_s) j["heartbeat"] = *e.heartbeat_unix_s;
    a.push_back(std::move(j));
  }
  return a.dump(1) + "\n";
}

Result<std::vector<Entry>> parse(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    return invalid_argument(source + ": not JSON: " + e.what());
  }
  if (!j.is_array()) return invalid_argument(source + ": expected a JSON list of endpoints");
  std::vector<Entry> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& x = j[i];
    std::string where = source + ": endpoint " + std::to_string(i);
    if (!x.is_object()) return invalid_argument(where + ": expected an object");
    Entry e;
    for (const auto& [k, v] : x.items()) {
      if (k == "url" || k == "role" || k == "group") {
        if (!v.is_string()) return invalid_argument(where + ": field '" + k + "' must be a string");
      } else if (k == "draining") {
        if (!v.is_boolean())
          return invalid_argument(where + ": field 'draining' must be true or false");
        e.draining = v.get<bool>();
      } else if (k == "heartbeat") {
        if (!v.is_number()) return invalid_argument(where + ": field 'heartbeat' must be a number");
        e.heartbeat_unix_s = v.get<double>();
      } else if (std::string* s = string_field(e, k)) {
        if (!v.is_string()) return invalid_argument(where + ": field '" + k + "' must be a string");
        *s = v.get<std::string>();
      } else {
        return invalid_argument(where + ": unknown field '" + k + "'");
      }
    }
    for (const char* k : {"url", "role", "group"})
      if (!x.contains(k)) return invalid_argument(where + ": field '" + k + "' must be a string");
    e.url = x["url"].get<std::string>();
    auto u = http::parse_url(e.url);
    if (!u.ok()) return invalid_argument(where + ": field 'url': " + u.error().message);
    auto r = parse_role(x["role"].get<std::string>());
    if (!r.ok()) return invalid_argument(where + ": field 'role': " + r.error().message);
    e.role = *r;
    e.group = x["group"].get<std::string>();
    if (e.group.empty()) return invalid_argument(where + ": field 'group' is empty");
    if (!seen.insert(e.url).second) return invalid_argument(where + ": duplicate url " + e.url);
    out.push_back(std::move(e));
  }
  return out;
}

std::string to_json(const RegistrationBody& r) {
  json j = {{"url", r.url},         {"role", std::string(to_string(r.role))},
            {"service", r.service}, {"group", r.group},
            {"job_id", r.job_id},   {"array_task_id", r.array_task_id}};
  if (!r.gpu_type.empty()) j["gpu_type"] = r.gpu_type;
  return j.dump();
}

Result<RegistrationBody> parse_registration(const std::string& body) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    return invalid_argument(std::string("not JSON: ") + e.what(), "body");
  }
  if (!j.is_object()) return invalid_argument("expected a JSON object", "body");
  RegistrationBody r;
  std::string role;
  const std::tuple<const char*, std::string*, bool> fields[] = {
      {"url", &r.url, true},
      {"role", &role, true},
      {"service", &r.service, true},
      {"group", &r.group, true},
      {"gpu_type", &r.gpu_type, false},
      {"job_id", &r.job_id, true},
      {"array_task_id", &r.array_task_id, true}};
  for (const auto& [k, v] : j.items()) {
    bool known = false;
    for (const auto& f : fields) known |= k == std::get<0>(f);
    if (!known) return invalid_argument("unknown field", k);
  }
  for (const auto& [k, out, required] : fields) {
    if (!j.contains(k)) {
      if (required) return invalid_argument("required", k);
      continue;
    }
    if (!j[k].is_string()) return invalid_argument("expected a string", k);
    *out = j[k].get<std::string>();
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
  return r;
}

}  // namespace hs::endpoint_set
