// A generated k-pod, 3-tier fat tree as topology.conf text, for fabric benchmarks at a scale
// no capture in the repo has.
#pragma once

#include <string>

namespace hs::bench {

struct FatTreeShape {
  int nodes = 10000;
  int nodes_per_leaf = 32;
  int leaves_per_pod = 16;
  int spines_per_pod = 8;  // each spine of a pod connects every leaf of the pod
  int cores = 16;          // each core connects every spine
};

// Node names are "n00001".."n10000"; switches "leafN", "spineP_S", "coreC".
std::string fat_tree_topology_conf(const FatTreeShape& shape);

}  // namespace hs::bench
