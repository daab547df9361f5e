#include "fat_tree.h"

#include <algorithm>
#include <cstdio>

namespace hs::bench {

std::string fat_tree_topology_conf(const FatTreeShape& s) {
  std::string out;
  char line[256];
  int leaves = (s.nodes + s.nodes_per_leaf - 1) / s.nodes_per_leaf;
  int pods = (leaves + s.leaves_per_pod - 1) / s.leaves_per_pod;
  for (int l = 0; l < leaves; ++l) {
    int first = l * s.nodes_per_leaf + 1;
    int last = std::min(s.nodes, first + s.nodes_per_leaf - 1);
    std::snprintf(line, sizeof line, "SwitchName=leaf%d Nodes=n[%05d-%05d]\n", l, first, last);
    out += line;
  }
  for (int p = 0; p < pods; ++p) {
    int fl = p * s.leaves_per_pod;
    int ll = std::min(leaves, fl + s.leaves_per_pod) - 1;
    for (int sp = 0; sp < s.spines_per_pod; ++sp) {
      std::snprintf(line, sizeof line, "SwitchName=spine%d_%d Switches=leaf[%d-%d]\n", p, sp, fl,
                    ll);
      out += line;
    }
  }
  for (int c = 0; c < s.cores; ++c) {
    std::snprintf(line, sizeof line, "SwitchName=core%d Switches=spine[0-%d]_[0-%d]\n", c, pods - 1,
                  s.spines_per_pod - 1);
    out += line;
  }
  return out;
}

}  // namespace hs::bench
