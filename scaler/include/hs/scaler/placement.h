// Where a service's growth goes and what its shrink takes, over deployment groups: a group is
// one prefill pool and one decode pool of a service bound to one switch domain. Pure: the
// inputs are the fabric, the nodes' free GPUs and the current groups; nothing is reserved
// outside the returned result.
//
// Growth, one ratio unit at a time, all-or-nothing per unit (gang): every candidate — each
// existing group of the service with room, and a new group in each domain at the service's
// affinity level that holds both roles' GPU types — is scored by
//   1. the domain's hardware tier (the paper's RDMA subgroups): homogeneous (1) <
//      heterogeneous domain of homogeneous leaves (2) < a leaf that mixes GPU types (4),
//      so loose needs do not eat scarce mixed leaves;
//   2. an existing group before a new one (fill groups first);
//   3. best fit: the fewest free GPUs left in the domain, then the domain's name.
// Variants are tried in preference order: a fallback variant only when no candidate fits the
// preferred one. GPUs placed are deducted at once (a virtual reservation), so two services in
// one decision never take the same GPUs; services go in priority order; GPU budgets per type
// cap the total. Shrink takes units from the group on the scarcest tier first, then the
// newest group, and its newest instances. Freed GPUs are not reused in the same decision.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hs/scaler/metrics.h"
#include "hs/scaler/service_config.h"
#include "hs/topo/fabric.h"

namespace hs::scaler {

struct NodeInventory {
  std::string name;
  std::string gpu_type;
  uint32_t free_gpus = 0;
  bool available = true;  // false: down, drained, or reserved for maintenance
};

struct GroupInstance {
  std::string id;
  Role role = Role::kDecode;
  std::string node;
  uint64_t seq = 0;  // creation order: higher is newer
};

struct DeploymentGroup {
  std::string service;
  std::string id;       // e.g. "chat-g1"
  std::string variant;  // the service's variant name
  std::string domain;   // switch name, or "*" for affinity any
  uint64_t created_seq = 0;
  std::vector<GroupInstance> instances;
  bool frozen = false;  // an array of it is held in Slurm: neither grown nor shrunk
};

struct PlacementRequest {
  const ServiceConfig* service = nullptr;
  int64_t delta_units = 0;  // + grow, - shrink
};

struct PlacedInstance {
  Role role = Role::kDecode;
  std::string node;
  std::string gpu_type;
  uint32_t gpus = 0;
};

struct GroupAction {
  enum class Kind { kGrow, kOpen, kShrink };
  Kind kind = Kind::kGrow;
  std::string service;
  std::string group;
  std::string variant;
  std::string domain;
  int tier = 0;
  int64_t units = 0;                   // +n grown/opened, -n shrunk
  std::vector<PlacedInstance> placed;  // grow/open
  std::vector<std::string> remove;     // shrink: instance ids, newest first
};

struct PlacementResult {
  std::vector<GroupAction> actions;
  std::map<std::string, int64_t>
      placed_units;                     // per service: units actually placed (+) or removed (-)
  std::vector<std::string> shortfalls;  // "service chat: 2 of 3 units placed: no leaf ..."
};

PlacementResult place(const topo::Fabric& fabric, std::vector<NodeInventory> nodes,
                      const std::vector<DeploymentGroup>& groups,
                      const std::vector<PlacementRequest>& requests,
                      const std::map<std::string, uint32_t>& gpu_budget);

}  // namespace hs::scaler
