// Fabric and NodeDistance as stable JSON (schema "heteroscale.topo.fabric/v1") and as text.
#pragma once

#include <string>

#include "hs/topo/fabric.h"

namespace hs::topo {

std::string to_json(const Fabric& f);
std::string to_text(const Fabric& f);
std::string to_json(const NodeDistance& d, const std::string& a, const std::string& b);
std::string to_text(const NodeDistance& d, const std::string& a, const std::string& b);

}  // namespace hs::topo
