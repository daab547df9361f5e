#include "hs/sim/cluster.h"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <set>

#include "hs/common/file.h"
#include "hs/common/yaml_reader.h"

namespace hs::sim {

double Cluster::kv_gbs(const std::string& a, const std::string& b) const {
  auto d = fabric.distance(a, b);
  if (!d.ok()) return spec.kv_further_gbs;
  switch (d->tier) {
    case topo::FabricTier::kSameNode:
      return spec.kv_same_node_gbs;
    case topo::FabricTier::kSameLeaf:
      return spec.kv_same_leaf_gbs;
    case topo::FabricTier::kSameSpine:
      return spec.kv_same_spine_gbs;
    default:
      return spec.kv_further_gbs;
  }
}

ClusterSpec default_cluster_spec() {
  ClusterSpec s;
  // Each leaf mixes 4 H100 and 4 L40S nodes (8 GPUs each), two leaves per spine.
  for (int l = 1; l <= 4; ++l) {
    std::string spine = l <= 2 ? "spine1" : "spine2";
    s.leaves.push_back({"leaf" + std::to_string(l), spine, 4, "h100", 8});
    s.leaves.push_back({"leaf" + std::to_string(l), spine, 4, "l40s", 8});
  }
  return s;
}

Result<ClusterSpec> parse_cluster_yaml(const std::string& text, const std::string& name) {
  ClusterSpec s;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return invalid_argument(
        "not valid YAML: " + e.msg,
        name + (e.mark.line >= 0 ? ":" + std::to_string(e.mark.line + 1) : std::string()));
  }
  yaml::Ctx ctx{name, {}};
  yaml::MapReader top(root, "", ctx);
  if (top.ok()) {
    YAML::Node leaves = top.get("leaves");
    if (!leaves.IsDefined() || !leaves.IsSequence() || leaves.size() == 0) {
      ctx.error(root, "leaves", "required, a non-empty list");
    } else {
      std::map<std::string, std::string> spine_of;
      for (size_t i = 0; i < leaves.size(); ++i) {
        LeafSpec ls;
        ls.spine = "spine1";
        yaml::MapReader l(leaves[i], "leaves[" + std::to_string(i) + "]", ctx);
        if (!l.ok()) continue;
        l.str("name", ls.name, true);
        l.str("spine", ls.spine);
        l.count("nodes", ls.nodes, 1, 100000, true);
        l.str("gpu", ls.gpu, true);
        l.count("gpus_per_node", ls.gpus_per_node, 1, 64);
        l.finish();
        // A leaf may be listed once per GPU type it holds; its spine must agree.
        if (auto it = spine_of.find(ls.name); it != spine_of.end() && it->second != ls.spine)
          ctx.error(leaves[i], l.field("spine"), "leaf " + ls.name + " listed under two spines");
        spine_of[ls.name] = ls.spine;
        s.leaves.push_back(ls);
      }
    }
    if (top.has("kv_gbytes_per_s")) {
      yaml::MapReader kv(top.get("kv_gbytes_per_s"), "kv_gbytes_per_s", ctx);
      kv.num("same_node", s.kv_same_node_gbs, 1e-3, 1e6);
      kv.num("same_leaf", s.kv_same_leaf_gbs, 1e-3, 1e6);
      kv.num("same_spine", s.kv_same_spine_gbs, 1e-3, 1e6);
      kv.num("further", s.kv_further_gbs, 1e-3, 1e6);
      kv.finish();
    }
    top.num("queue_wait_s", s.queue_wait_s, 0, 86400);
    top.finish();
  }
  if (!ctx.errors.empty())
    return ctx.errors.to_error(name + ": " + std::to_string(ctx.errors.size()) + " errors");
  return s;
}

Result<ClusterSpec> load_cluster(const std::string& path) {
  auto t = read_file(path, 1 << 20);
  if (!t.ok()) return t.error();
  return parse_cluster_yaml(*t, path);
}

Result<Cluster> build_cluster(const ClusterSpec& spec) {
  Cluster c;
  c.spec = spec;
  std::vector<topo::SwitchDecl> decls;
  std::map<std::string, size_t> decl_of;
  std::map<std::string, std::vector<std::string>> spines;
  for (const auto& l : spec.leaves) {
    auto it = decl_of.find(l.name);
    if (it == decl_of.end()) {
      topo::SwitchDecl d;
      d.name = l.name;
      d.where = "cluster";
      decls.push_back(std::move(d));
      it = decl_of.emplace(l.name, decls.size() - 1).first;
      spines[l.spine].push_back(l.name);
    }
    for (uint32_t n = 1; n <= l.nodes; ++n) {
      std::string node = l.name + "-" + l.gpu + "-n" + std::to_string(n);
      decls[it->second].nodes.push_back(node);
      c.nodes.push_back({node, l.gpu, l.gpus_per_node, true});
    }
  }
  for (auto& [s, leaves] : spines) decls.push_back({s, {}, leaves, {}, "", "cluster"});
  auto f = topo::Fabric::build(std::move(decls), "cluster");
  if (!f.ok()) return f.error();
  c.fabric = std::move(*f);
  return c;
}

}  // namespace hs::sim
