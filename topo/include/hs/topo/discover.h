// Building a NodeTopology from hwloc 2.x: from the live machine (plus libibverbs for port
// state and rate) or from an hwloc XML export (v1 or v2 format). The same code serves both.
#pragma once

#include <string>

#include "hs/common/error.h"
#include "hs/topo/node_topology.h"

namespace hs::topo {

struct DiscoverOptions {
  // Ask libibverbs for each RDMA device's ports in live mode. Where the RDMA stack is absent
  // (ibv_get_device_list fails with ENOSYS, or lists nothing) the node has no NICs: a note,
  // not an error. Default: true.
  bool query_verbs = true;
};

// Loads an hwloc XML export. The file is checked for well-formedness first so that a
// truncated or foreign file is reported with its line; errors are InvalidArgument (bad
// content, naming file and line), NotFound or PermissionDenied (naming the file).
Result<NodeTopology> load_xml(const std::string& path, const DiscoverOptions& options = {});

// Same, from XML text in memory; `name` is used in errors and as NodeTopology::source.
Result<NodeTopology> load_xml_buffer(const std::string& xml, const std::string& name,
                                     const DiscoverOptions& options = {});

// Discovers the machine this runs on. Fails only if hwloc itself fails.
Result<NodeTopology> discover_live(const DiscoverOptions& options = {});

// Writes the live machine's hwloc topology (with I/O devices) as XML to `path`, atomically,
// so that later processes can load it instead of re-scanning PCI (the SPANK plugin's cache).
Status export_live_xml(const std::string& path);

// The hwloc library version this process runs with, e.g. "2.9.0".
std::string hwloc_runtime_version();

}  // namespace hs::topo
