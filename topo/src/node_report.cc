#include "hs/topo/node_report.h"

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace hs::topo {

namespace {
nlohmann::json ids(const IdSet& s) { return nlohmann::json(s.ids()); }
nlohmann::json opt(const std::optional<uint32_t>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}
}  // namespace

std::string to_json(const NodeTopology& t) {
  using nlohmann::json;
  json j;
  j["schema"] = "heteroscale.topo.node/v1";
  j["source"] = t.source;
  j["hostname"] = t.hostname;
  j["cores"] = t.cores;
  j["pus"] = t.pus;
  j["cpuset"] = t.cpuset.to_string();
  j["packages"] = json::array();
  for (const auto& p : t.packages)
    j["packages"].push_back({{"os_index", p.os_index},
                             {"cpuset", p.cpuset.to_string()},
                             {"numa_nodes", ids(p.numa_nodes)}});
  j["numa_nodes"] = json::array();
  for (const auto& n : t.numa_nodes)
    j["numa_nodes"].push_back({{"os_index", n.os_index},
                               {"cpuset", n.cpuset.to_string()},
                               {"memory_bytes", n.memory_bytes},
                               {"package", opt(n.package)}});
  j["gpus"] = json::array();
  for (const auto& g : t.gpus) {
    json nics = json::array();
    for (const auto& p : g.nics)
      nics.push_back({{"name", t.nics[p.nic].name}, {"path", std::string(to_string(p.path))}});
    j["gpus"].push_back({{"index", g.index},
                         {"pci_bus_id", g.pci.to_string()},
                         {"pci_id", g.pci_id},
                         {"vendor", std::string(to_string(g.vendor))},
                         {"model", g.model},
                         {"os_devices", g.os_devices},
                         {"numa_nodes", ids(g.numa_nodes)},
                         {"cpuset", g.cpuset.to_string()},
                         {"package", opt(g.package)},
                         {"nics", nics}});
  }
  j["nics"] = json::array();
  for (const auto& n : t.nics) {
    json ports = json::array();
    for (const auto& p : n.ports)
      ports.push_back({{"port", p.number},
                       {"state", p.state},
                       {"link_layer", p.link_layer},
                       {"rate_gbps", p.rate_gbps}});
    j["nics"].push_back({{"name", n.name},
                         {"pci_bus_id", n.pci.to_string()},
                         {"pci_id", n.pci_id},
                         {"model", n.model},
                         {"netdevs", n.netdevs},
                         {"ports", ports},
                         {"numa_nodes", ids(n.numa_nodes)},
                         {"cpuset", n.cpuset.to_string()},
                         {"package", opt(n.package)},
                         {"link_gbps", n.link_gbps()}});
  }
  j["notes"] = t.notes;
  return j.dump(2) + "\n";
}

std::string to_text(const NodeTopology& t) {
  std::string out;
  char line[512];
  auto join = [](const IdSet& s) { return s.empty() ? std::string("-") : s.to_string(); };
  std::snprintf(line, sizeof line,
                "node %s (%s): %zu package(s), %zu NUMA node(s), %u cores, %u PUs (CPUs %s)\n",
                t.hostname.empty() ? "?" : t.hostname.c_str(), t.source.c_str(), t.packages.size(),
                t.numa_nodes.size(), t.cores, t.pus, join(t.cpuset).c_str());
  out += line;
  for (const auto& n : t.numa_nodes) {
    std::snprintf(line, sizeof line, "  NUMA %u: CPUs %s, %.1f GiB%s\n", n.os_index,
                  join(n.cpuset).c_str(),
                  static_cast<double>(n.memory_bytes) / (1024.0 * 1024 * 1024),
                  n.package ? (", package " + std::to_string(*n.package)).c_str() : "");
    out += line;
  }
  std::snprintf(line, sizeof line, "%zu GPU(s)\n", t.gpus.size());
  out += line;
  for (const auto& g : t.gpus) {
    std::snprintf(line, sizeof line, "  GPU %u  %s  %s (%s)  NUMA %s  CPUs %s\n", g.index,
                  g.pci.to_string().c_str(), g.model.c_str(), g.pci_id.c_str(),
                  join(g.numa_nodes).c_str(), join(g.cpuset).c_str());
    out += line;
    if (!g.nics.empty()) {
      out += "         NICs nearest first:";
      for (const auto& p : g.nics) {
        out += ' ';
        out += t.nics[p.nic].name;
        out += '(';
        out += to_string(p.path);
        out += ')';
      }
      out += '\n';
    }
  }
  std::snprintf(line, sizeof line, "%zu RDMA NIC(s)\n", t.nics.size());
  out += line;
  for (const auto& n : t.nics) {
    std::string ports;
    for (const auto& p : n.ports) {
      ports += " port" + std::to_string(p.number) + "=" + p.state;
      if (!p.link_layer.empty()) ports += "/" + p.link_layer;
      if (p.rate_gbps > 0) {
        char r[32];
        std::snprintf(r, sizeof r, "/%gGb/s", p.rate_gbps);
        ports += r;
      }
    }
    std::string netdevs;
    for (const auto& d : n.netdevs) netdevs += (netdevs.empty() ? "" : ",") + d;
    std::snprintf(line, sizeof line, "  %-10s %s  NUMA %s  CPUs %s  netdev %s%s\n", n.name.c_str(),
                  n.pci.to_string().c_str(), join(n.numa_nodes).c_str(), join(n.cpuset).c_str(),
                  netdevs.empty() ? "-" : netdevs.c_str(), ports.c_str());
    out += line;
  }
  for (const auto& note : t.notes) out += "note: " + note + "\n";
  return out;
}

}  // namespace hs::topo
