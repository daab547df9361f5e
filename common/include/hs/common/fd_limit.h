// The process's limit on open files, which bounds how many connections a server can hold.
// Servers raise their soft limit to the hard one at start, as nginx's worker_rlimit_nofile and
// Go's runtime do: the soft default (often 1024) is a guard for old select() code, and a
// router holding thousands of streams needs a socket for each, plus one upstream.
#pragma once

#include <cstddef>

namespace hs {

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force.
size_t raise_fd_limit();
// The soft RLIMIT_NOFILE in force.
size_t fd_limit();

}  // namespace hs
