#include "hs/topo/fabric_report.h"

#include <nlohmann/json.hpp>

#include "hs/topo/hostlist.h"

namespace hs::topo {

std::string to_json(const Fabric& f) {
  nlohmann::json j;
  j["schema"] = "heteroscale.topo.fabric/v1";
  j["source"] = f.source();
  j["node_count"] = f.node_count();
  j["levels"] = f.max_level() + 1;
  j["switches"] = nlohmann::json::array();
  for (const auto& s : f.switches()) {
    j["switches"].push_back({{"name", s.name},
                             {"level", s.level},
                             {"nodes", s.nodes},
                             {"children", s.children},
                             {"parents", s.parents},
                             {"peers", s.peers},
                             {"link_speed", s.link_speed}});
  }
  return j.dump(2) + "\n";
}

std::string to_text(const Fabric& f) {
  std::string out = "fabric " + f.source() + ": " + std::to_string(f.switches().size()) +
                    " switches, " + std::to_string(f.node_count()) + " nodes, " +
                    std::to_string(f.max_level() + 1) + " level(s)\n";
  for (const auto& s : f.switches()) {
    out += "  L" + std::to_string(s.level) + " " + s.name;
    if (!s.nodes.empty())
      out += "  nodes=" + compress_hostlist(s.nodes) + " (" + std::to_string(s.nodes.size()) + ")";
    if (!s.children.empty()) out += "  children=" + compress_hostlist(s.children);
    if (!s.parents.empty()) out += "  parents=" + compress_hostlist(s.parents);
    if (!s.peers.empty()) out += "  peers=" + compress_hostlist(s.peers);
    out += "\n";
  }
  return out;
}

std::string to_json(const NodeDistance& d, const std::string& a, const std::string& b) {
  nlohmann::json j = {{"a", a},
                      {"b", b},
                      {"tier", std::string(to_string(d.tier))},
                      {"level", d.level},
                      {"switches", d.switches}};
  return j.dump(2) + "\n";
}

std::string to_text(const NodeDistance& d, const std::string& a, const std::string& b) {
  std::string out = a + " <-> " + b + ": " + std::string(to_string(d.tier));
  if (d.level >= 0) out += " (level " + std::to_string(d.level) + ")";
  if (!d.switches.empty()) {
    out += " via";
    for (const auto& s : d.switches) out += " " + s;
  }
  return out + "\n";
}

}  // namespace hs::topo
