#include "io_locality.h"

#include <algorithm>
#include <cstdint>

namespace hs::topo::detail {

PathClass classify(const IoLocality& a, const IoLocality& b) {
  for (size_t i = 0; i < a.chain.size(); ++i) {
    auto it = std::find_if(b.chain.begin(), b.chain.end(),
                           [&](const IoHop& h) { return h.id == a.chain[i].id; });
    if (it == b.chain.end()) continue;
    const IoHop& lca = a.chain[i];
    if (lca.host_bridge) return PathClass::kPHB;
    std::vector<uint64_t> units;
    for (size_t k = 0; k <= i; ++k) units.push_back(a.chain[k].unit);
    for (auto k = b.chain.begin(); k <= it; ++k) units.push_back(k->unit);
    std::sort(units.begin(), units.end());
    units.erase(std::unique(units.begin(), units.end()), units.end());
    return units.size() == 1 ? PathClass::kPIX : PathClass::kPXB;
  }
  if (!a.numa_nodes.empty() && a.numa_nodes.intersects(b.numa_nodes)) return PathClass::kNODE;
  return PathClass::kSYS;
}

}  // namespace hs::topo::detail
