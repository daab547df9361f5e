// hwloc 2.x -> NodeTopology. The same build() serves live discovery and XML exports.
#include "hs/topo/discover.h"

#include <hwloc.h>
#include <hwloc/export.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>

#include "hs/common/file.h"
#include "hs/common/text.h"
#include "io_locality.h"
#include "verbs_probe.h"
#include "xml_check.h"

#if HWLOC_API_VERSION < 0x00020000
#error "heteroscale needs hwloc 2.x (Debian 12 ships 2.9)"
#endif

namespace hs::topo {

namespace {

using detail::BridgeRole;
using detail::IoHop;
using detail::IoLocality;

struct TopologyDeleter {
  void operator()(hwloc_topology* t) const { hwloc_topology_destroy(t); }
};
using TopologyPtr = std::unique_ptr<hwloc_topology, TopologyDeleter>;

// hwloc's ABI changes with its major version; refuse a mismatched runtime library.
Status check_runtime_version() {
  unsigned runtime = hwloc_get_api_version();
  if ((runtime >> 16) != (HWLOC_API_VERSION >> 16))
    return failed_precondition("hwloc runtime API " + std::to_string(runtime >> 16) +
                               ".x does not match the " + std::to_string(HWLOC_API_VERSION >> 16) +
                               ".x heteroscale was built with");
  return ok_status();
}

Result<TopologyPtr> new_topology() {
  HS_RETURN_IF_ERROR(check_runtime_version());
  hwloc_topology_t raw = nullptr;
  if (hwloc_topology_init(&raw) != 0) return internal_error("hwloc_topology_init failed");
  TopologyPtr t(raw);
  // PCI devices and OS devices (GPUs, NICs) are dropped unless asked for; KEEP_IMPORTANT keeps
  // them and the bridges above them, not every PCI device of the machine.
  hwloc_topology_set_io_types_filter(t.get(), HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  return t;
}

IdSet to_idset(hwloc_const_bitmap_t b) {
  IdSet s;
  if (!b || hwloc_bitmap_iszero(b)) return s;
  if (hwloc_bitmap_weight(b) < 0) return s;  // infinite set: never for real cpusets
  std::vector<uint32_t> ids;
  int i;
  hwloc_bitmap_foreach_begin(i, b) { ids.push_back(static_cast<uint32_t>(i)); }
  hwloc_bitmap_foreach_end();
  return IdSet(std::move(ids));
}

bool is_host_bridge(hwloc_obj_t o) {
  return o && o->type == HWLOC_OBJ_BRIDGE && o->attr->bridge.upstream_type == HWLOC_OBJ_BRIDGE_HOST;
}

std::string info(hwloc_obj_t o, const char* name) {
  const char* v = hwloc_obj_get_info_by_name(o, name);
  return v ? v : "";
}

PciAddress pci_of(hwloc_obj_t o) {
  PciAddress a;
  a.domain = o->attr->pcidev.domain;
  a.bus = o->attr->pcidev.bus;
  a.device = o->attr->pcidev.dev;
  a.function = o->attr->pcidev.func;
  return a;
}

std::string pci_id_of(hwloc_obj_t o) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04x:%04x", o->attr->pcidev.vendor_id, o->attr->pcidev.device_id);
  return buf;
}

// Role and unit of every bridge, decided top-down (see io_locality.h).
class BridgeRoles {
 public:
  std::pair<BridgeRole, uint64_t> of(hwloc_obj_t b) {
    auto it = memo_.find(b);
    if (it != memo_.end()) return it->second;
    std::pair<BridgeRole, uint64_t> r;
    hwloc_obj_t p = b->parent;
    if (is_host_bridge(b)) {
      r = {BridgeRole::kHostBridge, b->gp_index};
    } else if (!p || p->type != HWLOC_OBJ_BRIDGE || is_host_bridge(p)) {
      r = {BridgeRole::kRootPort, b->gp_index};
    } else {
      auto pr = of(p);
      if (pr.first == BridgeRole::kUpstreamPort)
        r = {BridgeRole::kDownstreamPort, pr.second};
      else
        r = {BridgeRole::kUpstreamPort, b->gp_index};
    }
    memo_[b] = r;
    return r;
  }

