#include "hs/topo/fabric.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <set>

#include "hs/common/text.h"

namespace hs::topo {

std::string_view to_string(FabricTier t) {
  switch (t) {
    case FabricTier::kSameNode:
      return "same_node";
    case FabricTier::kSameLeaf:
      return "same_leaf";
    case FabricTier::kSameSpine:
      return "same_spine";
    case FabricTier::kFurther:
      return "further";
    case FabricTier::kDisconnected:
      return "disconnected";
  }
  return "disconnected";
}

namespace {

void natural_sort(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end(),
            [](const std::string& a, const std::string& b) { return natural_less(a, b); });
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// Longest-path levels over child edges; returns the switches of a cycle if there is one.
std::vector<uint32_t> compute_levels(const std::vector<std::set<uint32_t>>& children,
                                     const std::vector<bool>& fixed_unknown,
                                     std::vector<int>& level) {
  size_t n = children.size();
  std::vector<int> color(n, 0);  // 0 new, 1 on stack, 2 done
  std::vector<uint32_t> stack, cycle;
  std::function<bool(uint32_t)> visit = [&](uint32_t s) -> bool {
    color[s] = 1;
    stack.push_back(s);
    int lv = fixed_unknown[s] && children[s].empty() ? -1 : 0;
    for (uint32_t c : children[s]) {
      if (color[c] == 1) {
        auto it = std::find(stack.begin(), stack.end(), c);
        cycle.assign(it, stack.end());
        return false;
      }
      if (color[c] == 0 && !visit(c)) return false;
      lv = std::max(lv, std::max(level[c], 0) + 1);
    }
    level[s] = lv;
    color[s] = 2;
    stack.pop_back();
    return true;
  };
  for (uint32_t s = 0; s < n; ++s) {
    if (color[s] == 0 && !visit(s)) return cycle;
  }
  return {};
}

}  // namespace

Result<Fabric> Fabric::build(std::vector<SwitchDecl> decls, std::string source) {
  Fabric f;
  f.source_ = std::move(source);
  ErrorList errors;
  std::unordered_map<std::string, uint32_t> index;
  std::vector<SwitchDecl> uniq;
  for (auto& d : decls) {
    auto it = index.find(d.name);
    if (it != index.end()) {
      errors.add(invalid_argument(
          "switch " + quote(d.name) + " is defined twice (first at " + uniq[it->second].where + ")",
          d.where));
      continue;
    }
    index.emplace(d.name, static_cast<uint32_t>(uniq.size()));
    uniq.push_back(std::move(d));
  }
  const size_t n = uniq.size();
  std::vector<std::set<uint32_t>> listed(n), peer_links(n);
  for (uint32_t s = 0; s < n; ++s) {
    for (const auto& c : uniq[s].switches) {
      auto it = index.find(c);
      if (it == index.end()) {
        errors.add(invalid_argument("switch " + quote(c) + " is listed in Switches= of " +
                                        quote(uniq[s].name) + " but never defined",
                                    uniq[s].where));
      } else if (it->second == s) {
        errors.add(
            invalid_argument("switch " + quote(c) + " lists itself in Switches=", uniq[s].where));
      } else {
        listed[s].insert(it->second);
      }
    }
    for (const auto& p : uniq[s].peers) {
      auto it = index.find(p);
      if (it == index.end() || it->second == s) {
        errors.add(invalid_argument("peer link to unknown switch " + quote(p), uniq[s].where));
      } else {
        peer_links[s].insert(it->second);
        peer_links[it->second].insert(s);
      }
    }
  }
  if (!errors.empty())
    return errors.to_error("fabric " + f.source_ + " has " + std::to_string(errors.size()) +
                           " errors");

  // Split listings into one-way (parent -> child) and mutual pairs.
  std::vector<std::set<uint32_t>> children(n);
  std::vector<std::pair<uint32_t, uint32_t>> mutual;
  for (uint32_t s = 0; s < n; ++s) {
    for (uint32_t c : listed[s]) {
      if (listed[c].count(s)) {
        if (s < c) mutual.push_back({s, c});
      } else {
        children[s].insert(c);
      }
    }
  }
  // A switch with no nodes and no one-way children gets its level only from mutual links.
  std::vector<bool> unknown(n, false);
  for (const auto& [a, b] : mutual) {
    for (uint32_t s : {a, b})
      if (uniq[s].nodes.empty() && children[s].empty()) unknown[s] = true;
  }
  std::vector<int> level(n, 0);
  auto cycle_error = [&](const std::vector<uint32_t>& cycle) {
    std::string names;
    for (uint32_t s : cycle) names += (names.empty() ? "" : " -> ") + uniq[s].name;
    names += " -> " + uniq[cycle.front()].name;
    return invalid_argument("switches form a cycle: " + names, uniq[cycle.front()].where);
  };
  if (auto cyc = compute_levels(children, unknown, level); !cyc.empty()) return cycle_error(cyc);

  // Orient mutual pairs, repeating while a newly fixed level can fix another pair.
  std::vector<bool> pending(mutual.size(), true);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < mutual.size(); ++i) {
      if (!pending[i]) continue;
      auto [a, b] = mutual[i];
      int la = level[a], lb = level[b];
      if (la < 0 && lb < 0) continue;
      pending[i] = false;
      changed = true;
      if (la < 0 || lb < 0 || la != lb) {
        bool a_parent = la < 0 || (lb >= 0 && la > lb);
        uint32_t p = a_parent ? a : b, c = a_parent ? b : a;
        children[p].insert(c);
        unknown[p] = false;
      } else {
        peer_links[a].insert(b);
        peer_links[b].insert(a);
      }
      if (auto cyc = compute_levels(children, unknown, level); !cyc.empty())
        return cycle_error(cyc);
    }
  }
  for (size_t i = 0; i < mutual.size(); ++i) {
    if (!pending[i]) continue;  // both sides unplaced: same-level peers
    peer_links[mutual[i].first].insert(mutual[i].second);
    peer_links[mutual[i].second].insert(mutual[i].first);
  }
  for (uint32_t s = 0; s < n; ++s) level[s] = std::max(level[s], 0);

  // Final order: level, then natural name.
  std::vector<uint32_t> order(n);
  for (uint32_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    if (level[a] != level[b]) return level[a] < level[b];
    return natural_less(uniq[a].name, uniq[b].name);
  });
  std::vector<uint32_t> pos(n);
  for (uint32_t i = 0; i < n; ++i) pos[order[i]] = i;

  std::vector<std::vector<uint32_t>> parents(n);
  for (uint32_t s = 0; s < n; ++s)
    for (uint32_t c : children[s]) parents[c].push_back(s);

  f.switches_.resize(n);
  f.peers_.resize(n);
  for (uint32_t s = 0; s < n; ++s) {
    FabricSwitch& fs = f.switches_[pos[s]];
    fs.name = uniq[s].name;
    fs.level = level[s];
    fs.nodes = uniq[s].nodes;
    natural_sort(fs.nodes);
    for (uint32_t c : children[s]) fs.children.push_back(uniq[c].name);
    for (uint32_t p : parents[s]) fs.parents.push_back(uniq[p].name);
    for (uint32_t p : peer_links[s]) {
      fs.peers.push_back(uniq[p].name);
      f.peers_[pos[s]].push_back(pos[p]);
    }
    natural_sort(fs.children);
    natural_sort(fs.parents);
    natural_sort(fs.peers);
    fs.link_speed = uniq[s].link_speed;
    fs.where = uniq[s].where;
    f.switch_index_.emplace(fs.name, pos[s]);
  }

  // Ancestors of every switch (itself included), sorted by index.
  std::vector<std::vector<uint32_t>> up(n);
  for (uint32_t i = 0; i < n; ++i) {  // level order: parents come later, so walk explicitly
    std::vector<uint32_t> todo{i};
    std::set<uint32_t> seen{i};
    while (!todo.empty()) {
      uint32_t s = todo.back();
      todo.pop_back();
      for (const auto& pn : f.switches_[s].parents) {
        uint32_t p = f.switch_index_.at(pn);
        if (seen.insert(p).second) todo.push_back(p);
      }
    }
    up[i].assign(seen.begin(), seen.end());
  }

  std::vector<std::string> all_nodes;
  for (const auto& s : f.switches_)
    all_nodes.insert(all_nodes.end(), s.nodes.begin(), s.nodes.end());
  natural_sort(all_nodes);
  f.node_names_ = all_nodes;
  for (uint32_t i = 0; i < all_nodes.size(); ++i) f.node_index_.emplace(all_nodes[i], i);
  f.node_leaves_.resize(all_nodes.size());
  f.node_up_.resize(all_nodes.size());
  for (uint32_t s = 0; s < n; ++s) {
    for (const auto& nd : f.switches_[s].nodes) {
      uint32_t ni = f.node_index_.at(nd);
      f.node_leaves_[ni].push_back(s);
      auto& u = f.node_up_[ni];
      std::vector<uint32_t> merged;
      std::set_union(u.begin(), u.end(), up[s].begin(), up[s].end(), std::back_inserter(merged));
      u = std::move(merged);
    }
  }
  // Domains are asked for once per placement, per level: compute (and sort) them once.
  int max_level = -1;
  for (const auto& sw : f.switches_) max_level = std::max(max_level, sw.level);
  for (int lv = 0; lv <= max_level; ++lv) f.domains_.push_back(f.compute_domains(lv));
  return f;
}

