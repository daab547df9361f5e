// Free GPUs from Slurm's view of its nodes, and what the tick's raised throttles will take.
#include <cstdint>
#include <unordered_map>

#include "hs/common/text.h"
#include "tick/service_tick.h"

namespace hs::scaler {

namespace {

// "gpu:h100:4(S:0-1)" or "gpu:h100:2(IDX:0-1),gpu:l40s:0(IDX:N/A)" -> {type, count} pairs.
std::vector<std::pair<std::string, uint32_t>> parse_gres(const std::string& s) {
  std::vector<std::pair<std::string, uint32_t>> out;
  size_t depth = 0, start = 0;
  auto item = [&](std::string_view x) {
    x = x.substr(0, x.find('('));
    auto parts = split(x, ':');
    if (parts.size() < 2 || parts[0] != "gpu") return;
    auto n = parse_u64(parts.back());
    if (!n.ok()) return;
    out.emplace_back(parts.size() >= 3 ? std::string(parts[1]) : std::string(),
                     static_cast<uint32_t>(*n));
  };
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i < s.size() && s[i] == '(') ++depth;
    if (i < s.size() && s[i] == ')' && depth) --depth;
    if (i == s.size() || (s[i] == ',' && depth == 0)) {
      if (i > start) item(std::string_view(s).substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

}  // namespace

std::vector<NodeInventory> inventory_from(const std::vector<SlurmNode>& nodes) {
  std::vector<NodeInventory> out;
  for (const auto& n : nodes) {
    auto total = parse_gres(n.gres);
    auto used = parse_gres(n.gres_used);
    for (const auto& [type, count] : total) {
      uint32_t u = 0;
      for (const auto& [t2, c2] : used)
        if (t2 == type) u += c2;
      NodeInventory inv;
      inv.name = n.name;
      inv.gpu_type = type;
      inv.free_gpus = count > u ? count - u : 0;
      inv.available = !n.drain && !n.fail && !n.not_responding && n.state != "down" &&
                      n.state != "unknown" && n.state != "future";
      out.push_back(inv);
    }
  }
  return out;
}

namespace tick {

std::string group_domain(const GroupPools& gp, const DomainNodes& domains) {
  std::string domain = "*";
  for (Role role : {Role::kPrefill, Role::kDecode})
    for (const auto& a : gp.role(role).arrays)
      for (const auto& f : split(a.features, ','))
        if (domains.count(std::string(trim(f)))) domain = std::string(trim(f));
  return domain;
}

void reserve_unstarted(std::vector<NodeInventory>& inv, const ClusterView& view,
                       const ServicesConfig& services, const DomainNodes& domains) {
  std::unordered_map<std::string, std::vector<size_t>> by_node;
  for (size_t i = 0; i < inv.size(); ++i) by_node[inv[i].name].push_back(i);
  for (const auto& svc : services.services) {
    auto it = view.services.find(svc.name);
    if (it == view.services.end()) continue;
    for (const auto& [gname, gp] : it->second) {
      const Variant* v = svc.variant_named(gp.variant);
      if (!v) continue;
      std::string domain = group_domain(gp, domains);
      for (Role role : {Role::kPrefill, Role::kDecode}) {
        const RolePool& rp = gp.role(role);
        uint32_t unstarted =
            rp.target() > rp.running_serving() ? rp.target() - rp.running_serving() : 0;
        uint32_t need = unstarted * (role == Role::kPrefill ? v->prefill_gpus : v->decode_gpus);
        const std::string& type = role == Role::kPrefill ? v->prefill_gpu : v->decode_gpu;
        auto take_from = [&](size_t i) {
          NodeInventory& n = inv[i];
          if (n.gpu_type != type) return;
          uint32_t take = std::min(need, n.free_gpus);
          n.free_gpus -= take;
          need -= take;
        };
        if (domain == "*") {
          for (size_t i = 0; i < inv.size() && need > 0; ++i) take_from(i);
        } else if (auto d = domains.find(domain); d != domains.end()) {
          for (const auto& node : d->second) {
            if (need == 0) break;
            if (auto b = by_node.find(node); b != by_node.end())
              for (size_t i : b->second) take_from(i);
          }
        }
      }
    }
  }
}

}  // namespace tick
}  // namespace hs::scaler
