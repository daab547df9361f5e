// The simulated cluster: leaf switches of GPU nodes under spines, and KV-transfer bandwidth
// by how far apart a prefill and its decode are. YAML (sim/data/cluster-default.yaml).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/scaler/placement.h"
#include "hs/topo/fabric.h"

namespace hs::sim {

struct LeafSpec {
  std::string name;
  std::string spine;
  uint32_t nodes = 0;
  std::string gpu;
  uint32_t gpus_per_node = 8;
};

struct ClusterSpec {
  std::vector<LeafSpec> leaves;
  // KV transfer bandwidth (GB/s) by affinity tier; cross-switch paths are slower (the paper
  // reports ~20% less across switches).
  double kv_same_node_gbs = 100, kv_same_leaf_gbs = 25, kv_same_spine_gbs = 20, kv_further_gbs = 15;
  double queue_wait_s = 5;  // Slurm scheduling delay before an instance starts loading
};

struct Cluster {
  ClusterSpec spec;
  topo::Fabric fabric;
  std::vector<scaler::NodeInventory> nodes;  // all GPUs free at the start
  double kv_gbs(const std::string& a, const std::string& b) const;
};

Result<ClusterSpec> parse_cluster_yaml(const std::string& text, const std::string& name);
Result<ClusterSpec> load_cluster(const std::string& path);
Result<Cluster> build_cluster(const ClusterSpec& spec);
// Built in: 4 leaves under 2 spines — 8x8 H100 and 8x8 L40S per spine, mixed per leaf.
ClusterSpec default_cluster_spec();

}  // namespace hs::sim
