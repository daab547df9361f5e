// Slurm names a GPU by its gres.conf File= position — for NVIDIA the /dev/nvidiaN minor —
// which is not PCI bus order. Pinning needs the GPU's PCI address; this maps one to the other.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "hs/common/error.h"
#include "hs/topo/pci_address.h"

namespace hs::plugin {

using GpuMap = std::map<uint32_t, topo::PciAddress>;  // Slurm GPU index -> PCI address

// "INDEX PCI_BUS_ID" lines, '#' comments. Errors name file:line.
Result<GpuMap> parse_gpu_map(const std::string& text, const std::string& name);
Result<GpuMap> load_gpu_map(const std::string& path);

// The NVIDIA driver's view: each /proc/driver/nvidia/gpus/<bus id>/information has a
// "Device Minor:" line. `root` is the directory holding the per-GPU folders (tests point it
// elsewhere). NotFound if the directory does not exist (no NVIDIA driver).
Result<GpuMap> read_nvidia_proc(const std::string& root = "/proc/driver/nvidia/gpus");

}  // namespace hs::plugin
