// Slurm hostlist expressions: "gpu[001-016,020]", "rack[1-2]n[1-4]", "a,b[1-3]".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "hs/common/error.h"

namespace hs::topo {

// Expands an expression into names, in the order written. Commas outside brackets separate
// items; each bracket is a comma list of numbers or lo-hi ranges whose width (zero padding)
// is that of lo as written; several brackets in one item multiply. Host name characters are
// letters, digits, '-', '_' and '.'. Errors (InvalidArgument) name the bad part: unbalanced
// or nested brackets, empty items, descending ranges, non-digits in a range, more than
// `max_hosts` names.
Result<std::vector<std::string>> expand_hostlist(std::string_view expr, size_t max_hosts = 1000000);

// The shortest usual form of a set of names: duplicates dropped, natural order, names that
// differ only in a trailing number merged into ranges ("n1,n2,n3,n7" -> "n[1-3,7]"). Numbers
// written with leading zeros merge only with numbers of the same width. Expanding the result
// gives the same set.
std::string compress_hostlist(std::vector<std::string> names);

}  // namespace hs::topo
