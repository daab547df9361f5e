#include "hs/router/endpoints.h"

#include <cstdint>

#include "hs/common/endpoint_set.h"
#include "hs/common/file.h"
#include "hs/common/http.h"

namespace hs::router {

Result<std::vector<Endpoint>> parse_endpoints(const std::string& text, const std::string& source) {
  auto entries = endpoint_set::parse(text, source);
  if (!entries.ok()) return entries.error();
  std::vector<Endpoint> out;
  for (const auto& e : *entries) {
    auto u = http::parse_url(e.url);  // checked by the reader: cannot fail here
    out.push_back({e.url, u.ok() ? u->host : "", u.ok() ? u->port : uint16_t{0}, e.role, e.group,
                   e.draining});
  }
  return out;
}

Result<std::vector<Endpoint>> load_endpoints(const std::string& path) {
  auto text = read_file(path);
  if (!text.ok()) return text.error();
  return parse_endpoints(*text, path);
}

}  // namespace hs::router
