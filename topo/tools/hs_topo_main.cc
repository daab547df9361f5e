// hs-topo: what heteroscale knows about where things are.
//   hs-topo [--xml FILE] [--json] [--export-xml FILE]
//   hs-topo fabric (--topology-conf F | --ibnetdiscover F [--node-map F])
//                  [--json | --emit-topology-conf | --distance A B | --domains LEVEL]
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "hs/topo/discover.h"
#include "hs/topo/fabric_report.h"
#include "hs/topo/ibnetdiscover.h"
#include "hs/topo/node_report.h"
#include "hs/topo/topology_conf.h"

namespace po = boost::program_options;

namespace {

constexpr const char* kNodeUsage =
    "Usage: hs-topo [--xml FILE] [--json] [--export-xml FILE]\n"
    "       hs-topo fabric --help\n\n"
    "Shows this node's (or an hwloc XML export's) packages, NUMA nodes, GPUs and RDMA NICs,\n"
    "and for every GPU its local CPUs and NUMA node(s) and every NIC nearest first with its\n"
    "path class (PIX < PXB < PHB < NODE < SYS, as nvidia-smi topo -m).\n\nOptions";

constexpr const char* kFabricUsage =
    "Usage: hs-topo fabric (--topology-conf FILE | --ibnetdiscover FILE [--node-map FILE])\n"
    "                      [--json | --emit-topology-conf | --distance NODE_A NODE_B | --domains "
    "LEVEL]\n\n"
    "Reads a switch fabric from Slurm's topology.conf or from ibnetdiscover output and shows\n"
    "it, writes it as a topology.conf, tells how close two nodes are, or lists the switch\n"
    "domains (node sets) at a level (0 = leaf switches).\n\nOptions";

int fail(const hs::Error& e) {
  std::fprintf(stderr, "hs-topo: %s\n", e.to_string().c_str());
  return e.code == hs::ErrorCode::kInternal ? 3 : 1;
}

int usage_error(const std::string& msg, const char* usage) {
  std::fprintf(stderr, "hs-topo: %s\n(see: %s --help)\n", msg.c_str(), usage);
  return 2;
}

int run_node(const std::vector<std::string>& args) {
  po::options_description opts(kNodeUsage);
  std::string xml, export_xml;
  opts.add_options()("help,h", "show this help")(
      "xml", po::value<std::string>(&xml)->value_name("FILE"),
      "read an hwloc XML export (v1 or v2) instead of discovering this machine")(
      "json", "print JSON (schema heteroscale.topo.node/v1; see docs/hs-topo.md)")(
      "export-xml", po::value<std::string>(&export_xml)->value_name("FILE"),
      "write this machine's hwloc topology (with I/O devices) to FILE, atomically")(
      "no-verbs", "live mode: do not ask libibverbs for port state and rate");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what(), "hs-topo");
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (!export_xml.empty()) {
    if (!xml.empty())
      return usage_error("--export-xml exports this machine; it does not go with --xml", "hs-topo");
    auto st = hs::topo::export_live_xml(export_xml);
    if (!st.ok()) return fail(st.error());
    std::fprintf(stderr, "hs-topo: wrote %s\n", export_xml.c_str());
    return 0;
  }
  hs::topo::DiscoverOptions o;
  o.query_verbs = !vm.count("no-verbs");
  auto t = xml.empty() ? hs::topo::discover_live(o) : hs::topo::load_xml(xml, o);
  if (!t.ok()) return fail(t.error());
  if (vm.count("json")) {
    std::cout << hs::topo::to_json(*t);
  } else {
    std::cout << hs::topo::to_text(*t);
  }
  // Notes (e.g. "no RDMA stack") are facts, not errors: one info line each on stderr in JSON
  // mode so that stdout stays parseable; text mode already printed them.
  if (vm.count("json"))
    for (const auto& n : t->notes) std::fprintf(stderr, "hs-topo: info: %s\n", n.c_str());
  return 0;
}

int run_fabric(const std::vector<std::string>& args) {
  po::options_description opts(kFabricUsage);
  std::string conf, ibnet, node_map;
  std::vector<std::string> distance;
  int domains_level = -1;
  opts.add_options()("help,h", "show this help")("topology-conf",
                                                 po::value<std::string>(&conf)->value_name("FILE"),
                                                 "read Slurm's topology.conf (topology/tree)")(
      "ibnetdiscover", po::value<std::string>(&ibnet)->value_name("FILE"),
      "read ibnetdiscover output")(
      "node-map", po::value<std::string>(&node_map)->value_name("FILE"),
      "with --ibnetdiscover: \"ID-or-GUID HOSTNAME\" lines naming the channel adapters")(
      "json", "print the fabric as JSON (schema heteroscale.topo.fabric/v1)")(
      "emit-topology-conf", "print a topology.conf that Slurm's topology/tree plugin accepts")(
      "distance",
      po::value<std::vector<std::string>>(&distance)->multitoken()->value_name("NODE_A NODE_B"),
      "how close two nodes are: same_node < same_leaf < same_spine < further (with --json: as "
      "JSON)")("domains", po::value<int>(&domains_level)->value_name("LEVEL"),
               "the node set under each switch at LEVEL (0 = leaf switches)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what(), "hs-topo fabric");
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (conf.empty() == ibnet.empty())
    return usage_error("give exactly one of --topology-conf and --ibnetdiscover", "hs-topo fabric");
  if (!node_map.empty() && ibnet.empty())
    return usage_error("--node-map goes with --ibnetdiscover", "hs-topo fabric");
  int modes = static_cast<int>(vm.count("emit-topology-conf")) +
              static_cast<int>(vm.count("distance")) + static_cast<int>(vm.count("domains"));
  if (modes > 1)
    return usage_error("--emit-topology-conf, --distance and --domains are exclusive",
                       "hs-topo fabric");
  if (vm.count("distance") && distance.size() != 2)
    return usage_error("--distance takes two node names", "hs-topo fabric");
  if (vm.count("emit-topology-conf") && vm.count("json"))
    return usage_error("--emit-topology-conf and --json are exclusive", "hs-topo fabric");

  auto f = conf.empty() ? hs::topo::load_ibnetdiscover(ibnet, node_map)
                        : hs::topo::load_topology_conf(conf);
  if (!f.ok()) return fail(f.error());
  bool json = vm.count("json") > 0;
  if (vm.count("emit-topology-conf")) {
    std::cout << hs::topo::emit_topology_conf(*f, "from " + f->source());
  } else if (vm.count("distance")) {
    auto d = f->distance(distance[0], distance[1]);
    if (!d.ok()) return fail(d.error());
    std::cout << (json ? hs::topo::to_json(*d, distance[0], distance[1])
                       : hs::topo::to_text(*d, distance[0], distance[1]));
  } else if (vm.count("domains")) {
    if (domains_level < 0 || domains_level > f->max_level())
      return usage_error("--domains: level " + std::to_string(domains_level) + " is outside 0.." +
                             std::to_string(f->max_level()),
                         "hs-topo fabric");
    for (const auto& d : f->domains(domains_level)) {
      std::cout << d.switch_name << ":";
      for (const auto& n : d.nodes) std::cout << " " << n;
      std::cout << "\n";
    }
  } else {
    std::cout << (json ? hs::topo::to_json(*f) : hs::topo::to_text(*f));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (!args.empty() && args[0] == "fabric") return run_fabric({args.begin() + 1, args.end()});
    return run_node(args);
  } catch (const std::exception& e) {  // nothing should throw here; say so rather than abort
    std::fprintf(stderr, "hs-topo: internal error: %s\n", e.what());
    return 3;
  }
}