 private:
  std::map<hwloc_obj_t, std::pair<BridgeRole, uint64_t>> memo_;
};

std::optional<uint32_t> package_of(hwloc_topology_t t, hwloc_obj_t o) {
  if (o->type == HWLOC_OBJ_PACKAGE) return o->os_index;
  hwloc_obj_t p = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_PACKAGE, o);
  if (p) return p->os_index;
  // A CPU-side object below the package level can still lie inside one package.
  if (o->cpuset && !hwloc_bitmap_iszero(o->cpuset)) {
    hwloc_obj_t pk = nullptr;
    while ((pk = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_PACKAGE, pk)) != nullptr) {
      if (hwloc_bitmap_isincluded(o->cpuset, pk->cpuset)) return pk->os_index;
    }
  }
  return std::nullopt;
}

struct Locality {
  IoLocality io;
  IdSet cpuset;
};

Locality locality_of(hwloc_topology_t t, hwloc_obj_t dev, BridgeRoles& roles) {
  Locality l;
  for (hwloc_obj_t p = dev->parent; p && p->type == HWLOC_OBJ_BRIDGE; p = p->parent) {
    auto [role, unit] = roles.of(p);
    l.io.chain.push_back(IoHop{p->gp_index, role == BridgeRole::kHostBridge, unit});
  }
  hwloc_obj_t cpu_side = hwloc_get_non_io_ancestor_obj(t, dev);
  if (cpu_side) {
    l.cpuset = to_idset(cpu_side->cpuset);
    l.io.numa_nodes = to_idset(cpu_side->nodeset);
    l.io.package = package_of(t, cpu_side);
  }
  return l;
}

hwloc_obj_t pci_parent(hwloc_obj_t o) {
  for (hwloc_obj_t p = o->parent; p; p = p->parent) {
    if (p->type == HWLOC_OBJ_PCI_DEVICE) return p;
  }
  return nullptr;
}

// Port state/LID/GID as hwloc's Linux backend records them in exports: "Port1State" = 4.
std::vector<NicPort> ports_from_infos(hwloc_obj_t osdev) {
  std::vector<NicPort> ports;
  for (unsigned i = 0; i < osdev->infos_count; ++i) {
    std::string_view n = osdev->infos[i].name;
    if (!starts_with(n, "Port") || !ends_with(n, "State")) continue;
    auto num = parse_u64(n.substr(4, n.size() - 4 - 5));
    auto st = parse_u64(osdev->infos[i].value);
    if (!num.ok() || !st.ok()) continue;
    NicPort p;
    p.number = static_cast<uint32_t>(*num);
    p.state = detail::port_state_name(static_cast<int>(*st));
    ports.push_back(p);
  }
  std::sort(ports.begin(), ports.end(), [](auto& a, auto& b) { return a.number < b.number; });
  return ports;
}

bool is_gpu(hwloc_obj_t pci, GpuVendor* vendor) {
  // PCI class 03xx: display controllers (VGA 0300, 3D 0302). NVSwitches are 0680 and the
  // BMC's VGA is another vendor, so neither counts.
  if ((pci->attr->pcidev.class_id >> 8) != 0x03) return false;
  if (pci->attr->pcidev.vendor_id == 0x10de) {
    *vendor = GpuVendor::kNvidia;
    return true;
  }
  if (pci->attr->pcidev.vendor_id == 0x1002) {
    *vendor = GpuVendor::kAmd;
    return true;
  }
  return false;
}

