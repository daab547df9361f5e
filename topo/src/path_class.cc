#include "hs/topo/path_class.h"

#include <string>

#include "hs/common/text.h"

namespace hs::topo {

std::string_view to_string(PathClass p) {
  switch (p) {
    case PathClass::kPIX:
      return "PIX";
    case PathClass::kPXB:
      return "PXB";
    case PathClass::kPHB:
      return "PHB";
    case PathClass::kNODE:
      return "NODE";
    case PathClass::kSYS:
      return "SYS";
  }
  return "SYS";
}

Result<PathClass> parse_path_class(std::string_view text) {
  for (PathClass p :
       {PathClass::kPIX, PathClass::kPXB, PathClass::kPHB, PathClass::kNODE, PathClass::kSYS}) {
    if (text == to_string(p)) return p;
  }
  return invalid_argument("unknown path class " + quote(text) +
                          " (expected PIX, PXB, PHB, NODE or SYS)");
}

}  // namespace hs::topo
