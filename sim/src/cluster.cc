#include "hs/sim/cluster.h"

#include <yaml-cpp/yaml.h>

#include <map>
#include <set>

#include "hs/common/file.h"

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
  ErrorList errors;
  try {
    YAML::Node root = YAML::Load(text);
    auto at = [&](const YAML::Node& n) {
      auto m = n.Mark();
      return m.line < 0
                 ? name
                 : name + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
    };
    if (!root.IsDefined() || !root.IsMap())
      return invalid_argument("expected a mapping with 'leaves'", name);
    for (auto it = root.begin(); it != root.end(); ++it) {
      std::string k = it->first.Scalar();
      if (k != "leaves" && k != "kv_gbytes_per_s" && k != "queue_wait_s")
        errors.add(invalid_argument(k + ": unknown key", at(it->first)));
    }
    YAML::Node leaves = root["leaves"];
    if (!leaves.IsDefined() || !leaves.IsSequence() || leaves.size() == 0) {
      errors.add(invalid_argument("leaves: required, a non-empty list", name));
    } else {
      std::map<std::string, std::string> spine_of;
      for (const auto& l : leaves) {
        LeafSpec ls;
        if (!l.IsMap()) {
          errors.add(invalid_argument("leaves[]: expected {name, spine, nodes, gpu, gpus_per_node}",
                                      at(l)));
          continue;
        }
        for (auto it = l.begin(); it != l.end(); ++it) {
          std::string k = it->first.Scalar();
          if (k != "name" && k != "spine" && k != "nodes" && k != "gpu" && k != "gpus_per_node")
            errors.add(invalid_argument("leaves[]." + k + ": unknown key", at(it->first)));
        }
        try {
          ls.name = l["name"].as<std::string>();
          ls.spine = l["spine"].IsDefined() ? l["spine"].as<std::string>() : "spine1";
          ls.nodes = l["nodes"].as<uint32_t>();
          ls.gpu = l["gpu"].as<std::string>();
          ls.gpus_per_node = l["gpus_per_node"].IsDefined() ? l["gpus_per_node"].as<uint32_t>() : 8;
        } catch (const YAML::Exception& e) {
          errors.add(
              invalid_argument("leaves[]: needs name, nodes (a count) and gpu: " + e.msg, at(l)));
          continue;
        }
        if (ls.nodes == 0 || ls.nodes > 100000 || ls.gpus_per_node == 0 || ls.gpus_per_node > 64)
          errors.add(
              invalid_argument("leaves[]: nodes must be 1..100000 and gpus_per_node 1..64", at(l)));
        // A leaf may be listed once per GPU type it holds; its spine must agree.
        if (auto it = spine_of.find(ls.name); it != spine_of.end() && it->second != ls.spine)
          errors.add(invalid_argument("leaf " + ls.name + " listed under two spines", at(l)));
        spine_of[ls.name] = ls.spine;
        s.leaves.push_back(ls);
      }
    }
    if (YAML::Node kv = root["kv_gbytes_per_s"]; kv.IsDefined()) {
      for (auto it = kv.begin(); it != kv.end(); ++it) {
        std::string k = it->first.Scalar();
        double v = it->second.as<double>(-1);
        if (v <= 0)
          errors.add(
              invalid_argument("kv_gbytes_per_s." + k + ": must be positive", at(it->second)));
        if (k == "same_node")
          s.kv_same_node_gbs = v;
        else if (k == "same_leaf")
          s.kv_same_leaf_gbs = v;
        else if (k == "same_spine")
          s.kv_same_spine_gbs = v;
        else if (k == "further")
          s.kv_further_gbs = v;
        else
          errors.add(invalid_argument("kv_gbytes_per_s." + k + ": unknown key", at(it->first)));
      }
    }
    if (root["queue_wait_s"].IsDefined()) s.queue_wait_s = root["queue_wait_s"].as<double>(5);
  } catch (const YAML::Exception& e) {
    return invalid_argument("not valid YAML: " + e.msg, name);
  }
  if (!errors.empty())
    return errors.to_error(name + ": " + std::to_string(errors.size()) + " errors");
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
