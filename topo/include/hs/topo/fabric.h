// The switch fabric between nodes, as a levelled graph: leaf switches (level 0) hold nodes,
// higher switches hold switches. Real fabrics are not strict trees: a leaf has several spine
// parents, and a switch may have peers at its own level. Built from topology.conf
// (topology_conf.h) or ibnetdiscover output (ibnetdiscover.h).
//
// How a declaration is read (docs/hs-topo.md, "Fabric model"):
//  - "A lists B in Switches=" makes A a parent of B, unless B also lists A (a mutual
//    listing, which ib2slurm-style generators write for every switch-to-switch cable). A
//    mutual pair is oriented by the levels the rest of the file implies: the side with the
//    higher level is the parent; a side whose level nothing else fixes (no nodes, no other
//    children) sits above the other; equal levels make the two same-level peers.
//  - A switch's level is 0 if it has no child switches, else 1 + its highest child's.
//  - True inconsistencies are errors: a switch defined twice, a switch listed but never
//    defined, a switch listing itself, a cycle of three or more switches.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hs/common/error.h"

namespace hs::topo {

// One switch as declared by a reader, before levels are known.
struct SwitchDecl {
  std::string name;
  std::vector<std::string> nodes;     // nodes cabled to it
  std::vector<std::string> switches;  // switches it declares below it (may be mutual)
  std::vector<std::string> peers;     // same-level links known as such (ibnetdiscover)
  std::string link_speed;             // as written (topology.conf LinkSpeed), may be empty
  std::string where;                  // "file:line" of its definition, for errors
};

struct FabricSwitch {
  std::string name;
  int level = 0;
  std::vector<std::string> nodes;     // natural order
  std::vector<std::string> children;  // natural order
  std::vector<std::string> parents;   // natural order
  std::vector<std::string> peers;     // natural order
  std::string link_speed;
  std::string where;
};

// How close two nodes are in the fabric, nearest first.
enum class FabricTier {
  kSameNode = 0,
  kSameLeaf = 1,
  kSameSpine = 2,
  kFurther = 3,
  kDisconnected = 4
};
std::string_view to_string(
    FabricTier t);  // "same_node", "same_leaf", "same_spine", "further", "disconnected"

struct NodeDistance {
  FabricTier tier = FabricTier::kDisconnected;
  // The lowest level at which the two share a switch (-1 for the same node or disconnected).
  // Nodes joined only by a peer link at level L count as level L+1.
  int level = -1;
  std::vector<std::string> switches;  // the switches joining them at that level
};

// The nodes under one switch.
struct SwitchDomain {
  std::string switch_name;
  int level = 0;
  std::vector<std::string> nodes;  // natural order
};

class Fabric {
 public:
  Fabric() = default;

  // Checks and levels the declarations. All errors are reported at once (each with its
  // declaration's `where`). `source` names the input for reports.
  static Result<Fabric> build(std::vector<SwitchDecl> decls, std::string source);

  const std::string& source() const { return source_; }
  // In level order, then natural name order.
  const std::vector<FabricSwitch>& switches() const { return switches_; }
  const FabricSwitch* find_switch(std::string_view name) const;
  size_t node_count() const { return node_names_.size(); }
  std::vector<std::string> nodes() const;  // natural order
  bool has_node(std::string_view name) const;
  int max_level() const;
  // The switches a node is cabled to (usually one leaf).
  std::vector<std::string> leaf_switches_of(std::string_view node) const;

  // NotFound if either node is not in the fabric. O(ancestors) per call.
  Result<NodeDistance> distance(std::string_view a, std::string_view b) const;

  // Every switch at `level` with the nodes below it (through any path down).
  const std::vector<SwitchDomain>& domains(int level) const;  // computed once, in build()

 private:
  std::string source_;
  std::vector<FabricSwitch> switches_;
  std::unordered_map<std::string, uint32_t> switch_index_;
  std::vector<std::vector<SwitchDomain>> domains_;  // by level
  std::vector<SwitchDomain> compute_domains(int level) const;
  std::vector<std::string> node_names_;
  std::unordered_map<std::string, uint32_t> node_index_;
  std::vector<std::vector<uint32_t>> node_leaves_;  // node -> switches it is cabled to
  std::vector<std::vector<uint32_t>> node_up_;      // node -> every switch above it, sorted
  std::vector<std::vector<uint32_t>> peers_;        // switch -> peer switches
};

}  // namespace hs::topo
