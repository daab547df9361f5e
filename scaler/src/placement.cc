#include "hs/scaler/placement.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <tuple>
#include <unordered_map>

#include "hs/common/text.h"

namespace hs::scaler {

namespace {

struct Domain {
  std::string name;
  std::vector<size_t> nodes;  // indices into the inventory
  int tier_mixed = 1;         // tier when the domain's types are mixed (2 or 4)
  std::set<std::string> types;
  uint32_t free = 0;  // free GPUs on its available nodes, kept current by the planner
  size_t rank = 0;    // position in natural name order among its level's domains
};

int tier_for(const Domain& d, const Variant& v) {
  bool homogeneous = d.types.size() <= 1;
  if (v.prefill_gpu == v.decode_gpu) return homogeneous ? 1 : d.tier_mixed;
  return d.tier_mixed;  // both types needed: a mixed domain by definition
}

class Planner {
 public:
  Planner(const topo::Fabric& f, std::vector<NodeInventory> nodes,
          const std::map<std::string, uint32_t>& budget)
      : fabric_(f), nodes_(std::move(nodes)), budget_(budget) {
    for (size_t i = 0; i < nodes_.size(); ++i) index_[nodes_[i].name] = i;
    // A leaf mixes types if its nodes do; its nodes are then on a mixed leaf.
    on_mixed_leaf_.assign(nodes_.size(), false);
    for (const auto& leaf : fabric_.domains(0)) {
      std::vector<size_t> members;
      std::set<std::string> t;
      for (const auto& n : leaf.nodes)
        if (auto it = index_.find(n); it != index_.end()) {
          members.push_back(it->second);
          t.insert(nodes_[it->second].gpu_type);
        }
      if (t.size() > 1)
        for (size_t i : members) on_mixed_leaf_[i] = true;
    }
  }

  // The domains of an affinity level, built once per placement and kept current.
  std::vector<Domain>& domains(Affinity a) {
    int key = static_cast<int>(a);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    std::vector<Domain>& out = cache_[key];
    out = build_domains(a);
    // Ranks and a name index once per level: candidates compare integers, not names, since
    // a decision sorts every domain for every unit it places.
    std::vector<size_t> by_name(out.size());
    for (size_t i = 0; i < by_name.size(); ++i) by_name[i] = i;
    std::sort(by_name.begin(), by_name.end(), [&](size_t x, size_t y) {
      return natural_less(out[x].name, out[y].name) ||
             (!natural_less(out[y].name, out[x].name) && out[x].name < out[y].name);
    });
    for (size_t r = 0; r < by_name.size(); ++r) out[by_name[r]].rank = r;
    auto& names = name_index_[key];
    for (size_t di = 0; di < out.size(); ++di) names.emplace(out[di].name, di);
    for (size_t di = 0; di < out.size(); ++di) {
      for (size_t i : out[di].nodes) {
        membership_[i].push_back({key, di});
        if (nodes_[i].available) out[di].free += nodes_[i].free_gpus;
      }
    }
    return out;
  }

  std::vector<Domain> build_domains(Affinity a) const {
    std::vector<Domain> out;
    auto finish = [&](Domain d, const std::vector<std::string>& names) {
      bool any_mixed_leaf = false;
      for (const auto& n : names) {
        auto it = index_.find(n);
        if (it == index_.end()) continue;
        d.nodes.push_back(it->second);
        d.types.insert(nodes_[it->second].gpu_type);
        any_mixed_leaf |= on_mixed_leaf_[it->second];
      }
      d.tier_mixed = any_mixed_leaf ? 4 : 2;
      if (!d.nodes.empty()) out.push_back(std::move(d));
    };
    if (a == Affinity::kAny || fabric_.switches().empty()) {
      std::vector<std::string> all;
      for (const auto& n : nodes_) all.push_back(n.name);
      finish(Domain{"*", {}, 1, {}, 0}, all);
      return out;
    }
    int level = a == Affinity::kLeaf ? 0 : std::min(1, fabric_.max_level());
    for (const auto& dom : fabric_.domains(level))
      finish(Domain{dom.switch_name, {}, 1, {}}, dom.nodes);
    return out;
  }