NodeTopology build(hwloc_topology_t t, std::string source, const detail::VerbsInventory* verbs) {
  NodeTopology nt;
  nt.source = std::move(source);
  nt.hostname = info(hwloc_get_root_obj(t), "HostName");
  nt.cores = static_cast<uint32_t>(std::max(0, hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE)));
  nt.pus = static_cast<uint32_t>(std::max(0, hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU)));
  nt.cpuset = to_idset(hwloc_topology_get_topology_cpuset(t));

  for (hwloc_obj_t o = nullptr; (o = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_PACKAGE, o));) {
    nt.packages.push_back(Package{o->os_index, to_idset(o->cpuset), to_idset(o->nodeset)});
  }
  for (hwloc_obj_t o = nullptr; (o = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_NUMANODE, o));) {
    NumaNode n;
    n.os_index = o->os_index;
    n.cpuset = to_idset(o->cpuset);
    n.memory_bytes = o->attr->numanode.local_memory;
    n.package = package_of(t, o);
    nt.numa_nodes.push_back(std::move(n));
  }
  std::sort(nt.numa_nodes.begin(), nt.numa_nodes.end(),
            [](auto& a, auto& b) { return a.os_index < b.os_index; });

  BridgeRoles roles;
  std::vector<IoLocality> gpu_io, nic_io;

  for (hwloc_obj_t o = nullptr; (o = hwloc_get_next_pcidev(t, o));) {
    GpuVendor vendor;
    if (!is_gpu(o, &vendor)) continue;
    Gpu g;
    g.pci = pci_of(o);
    g.pci_id = pci_id_of(o);
    g.vendor = vendor;
    for (hwloc_obj_t c = o->io_first_child; c; c = c->next_sibling) {
      if (c->type != HWLOC_OBJ_OS_DEVICE) continue;
      if (c->name) g.os_devices.push_back(c->name);
      if (g.model.empty()) g.model = info(c, "GPUModel");
    }
    if (g.model.empty()) g.model = info(o, "PCIDevice");
    if (g.model.empty()) g.model = g.pci_id;
    Locality l = locality_of(t, o, roles);
    g.cpuset = l.cpuset;
    g.numa_nodes = l.io.numa_nodes;
    g.package = l.io.package;
    nt.gpus.push_back(std::move(g));
    gpu_io.push_back(std::move(l.io));
  }

  for (hwloc_obj_t o = nullptr; (o = hwloc_get_next_osdev(t, o));) {
    if (o->attr->osdev.type != HWLOC_OBJ_OSDEV_OPENFABRICS || !o->name) continue;
    hwloc_obj_t pci = pci_parent(o);
    if (!pci) continue;  // soft RDMA (rxe, siw) has no PCI locality to rank by
    Nic n;
    n.name = o->name;
    n.pci = pci_of(pci);
    n.pci_id = pci_id_of(pci);
    n.model = info(pci, "PCIDevice");
    n.pci_link_gbytes = pci->attr->pcidev.linkspeed;
    for (hwloc_obj_t c = pci->io_first_child; c; c = c->next_sibling) {
      if (c->type == HWLOC_OBJ_OS_DEVICE && c->attr->osdev.type == HWLOC_OBJ_OSDEV_NETWORK &&
          c->name)
        n.netdevs.push_back(c->name);
    }
    n.ports = ports_from_infos(o);
    Locality l = locality_of(t, pci, roles);
    n.cpuset = l.cpuset;
    n.numa_nodes = l.io.numa_nodes;
    n.package = l.io.package;
    nt.nics.push_back(std::move(n));
    nic_io.push_back(std::move(l.io));
  }

  if (verbs) {
    if (!verbs->note.empty()) nt.notes.push_back(verbs->note);
    for (const auto& d : verbs->devices) {
      auto it =
          std::find_if(nt.nics.begin(), nt.nics.end(), [&](auto& n) { return n.name == d.name; });
      if (it == nt.nics.end()) {
        nt.notes.push_back("RDMA device " + d.name + " has no PCI locality in hwloc; not ranked");
        continue;
      }
      if (!d.note.empty()) nt.notes.push_back("RDMA device " + d.name + ": " + d.note);
      if (!d.ports.empty()) it->ports = d.ports;  // live state beats hwloc's snapshot
    }
  }

  // GPUs in PCI bus order; NICs in natural name order. Keep the localities aligned.
  std::vector<size_t> gi(nt.gpus.size()), ni(nt.nics.size());
  for (size_t i = 0; i < gi.size(); ++i) gi[i] = i;
  for (size_t i = 0; i < ni.size(); ++i) ni[i] = i;
  std::sort(gi.begin(), gi.end(),
            [&](size_t a, size_t b) { return nt.gpus[a].pci < nt.gpus[b].pci; });
  std::sort(ni.begin(), ni.end(),
            [&](size_t a, size_t b) { return natural_less(nt.nics[a].name, nt.nics[b].name); });
  std::vector<Gpu> gpus;
  std::vector<IoLocality> gio;
  for (size_t i : gi) {
    gpus.push_back(std::move(nt.gpus[i]));
    gio.push_back(std::move(gpu_io[i]));
  }
  std::vector<Nic> nics;
  std::vector<IoLocality> nio;
  for (size_t i : ni) {
    nics.push_back(std::move(nt.nics[i]));
    nio.push_back(std::move(nic_io[i]));
  }
  nt.gpus = std::move(gpus);
  nt.nics = std::move(nics);

  for (size_t g = 0; g < nt.gpus.size(); ++g) {
    Gpu& gpu = nt.gpus[g];
    gpu.index = static_cast<uint32_t>(g);
    for (size_t k = 0; k < nt.nics.size(); ++k) {
      NicPath p;
      p.nic = k;
      p.path = detail::classify(gio[g], nio[k]);
      p.same_package = gpu.package && nt.nics[k].package && *gpu.package == *nt.nics[k].package;
      gpu.nics.push_back(p);
    }
    std::stable_sort(gpu.nics.begin(), gpu.nics.end(), [&](const NicPath& a, const NicPath& b) {
      if (a.path != b.path) return a.path < b.path;
      if (a.same_package != b.same_package) return a.same_package;
      double ra = nt.nics[a.nic].link_gbps(), rb = nt.nics[b.nic].link_gbps();
      if (ra != rb) return ra > rb;
      return natural_less(nt.nics[a.nic].name, nt.nics[b.nic].name);
    });
  }
  return nt;
}

