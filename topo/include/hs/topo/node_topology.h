// The value-type model of one node: packages, NUMA nodes, GPUs, RDMA NICs and how near each
// GPU is to every NIC. Built by discover.h from hwloc (live or an XML export); plain data,
// freely copied, no hwloc types inside.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hs/common/id_set.h"
#include "hs/topo/path_class.h"
#include "hs/topo/pci_address.h"

namespace hs::topo {

struct Package {
  uint32_t os_index = 0;
  IdSet cpuset;      // OS CPU (PU) numbers
  IdSet numa_nodes;  // OS NUMA node numbers
};

struct NumaNode {
  uint32_t os_index = 0;
  IdSet cpuset;
  uint64_t memory_bytes = 0;
  std::optional<uint32_t> package;  // OS index of the package holding it, if any
};

enum class GpuVendor { kNvidia, kAmd };
std::string_view to_string(GpuVendor v);  // "nvidia", "amd"

// One port of an RDMA device.
struct NicPort {
  uint32_t number = 0;     // 1-based, as verbs numbers ports
  std::string state;       // "ACTIVE", "DOWN", "INIT", "ARMED", "ACTIVE_DEFER", "NOP", "UNKNOWN"
  std::string link_layer;  // "InfiniBand", "Ethernet", or "" when unknown (XML exports)
  double rate_gbps = 0;    // active width x lane speed; 0 when unknown
};

// An RDMA-capable device (an OpenFabrics OS device: mlx5_N, efa/rdmapN, hfi1_N, ...).
struct Nic {
  std::string name;  // the verbs device name, e.g. "mlx5_1"
  PciAddress pci;
  std::string pci_id;                // "15b3:1017"
  std::string model;                 // PCI device name where known
  std::vector<std::string> netdevs;  // network interfaces of the same PCI function ("ib0")
  std::vector<NicPort> ports;
  IdSet cpuset;  // CPUs local to the device
  IdSet numa_nodes;
  std::optional<uint32_t> package;
  double pci_link_gbytes = 0;  // PCIe link bandwidth as hwloc reports it, GB/s

  // The rate used to rank NICs: the fastest ACTIVE port's rate if known, otherwise the PCIe
  // link bandwidth in Gb/s, otherwise 0.
  double link_gbps() const;
};

// A NIC as seen from one GPU.
struct NicPath {
  size_t nic = 0;  // index into NodeTopology::nics
  PathClass path = PathClass::kSYS;
  bool same_package = false;
};

struct Gpu {
  uint32_t index = 0;  // position in PCI bus order (what CUDA_DEVICE_ORDER=PCI_BUS_ID gives)
  PciAddress pci;
  std::string pci_id;  // "10de:2330"
  GpuVendor vendor = GpuVendor::kNvidia;
  std::string model;                    // "NVIDIA H100 80GB HBM3", or the PCI device name
  std::vector<std::string> os_devices;  // "cuda0", "nvml0", "rsmi2", "card1", ...
  IdSet cpuset;                         // CPUs local to the GPU
  IdSet numa_nodes;                     // NUMA nodes local to the GPU
  std::optional<uint32_t> package;
  // Every NIC, nearest first: by path class, then same package first, then higher
  // link_gbps(), then natural name order (mlx5_2 before mlx5_10).
  std::vector<NicPath> nics;
};

struct NodeTopology {
  std::string source;    // "live" or the XML path
  std::string hostname;  // from the export's HostName info, or the live host; may be empty
  uint32_t cores = 0;
  uint32_t pus = 0;
  IdSet cpuset;  // every PU
  std::vector<Package> packages;
  std::vector<NumaNode> numa_nodes;
  std::vector<Gpu> gpus;  // in PCI bus order
  std::vector<Nic> nics;  // in natural name order
  // Facts worth one info line each (e.g. "no RDMA stack: 0 NICs").
  std::vector<std::string> notes;

  const Gpu* gpu_by_pci(const PciAddress& a) const;
  const Nic* nic_by_name(std::string_view name) const;
  // The nearest NIC of a GPU, or nullptr when the node has none.
  const Nic* nearest_nic(const Gpu& g) const;
};

}  // namespace hs::topo