  // Tries to place one unit of `v` in domain `d`; on success deducts GPUs and returns the
  // instances, otherwise leaves everything as it was.
  bool place_unit(const Domain& d, const Variant& v, std::vector<PlacedInstance>& out) {
    std::vector<std::pair<size_t, uint32_t>> taken;
    std::map<std::string, uint32_t> budget_taken;
    auto take = [&](const std::string& type, uint32_t gpus, Role role) {
      if (auto b = budget_.find(type);
          b != budget_.end() && used_[type] + budget_taken[type] + gpus > b->second)
        return false;
      size_t best = SIZE_MAX;
      for (size_t i : d.nodes) {
        const NodeInventory& n = nodes_[i];
        if (!n.available || n.gpu_type != type || n.free_gpus < gpus) continue;
        if (best == SIZE_MAX || n.free_gpus < nodes_[best].free_gpus ||
            (n.free_gpus == nodes_[best].free_gpus && natural_less(n.name, nodes_[best].name)))
          best = i;
      }
      if (best == SIZE_MAX) return false;
      adjust(best, -static_cast<int64_t>(gpus));
      taken.push_back({best, gpus});
      budget_taken[type] += gpus;
      out.push_back({role, nodes_[best].name, type, gpus});
      return true;
    };
    size_t mark = out.size();
    bool ok = true;
    for (uint32_t k = 0; ok && k < v.ratio.prefill; ++k)
      ok = take(v.prefill_gpu, v.prefill_gpus, Role::kPrefill);
    for (uint32_t k = 0; ok && k < v.ratio.decode; ++k)
      ok = take(v.decode_gpu, v.decode_gpus, Role::kDecode);
    if (!ok) {
      for (auto [i, g] : taken) adjust(i, g);
      out.resize(mark);
      return false;
    }
    for (auto& [type, g] : budget_taken) used_[type] += g;
    return true;
  }

  uint32_t free_in(const Domain& d) const { return d.free; }

  // The domains of an affinity level holding both of a variant's GPU types, built once.
  const std::vector<const Domain*>& eligible(Affinity a, const Variant& v) {
    auto key = std::make_tuple(static_cast<int>(a), v.prefill_gpu, v.decode_gpu);
    auto it = eligible_.find(key);
    if (it != eligible_.end()) return it->second;
    std::vector<const Domain*>& out = eligible_[key];
    for (const auto& d : domains(a))
      if (d.types.count(v.prefill_gpu) && d.types.count(v.decode_gpu)) out.push_back(&d);
    return out;
  }

  // The domain of that name at an affinity level whose domains() were built, or nullptr.
  Domain* find(Affinity a, const std::string& name) {
    int key = static_cast<int>(a);
    auto level = name_index_.find(key);
    if (level == name_index_.end()) return nullptr;
    auto it = level->second.find(name);
    return it == level->second.end() ? nullptr : &cache_[key][it->second];
  }

  // Changes a node's free GPUs and every cached domain holding it.
  void adjust(size_t node, int64_t delta) {
    nodes_[node].free_gpus =
        static_cast<uint32_t>(static_cast<int64_t>(nodes_[node].free_gpus) + delta);
    if (!nodes_[node].available) return;
    for (auto [key, di] : membership_[node]) {
      Domain& d = cache_[key][di];
      d.free = static_cast<uint32_t>(static_cast<int64_t>(d.free) + delta);
    }
  }

  void count_used(const std::vector<DeploymentGroup>& groups,
                  const std::vector<PlacementRequest>& reqs) {
    std::unordered_map<std::string, const ServiceConfig*> service_of;
    for (const auto& r : reqs)
      if (r.service) service_of[r.service->name] = r.service;
    for (const auto& g : groups) {
      auto s = service_of.find(g.service);
      const ServiceConfig* sc = s == service_of.end() ? nullptr : s->second;
      const Variant* v = nullptr;
      if (sc)
        for (const auto& x : sc->variants)
          if (x.name == g.variant) v = &x;
      for (const auto& inst : g.instances) {
        auto it = index_.find(inst.node);
        std::string type = it != index_.end() ? nodes_[it->second].gpu_type : "";
        uint32_t gpus = v ? (inst.role == Role::kPrefill ? v->prefill_gpus : v->decode_gpus) : 1;
        used_[type] += gpus;
      }
    }
  }

  const std::vector<NodeInventory>& nodes() const { return nodes_; }