Result<NodeTopology> load_checked_xml(const std::string& xml, const std::string& name) {
  HS_RETURN_IF_ERROR(detail::check_xml(xml, name, "topology"));
  auto t = new_topology();
  if (!t.ok()) return t.error();
  if (hwloc_topology_set_xmlbuffer(t->get(), xml.data(), static_cast<int>(xml.size() + 1)) != 0)
    return invalid_argument(
        std::string("hwloc cannot read this XML export: ") + std::strerror(errno), name);
  if (hwloc_topology_load(t->get()) != 0)
    return invalid_argument(std::string("hwloc rejected this XML export: ") + std::strerror(errno) +
                                " (not an hwloc v1/v2 topology, or written by hwloc 3.x?)",
                            name);
  if (hwloc_get_nbobjs_by_type(t->get(), HWLOC_OBJ_PU) <= 0)
    return invalid_argument("the export describes no processing units", name);
  return build(t->get(), name, nullptr);
}

}  // namespace

Result<NodeTopology> load_xml(const std::string& path, const DiscoverOptions&) {
  auto text = read_file(path, size_t{64} << 20);
  if (!text.ok()) return text.error();
  return load_checked_xml(*text, path);
}

Result<NodeTopology> load_xml_buffer(const std::string& xml, const std::string& name,
                                     const DiscoverOptions&) {
  return load_checked_xml(xml, name);
}

Result<NodeTopology> discover_live(const DiscoverOptions& options) {
  auto t = new_topology();
  if (!t.ok()) return t.error();
  if (hwloc_topology_load(t->get()) != 0)
    return internal_error(std::string("hwloc could not discover this machine: ") +
                          std::strerror(errno));
  detail::VerbsInventory verbs;
  if (options.query_verbs) verbs = detail::probe_verbs();
  NodeTopology nt = build(t->get(), "live", options.query_verbs ? &verbs : nullptr);
  if (nt.hostname.empty()) {
    char host[256] = {0};
    if (gethostname(host, sizeof host - 1) == 0) nt.hostname = host;
  }
  return nt;
}

Status export_live_xml(const std::string& path) {
  auto t = new_topology();
  if (!t.ok()) return t.error();
  if (hwloc_topology_load(t->get()) != 0)
    return internal_error(std::string("hwloc could not discover this machine: ") +
                          std::strerror(errno));
  char* buf = nullptr;
  int len = 0;
  if (hwloc_topology_export_xmlbuffer(t->get(), &buf, &len, 0) != 0)
    return internal_error(std::string("hwloc could not export XML: ") + std::strerror(errno));
  // hwloc counts the terminating NUL in len.
  std::string xml(buf, len > 0 ? static_cast<size_t>(len - 1) : 0);
  hwloc_free_xmlbuffer(t->get(), buf);
  return write_file_atomic(path, xml, 0644);
}

std::string hwloc_runtime_version() {
  unsigned v = hwloc_get_api_version();
  return std::to_string(v >> 16) + "." + std::to_string((v >> 8) & 0xff) + "." +
         std::to_string(v & 0xff);
}

}  // namespace hs::topo
