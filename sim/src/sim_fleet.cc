// The fleet of the simulation: instances placed by the scaler's placement, grown per unit
// or per role, drained and removed once idle.
#include <algorithm>

#include "hs/scaler/placement.h"
#include "sim.h"

namespace hs::sim {

using scaler::Role;

const scaler::Variant& Sim::variant_of(const std::string& name) const {
  const scaler::Variant* v = svc_.variant_named(name);
  return v ? *v : svc_.preferred();
}

uint32_t Sim::add_instance(Role role, uint32_t group, const std::string& node,
                           const std::string& gpu, uint32_t gpus, const scaler::Variant& v,
                           bool initial) {
  Inst in;
  in.id = static_cast<uint32_t>(insts_.size());
  in.role = role;
  in.name = std::string(role == Role::kPrefill ? "p" : "d") + std::to_string(in.id);
  in.group = group;
  in.node = node;
  in.gpu = gpu;
  in.gpus = gpus;
  in.prof = profiles_.find(gpu, o_.model);
  in.target = role == Role::kDecode ? v.decode_tps_per_instance : 0;
  in.created = now_;
  in.seq = inst_seq_++;
  double delay = (o_.zero_startup || initial) ? 0 : cl_.spec.queue_wait_s + in.prof->startup_s;
  in.ready_at = now_ + delay;
  in.series = {in.name, role, groups_[group].id, in.target, {}};
  insts_.push_back(std::move(in));
  const Inst& added = insts_.back();
  live_.push_back(added.id);
  groups_[group].instances.push_back({added.name, role, node, added.seq});
  inst_of_name_[added.name] = added.id;
  uint32_t id = added.id;
  if (delay == 0)
    ready(id);
  else
    push(insts_[id].ready_at, Ev::kReady, id);
  return id;
}

uint32_t Sim::group_for(const std::string& id, const std::string& variant,
                        const std::string& domain) {
  for (uint32_t g = 0; g < groups_.size(); ++g)
    if (groups_[g].id == id) return g;
  groups_.push_back({svc_.name, id, variant, domain, group_seq_++, {}});
  return static_cast<uint32_t>(groups_.size() - 1);
}

void Sim::take_gpus(const std::string& node, uint32_t n) {
  for (auto& x : nodes_)
    if (x.name == node) x.free_gpus -= std::min(n, x.free_gpus);
}

void Sim::free_gpus(const std::string& node, uint32_t n) {
  for (auto& x : nodes_)
    if (x.name == node) x.free_gpus += n;
}

// Grows by `units` through scaler::place(); false if nothing could be placed.
bool Sim::grow_units(uint32_t units, bool initial) {
  auto r =
      scaler::place(cl_.fabric, nodes_, live_groups(), {{&svc_, static_cast<int64_t>(units)}}, {});
  bool any = false;
  for (const auto& a : r.actions) {
    const scaler::Variant& v = variant_of(a.variant);
    uint32_t g = group_for(a.group, a.variant, a.domain);
    for (const auto& p : a.placed) {
      take_gpus(p.node, p.gpus);
      add_instance(p.role, g, p.node, p.gpu_type, p.gpus, v, initial);
      any = true;
    }
  }
  return any;
}

// Per-role growth for the per-pool baselines: the first group whose domain has a free GPU
// of the type, else any node with one.
bool Sim::grow_role(Role role, uint32_t n) {
  for (uint32_t k = 0; k < n; ++k) {
    bool placed = false;
    for (uint32_t g = 0; g < groups_.size() && !placed; ++g) {
      const scaler::Variant& v = variant_of(groups_[g].variant);
      const std::string& type = role == Role::kPrefill ? v.prefill_gpu : v.decode_gpu;
      uint32_t need = role == Role::kPrefill ? v.prefill_gpus : v.decode_gpus;
      const topo::FabricSwitch* sw = cl_.fabric.find_switch(groups_[g].domain);
      std::vector<std::string> domain_nodes;
      if (sw) {
        for (const auto& d : cl_.fabric.domains(sw->level))
          if (d.switch_name == sw->name) domain_nodes = d.nodes;
      }
      for (int pass = 0; pass < 2 && !placed; ++pass) {
        for (auto& node : nodes_) {
          if (node.gpu_type != type || node.free_gpus < need) continue;
          if (pass == 0 &&
              std::find(domain_nodes.begin(), domain_nodes.end(), node.name) == domain_nodes.end())
            continue;
          take_gpus(node.name, need);
          add_instance(role, g, node.name, type, need, v, false);
          placed = true;
          break;
        }
      }
    }
    if (!placed) return k > 0;
  }
  return true;
}

void Sim::drain(uint32_t id) {
  Inst& in = insts_[id];
  if (in.draining || in.gone) return;
  in.draining = true;
  reindex(in);
  maybe_remove(id);
}

void Sim::maybe_remove(uint32_t id) {
  Inst& in = insts_[id];
  if (in.gone || !in.draining) return;
  bool idle = in.role == Role::kPrefill ? (in.queue.empty() && in.batch.empty())
                                        : (in.b() == 0 && in.waiting.empty());
  if (!idle) return;
  set_busy(in, false);
  in.gone = true;
  in.removed = now_;
  reindex(in);
  free_gpus(in.node, in.gpus);
  live_.erase(std::find(live_.begin(), live_.end(), id));
  scaler::InstanceSeries().samples.swap(in.series.samples);  // a gone instance is never read
  auto& gi = groups_[in.group].instances;
  gi.erase(std::remove_if(gi.begin(), gi.end(),
                          [&](const scaler::GroupInstance& x) { return x.id == in.name; }),
           gi.end());
}

std::vector<scaler::DeploymentGroup> Sim::live_groups() const {
  std::vector<scaler::DeploymentGroup> out;
  for (const auto& g : groups_) {
    scaler::DeploymentGroup c = g;
    c.instances.clear();
    for (const auto& i : g.instances) {
      const Inst& in = insts_[inst_of_name_.at(i.id)];
      if (!in.draining && !in.gone) c.instances.push_back(i);
    }
    if (!c.instances.empty()) out.push_back(std::move(c));
  }
  return out;
}

void Sim::ready(uint32_t id) {
  Inst& in = insts_[id];
  if (in.gone) return;
  in.ready = true;
  reindex(in);
  // Requests that found no instance of a role wait at the router.
  if (in.role == Role::kPrefill) {
    std::deque<uint32_t> w;
    w.swap(router_wait_);
    for (uint32_t r : w) reqs_[r].abandoned ? drop(r) : arrive(r);
  } else {
    std::deque<uint32_t> w;
    w.swap(decode_wait_);
    for (uint32_t r : w) reqs_[r].abandoned ? drop(r) : send_to_decode(r, -1);
  }
}

void Sim::apply(const scaler::Decision& d, const scaler::PoolState& pool) {
  const scaler::Ratio r = svc_.preferred().ratio;
  int64_t dp = static_cast<int64_t>(d.desired_prefill) - pool.prefill;
  int64_t dd = static_cast<int64_t>(d.desired_decode) - pool.decode;
  bool unit_change = dp * r.decode == dd * r.prefill && dd % r.decode == 0 && dp != 0;
  if (unit_change && dd > 0) {
    grow_units(static_cast<uint32_t>(dd / r.decode), false);
    return;
  }
  if (unit_change && dd < 0) {
    auto res = scaler::place(cl_.fabric, nodes_, live_groups(), {{&svc_, dd / r.decode}}, {});
    for (const auto& a : res.actions)
      for (const auto& name : a.remove) drain(inst_of_name_.at(name));
    return;
  }
  for (auto [role, delta] : {std::pair{Role::kPrefill, dp}, std::pair{Role::kDecode, dd}}) {
    if (delta > 0) grow_role(role, static_cast<uint32_t>(delta));
    for (int64_t k = 0; k < -delta; ++k) {  // newest first
      int32_t pick = -1;
      for (uint32_t id : live_) {
        const Inst& in = insts_[id];
        if (in.role == role && !in.draining && (pick < 0 || in.seq > insts_[pick].seq))
          pick = static_cast<int32_t>(in.id);
      }
      if (pick >= 0) drain(static_cast<uint32_t>(pick));
    }
  }
}

}  // namespace hs::sim