const FabricSwitch* Fabric::find_switch(std::string_view name) const {
  auto it = switch_index_.find(std::string(name));
  return it == switch_index_.end() ? nullptr : &switches_[it->second];
}

std::vector<std::string> Fabric::nodes() const { return node_names_; }

bool Fabric::has_node(std::string_view name) const {
  return node_index_.count(std::string(name)) > 0;
}

int Fabric::max_level() const {
  int m = -1;
  for (const auto& s : switches_) m = std::max(m, s.level);
  return m;
}

std::vector<std::string> Fabric::leaf_switches_of(std::string_view node) const {
  std::vector<std::string> out;
  auto it = node_index_.find(std::string(node));
  if (it == node_index_.end()) return out;
  for (uint32_t s : node_leaves_[it->second]) out.push_back(switches_[s].name);
  return out;
}

Result<NodeDistance> Fabric::distance(std::string_view a, std::string_view b) const {
  auto ia = node_index_.find(std::string(a));
  if (ia == node_index_.end())
    return not_found("node " + quote(a) + " is not in fabric " + source_);
  auto ib = node_index_.find(std::string(b));
  if (ib == node_index_.end())
    return not_found("node " + quote(b) + " is not in fabric " + source_);
  NodeDistance d;
  if (ia->second == ib->second) {
    d.tier = FabricTier::kSameNode;
    return d;
  }
  const auto& ua = node_up_[ia->second];
  const auto& ub = node_up_[ib->second];
  int best = -1;
  std::vector<uint32_t> common;
  std::set_intersection(ua.begin(), ua.end(), ub.begin(), ub.end(), std::back_inserter(common));
  for (uint32_t s : common) {
    if (best < 0 || switches_[s].level < best) best = switches_[s].level;
  }
  if (best >= 0) {
    d.level = best;
    for (uint32_t s : common)
      if (switches_[s].level == best) d.switches.push_back(switches_[s].name);
  } else {
    // Joined only through a same-level peer link.
    for (uint32_t x : ua) {
      for (uint32_t y : peers_[x]) {
        if (!std::binary_search(ub.begin(), ub.end(), y)) continue;
        int lv = std::max(switches_[x].level, switches_[y].level) + 1;
        if (best < 0 || lv < best) {
          best = lv;
          d.switches = {switches_[x].name, switches_[y].name};
        }
      }
    }
    if (best < 0) return d;  // disconnected
    d.level = best;
  }
  d.tier = d.level == 0   ? FabricTier::kSameLeaf
           : d.level == 1 ? FabricTier::kSameSpine
                          : FabricTier::kFurther;
  return d;
}

const std::vector<SwitchDomain>& Fabric::domains(int level) const {
  static const std::vector<SwitchDomain> kNone;
  if (level < 0 || static_cast<size_t>(level) >= domains_.size()) return kNone;
  return domains_[static_cast<size_t>(level)];
}

std::vector<SwitchDomain> Fabric::compute_domains(int level) const {
  std::vector<SwitchDomain> out;
  for (uint32_t s = 0; s < switches_.size(); ++s) {
    if (switches_[s].level != level) continue;
    SwitchDomain dom{switches_[s].name, level, {}};
    std::vector<uint32_t> todo{s};
    std::set<uint32_t> seen{s};
    while (!todo.empty()) {
      uint32_t x = todo.back();
      todo.pop_back();
      dom.nodes.insert(dom.nodes.end(), switches_[x].nodes.begin(), switches_[x].nodes.end());
      for (const auto& cn : switches_[x].children) {
        uint32_t c = switch_index_.at(cn);
        if (seen.insert(c).second) todo.push_back(c);
      }
    }
    natural_sort(dom.nodes);
    out.push_back(std::move(dom));
  }
  return out;
}

}  // namespace hs::topo
