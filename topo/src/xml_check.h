// A well-formedness scan of an XML document, done before handing a file to hwloc: hwloc's
// loaders report a failure without a line, and a truncated export (a copy cut short, a full
// disk) is the common bad input. Not a validating parser: it checks tags balance, quotes
// close, and the root element is what the caller expects.
#pragma once

#include <string>
#include <string_view>

#include "hs/common/error.h"

namespace hs::topo::detail {

// Errors are InvalidArgument with where = "name:line".
Status check_xml(std::string_view xml, const std::string& name, std::string_view root_element);

}  // namespace hs::topo::detail
