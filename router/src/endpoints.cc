#include "hs/router/endpoints.h"

#include <nlohmann/json.hpp>
#include <set>

#include "hs/common/file.h"
#include "hs/common/http.h"

namespace hs::router {

namespace {

// Written by hs-launch for admins and the daemon; the router does not use them.
const std::set<std::string> kInfoFields = {"service",       "gpu_type", "job_id",
                                           "array_task_id", "id",       "heartbeat"};

}  // namespace

Result<std::vector<Endpoint>> parse_endpoints(const std::string& text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return invalid_argument(source + ": not JSON: " + e.what());
  }
  if (!j.is_array()) return invalid_argument(source + ": expected a JSON list of endpoints");
  std::vector<Endpoint> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& e = j[i];
    std::string where = source + ": endpoint " + std::to_string(i);
    if (!e.is_object()) return invalid_argument(where + ": expected an object");
    for (const auto& [k, v] : e.items())
      if (k != "url" && k != "role" && k != "group" && k != "draining" && !kInfoFields.count(k))
        return invalid_argument(where + ": unknown field '" + k + "'");
    for (const char* k : {"url", "role", "group"})
      if (!e.contains(k) || !e[k].is_string())
        return invalid_argument(where + ": field '" + k + "' must be a string");
    Endpoint ep;
    ep.url = e["url"].get<std::string>();
    auto u = http::parse_url(ep.url);
    if (!u.ok()) return invalid_argument(where + ": field 'url': " + u.error().message);
    ep.host = u->host;
    ep.port = u->port;
    auto r = parse_role(e["role"].get<std::string>());
    if (!r.ok()) return invalid_argument(where + ": field 'role': " + r.error().message);
    ep.role = *r;
    ep.group = e["group"].get<std::string>();
    if (ep.group.empty()) return invalid_argument(where + ": field 'group' is empty");
    if (e.contains("draining")) {
      if (!e["draining"].is_boolean())
        return invalid_argument(where + ": field 'draining' must be true or false");
      ep.draining = e["draining"].get<bool>();
    }
    if (!seen.insert(ep.url).second) return invalid_argument(where + ": duplicate url " + ep.url);
    out.push_back(std::move(ep));
  }
  return out;
}

Result<std::vector<Endpoint>> load_endpoints(const std::string& path) {
  auto text = read_file(path);
  if (!text.ok()) return text.error();
  return parse_endpoints(*text, path);
}

}  // namespace hs::router
