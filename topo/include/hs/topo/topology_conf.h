// Slurm's topology.conf (topology/tree plugin) <-> Fabric.
#pragma once

#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/topo/fabric.h"

namespace hs::topo {

// Parses topology.conf text into switch declarations. Keys are case-insensitive as in Slurm:
// SwitchName (first on its line), Switches, Nodes, LinkSpeed. '#' starts a comment; a
// trailing '\' continues a line. Every error in the file is reported at once, each with
// "name:line:column": an unknown key, a key twice on one line, an empty value, a bad
// hostlist, a line not starting with SwitchName, topology/block keys.
Result<std::vector<SwitchDecl>> parse_topology_conf(const std::string& text,
                                                    const std::string& name);

// Reads and parses a file, then builds the fabric (reporting cross-line errors too).
Result<Fabric> load_topology_conf(const std::string& path);

// Writes a topology.conf Slurm's topology/tree plugin accepts: one line per switch in level
// order, nodes and child switches as compressed hostlists. Same-level peer links have no
// topology.conf form; they are listed in comments. Slurm 22.05 rejects mutual listings
// ("Switch configuration is not a tree"), so none are written.
std::string emit_topology_conf(const Fabric& fabric, const std::string& header_comment = {});

}  // namespace hs::topo
