// The endpoint-set contract, defined once: the JSON list of engine instances a router serves
// from (written by heteroscaled's /hs/endpoints and by hs-launch's file registry, read by
// hs-router), and the registration body hs-launch posts to heteroscaled's /hs/register.
//
//   endpoint set: [{"url": "http://h:p", "role": "prefill|decode|both", "group": "g1",
//                   "draining": false, "service": "chat", "gpu_type": "h100",
//                   "id": "123_4", "job_id": "123", "array_task_id": "4", "heartbeat": 1.7e9}]
//     url, role, group are required; the rest is optional and informational for routers.
//   registration: {"url", "role" (prefill|decode), "service", "group", "job_id",
//                  "array_task_id", "gpu_type" (optional)}
// Readers are strict: an unknown field, a wrong type or a duplicate URL is an error naming
// the source, the entry and the field.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/common/role.h"

namespace hs::endpoint_set {

struct Entry {
  std::string url;
  Role role = Role::kBoth;
  std::string group;
  bool draining = false;
  // Informational (the router ignores them).
  std::string service, gpu_type, id, job_id, array_task_id;
  std::optional<double> heartbeat_unix_s;
};

std::string to_json(const std::vector<Entry>& entries);
Result<std::vector<Entry>> parse(const std::string& text, const std::string& source);

struct RegistrationBody {
  std::string url;
  Role role = Role::kDecode;
  std::string service, group, job_id, array_task_id, gpu_type;
};

std::string to_json(const RegistrationBody& r);
// InvalidArgument naming the field (where = the field's name).
Result<RegistrationBody> parse_registration(const std::string& body);

}  // namespace hs::endpoint_set
