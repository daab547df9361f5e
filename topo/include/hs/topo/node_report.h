// NodeTopology as stable JSON (schema "heteroscale.topo.node/v1", documented in
// docs/hs-topo.md) and as text for people.
#pragma once

#include <string>

#include "hs/topo/node_topology.h"

namespace hs::topo {

std::string to_json(const NodeTopology& t);  // pretty-printed, trailing newline
std::string to_text(const NodeTopology& t);

}  // namespace hs::topo