 private:
  const topo::Fabric& fabric_;
  std::vector<NodeInventory> nodes_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<bool> on_mixed_leaf_;  // by node index
  std::map<std::string, uint32_t> budget_;
  std::map<std::string, uint32_t> used_;
  std::map<int, std::vector<Domain>> cache_;
  std::map<int, std::unordered_map<std::string, size_t>> name_index_;
  std::map<std::tuple<int, std::string, std::string>, std::vector<const Domain*>> eligible_;
  std::unordered_map<size_t, std::vector<std::pair<int, size_t>>> membership_;
};

uint32_t full_units(const DeploymentGroup& g, const Ratio& r) {
  uint32_t p = 0, d = 0;
  for (const auto& i : g.instances) (i.role == Role::kPrefill ? p : d)++;
  return std::min(p / r.prefill, d / r.decode);
}

// One service's growth by `delta` units of its preferred variant's capacity, unit by unit
// (the scoring in placement.h), deducting the GPUs each unit takes.
void grow(Planner& plan, const ServiceConfig& sc, const std::vector<const DeploymentGroup*>& mine,
          int64_t delta, PlacementResult& res) {
  auto domain_of = [&](const std::string& name) -> const Domain* {
    return plan.find(sc.affinity, name);
  };
  std::map<std::string, size_t> action_of;  // group id -> action index
  int next_group = 1;
  std::set<std::string> ids;
  for (const auto* g : mine) ids.insert(g->id);
  // Requests count the preferred variant's units; a fallback unit covers the decode
  // capacity it brings, so a request is met when that capacity is.
  const Variant& pref = sc.preferred();
  const double pref_cap = pref.ratio.decode * pref.decode_tps_per_instance;
  double need = static_cast<double>(delta), covered = 0;
  int64_t placed = 0;
  std::string why;
  while (covered + 1e-9 < need) {
    bool done = false;
    for (const Variant& v : sc.variants) {  // preference order: fall back only when nothing fits
      struct Cand {                         // trivially copyable: the heap moves these around
        int tier;
        int is_new;
        uint32_t free;
        size_t rank;  // the domain's natural name order
        const Domain* domain;
        const std::string* group;  // nullptr: a new group
      };
      std::vector<Cand> cands;
      auto add = [&](const Domain& d, const std::string* group) {
        cands.push_back({tier_for(d, v), group ? 0 : 1, plan.free_in(d), d.rank, &d, group});
      };
      for (const auto* g : mine) {
        if (g->variant != v.name) continue;
        if (const Domain* d = domain_of(g->domain)) add(*d, &g->id);
      }
      for (const auto& [gid, ai] : action_of) {  // groups opened earlier in this decision
        const GroupAction& a = res.actions[ai];
        if (a.kind == GroupAction::Kind::kOpen && a.variant == v.name)
          if (const Domain* d = domain_of(a.domain)) add(*d, &gid);
      }
      for (const Domain* d : plan.eligible(sc.affinity, v)) add(*d, nullptr);
      // Best first, as a heap: the first candidate usually takes the unit, so sorting all
      // of a large fabric's domains for every unit would be the tick's main cost.
      auto worse = [](const Cand& a, const Cand& b) {
        if (a.tier != b.tier) return a.tier > b.tier;
        if (a.is_new != b.is_new) return a.is_new > b.is_new;
        if (a.free != b.free) return a.free > b.free;
        if (a.rank != b.rank) return a.rank > b.rank;
        return a.group && b.group && *a.group > *b.group;
      };
      std::make_heap(cands.begin(), cands.end(), worse);
      while (!cands.empty()) {
        std::pop_heap(cands.begin(), cands.end(), worse);
        Cand c = cands.back();
        cands.pop_back();
        const Domain* d = c.domain;
        std::vector<PlacedInstance> inst;
        if (!plan.place_unit(*d, v, inst)) continue;
        std::string gid = c.group ? *c.group : "";
        if (gid.empty()) {
          while (ids.count(sc.name + "-g" + std::to_string(next_group))) ++next_group;
          gid = sc.name + "-g" + std::to_string(next_group);
          ids.insert(gid);
        }
        auto it = action_of.find(gid);
        if (it == action_of.end()) {
          GroupAction a;
          a.kind = c.group ? GroupAction::Kind::kGrow : GroupAction::Kind::kOpen;
          bool existing = false;
          for (const auto* g : mine) existing |= g->id == gid;
          if (existing) a.kind = GroupAction::Kind::kGrow;
          a.service = sc.name;
          a.group = gid;
          a.variant = v.name;
          a.domain = d->name;
          a.tier = c.tier;
          res.actions.push_back(a);
          it = action_of.emplace(gid, res.actions.size() - 1).first;
        }
        GroupAction& a = res.actions[it->second];
        a.units += 1;
        a.placed.insert(a.placed.end(), inst.begin(), inst.end());
        covered += pref_cap > 0 ? v.ratio.decode * v.decode_tps_per_instance / pref_cap : 1.0;
        done = true;
        break;
      }
      if (done) break;
    }
    if (!done) {
      why = "no " + std::string(to_string(sc.affinity)) +
            " domain has free GPUs for another unit of any variant";
      break;
    }
  }
  placed = covered + 1e-9 >= need ? delta : static_cast<int64_t>(covered + 1e-9);
  res.placed_units[sc.name] += placed;
  if (placed < delta)
    res.shortfalls.push_back("service " + sc.name + ": " + std::to_string(placed) + " of " +
                             std::to_string(delta) + " units placed: " + why);
}

// One service's shrink by -`delta` units: scarcest tier first, then the newest group; its
// newest instances.
void shrink(Planner& plan, const ServiceConfig& sc, const std::vector<const DeploymentGroup*>& mine,
            int64_t delta, PlacementResult& res) {
  auto domain_of = [&](const std::string& name) -> const Domain* {
    return plan.find(sc.affinity, name);
  };
  auto variant_of = [&](const std::string& name) -> const Variant* {
    for (const auto& v : sc.variants)
      if (v.name == name) return &v;
    return nullptr;
  };
  // Shrink: scarcest tier first, then the newest group; its newest instances.
  struct Live {
    const DeploymentGroup* g;
    int tier;
    std::vector<GroupInstance> inst;
  };
  std::vector<Live> live;
  for (const auto* g : mine) {
    const Variant* v = variant_of(g->variant);
    const Domain* d = domain_of(g->domain);
    live.push_back({g, v && d ? tier_for(*d, *v) : 1, g->instances});
  }
  int64_t removed = 0;
  std::map<std::string, size_t> action_of;
  for (int64_t u = 0; u < -delta; ++u) {
    Live* pick = nullptr;
    for (auto& l : live) {
      const Variant* v = variant_of(l.g->variant);
      if (!v) continue;
      DeploymentGroup tmp = *l.g;
      tmp.instances = l.inst;
      if (full_units(tmp, v->ratio) == 0) continue;
      if (!pick || l.tier > pick->tier ||
          (l.tier == pick->tier && l.g->created_seq > pick->g->created_seq))
        pick = &l;
    }
    if (!pick) break;
    const Variant* v = variant_of(pick->g->variant);
    std::sort(pick->inst.begin(), pick->inst.end(),
              [](const GroupInstance& a, const GroupInstance& b) { return a.seq > b.seq; });
    std::vector<std::string> gone;
    uint32_t need_p = v->ratio.prefill, need_d = v->ratio.decode;
    std::vector<GroupInstance> keep;
    for (const auto& i : pick->inst) {
      uint32_t& need = i.role == Role::kPrefill ? need_p : need_d;
      if (need > 0) {
        gone.push_back(i.id);
        --need;
      } else {
        keep.push_back(i);
      }
    }
    pick->inst = keep;
    auto it = action_of.find(pick->g->id);
    if (it == action_of.end()) {
      GroupAction a;
      a.kind = GroupAction::Kind::kShrink;
      a.service = sc.name;
      a.group = pick->g->id;
      a.variant = pick->g->variant;
      a.domain = pick->g->domain;
      a.tier = pick->tier;
      res.actions.push_back(a);
      it = action_of.emplace(pick->g->id, res.actions.size() - 1).first;
    }
    GroupAction& a = res.actions[it->second];
    a.units -= 1;
    a.remove.insert(a.remove.end(), gone.begin(), gone.end());
    ++removed;
  }
  res.placed_units[sc.name] -= removed;
  if (removed < -delta)
    res.shortfalls.push_back("service " + sc.name + ": only " + std::to_string(removed) + " of " +
                             std::to_string(-delta) +
                             " units could be removed (groups hold fewer whole units)");
}
}  // namespace

PlacementResult place(const topo::Fabric& fabric, std::vector<NodeInventory> nodes,
                      const std::vector<DeploymentGroup>& groups,
                      const std::vector<PlacementRequest>& requests,
                      const std::map<std::string, uint32_t>& gpu_budget) {
  PlacementResult res;
  Planner plan(fabric, std::move(nodes), gpu_budget);
  plan.count_used(groups, requests);

  std::vector<const PlacementRequest*> order;
  for (const auto& r : requests)
    if (r.service && r.delta_units != 0) order.push_back(&r);
  std::stable_sort(order.begin(), order.end(),
                   [](const PlacementRequest* a, const PlacementRequest* b) {
                     if (a->service->priority != b->service->priority)
                       return a->service->priority > b->service->priority;
                     return a->service->name < b->service->name;
                   });

  std::unordered_map<std::string, std::vector<const DeploymentGroup*>> groups_of;
  for (const auto& g : groups)
    if (!g.frozen) groups_of[g.service].push_back(&g);

  for (const PlacementRequest* req : order) {
    const ServiceConfig& sc = *req->service;
    plan.domains(sc.affinity);  // built (and indexed by name) before any lookup
    if (req->delta_units > 0)
      grow(plan, sc, groups_of[sc.name], req->delta_units, res);
    else
      shrink(plan, sc, groups_of[sc.name], req->delta_units, res);
  }
  return res;
}

}  // namespace hs::scaler
