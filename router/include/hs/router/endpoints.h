// The live endpoint set the router serves from: each engine instance's URL, role and
// deployment group. Today it comes from a JSON file (written by an admin, a script or the
// daemon); the router re-reads it on change and keeps the last good set when a new one is bad.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/common/role.h"

namespace hs::router {

struct Endpoint {
  std::string url;  // "http://10.0.0.5:8100"
  std::string host;
  uint16_t port = 0;
  Role role = Role::kBoth;
  std::string group;      // deployment group: a prefill hands KV only to a decode of its group
  bool draining = false;  // gets no new requests
};

// The endpoint-set JSON of common/endpoint_set.h (informational fields accepted and ignored).
// Errors name `source`, the entry index and the field; duplicate URLs are errors.
Result<std::vector<Endpoint>> parse_endpoints(const std::string& text, const std::string& source);
Result<std::vector<Endpoint>> load_endpoints(const std::string& path);

}  // namespace hs::router
