#include "hs/scaler/shortage.h"

#include <algorithm>
#include <cstdint>

#include "hs/scaler/ratio_band.h"

namespace hs::scaler {

std::map<std::string, uint32_t> unit_gpus(const ServiceConfig& s) {
  const Variant& v = s.preferred();
  std::map<std::string, uint32_t> g;
  g[v.prefill_gpu] += v.ratio.prefill * v.prefill_gpus;
  g[v.decode_gpu] += v.ratio.decode * v.decode_gpus;
  return g;
}

namespace {

// Donor units that free the GPUs `short_units` of the receiver need, over the types they
// share (0: none shared).
uint32_t units_to_give(const ServiceConfig& to, uint32_t short_units, const ServiceConfig& from) {
  auto need = unit_gpus(to), have = unit_gpus(from);
  uint32_t give = 0;
  for (const auto& [type, per] : need)
    if (auto h = have.find(type); h != have.end() && h->second > 0)
      give = std::max(give, (short_units * per + h->second - 1) / h->second);
  return give;
}

}  // namespace

void update_yields(std::map<std::string, Yield>& yields,
                   const std::vector<PlacementRequest>& requests, const PlacementResult& placed,
                   const std::map<std::string, DonorState>& donors) {
  std::map<std::string, uint32_t> short_of;  // receiver -> units its growth was short
  for (const auto& r : requests) {
    if (!r.service || r.delta_units <= 0) continue;
    auto p = placed.placed_units.find(r.service->name);
    int64_t got = p == placed.placed_units.end() ? 0 : p->second;
    if (got < r.delta_units)
      short_of[r.service->name] = static_cast<uint32_t>(r.delta_units - std::max<int64_t>(got, 0));
  }
  for (auto it = yields.begin(); it != yields.end();)
    it = short_of.count(it->second.to) ? std::next(it) : yields.erase(it);
  for (const auto& [to, missing] : short_of) {
    auto rcv = donors.find(to);
    if (rcv == donors.end()) continue;
    const ServiceConfig& receiver = *rcv->second.service;
    std::vector<const DonorState*> cands;
    for (const auto& [name, d] : donors)
      if (name != to && d.service->priority < receiver.priority) cands.push_back(&d);
    std::sort(cands.begin(), cands.end(), [](const DonorState* a, const DonorState* b) {
      if (a->service->priority != b->service->priority)
        return a->service->priority < b->service->priority;
      return a->service->name < b->service->name;
    });
    uint32_t left = missing;
    for (const DonorState* d : cands) {
      if (left == 0) break;
      const ServiceConfig& donor = *d->service;
      uint32_t ask = units_to_give(receiver, left, donor);
      if (ask == 0) continue;  // no GPU type in common: its units would not help
      uint32_t floor = donor.min_units();
      auto y = yields.find(donor.name);
      if (y != yields.end() && y->second.to != to) continue;  // already giving to another
      if (y != yields.end() && (d->units > y->second.cap_units || d->draining)) {
        left = 0;  // what it was asked for is still on its way
        break;
      }
      uint32_t from = y != yields.end() ? y->second.cap_units : d->units;
      if (from <= floor) continue;
      uint32_t give = std::min(ask, from - floor);
      Yield out{to, from - give,
                "shortage: " + donor.name + " (priority " + std::to_string(donor.priority) +
                    ") gives " + std::to_string(give) + " unit(s) to " + to + " (priority " +
                    std::to_string(receiver.priority) + "), whose growth was " +
                    std::to_string(missing) + " unit(s) short; " + donor.name + " holds at most " +
                    std::to_string(from - give) + " units, its min " + std::to_string(floor)};
      yields[donor.name] = out;
      // The receiver's units this gives back, in the receiver's units.
      uint32_t covered = 0;
      while (covered < left && units_to_give(receiver, covered + 1, donor) <= give) ++covered;
      left -= std::min(left, std::max<uint32_t>(covered, 1));
    }
  }
}

bool apply_yield(const Yield& y, const ServiceConfig& s, const PoolState& pool, Decision& d) {
  const Ratio& r = s.preferred().ratio;
  const uint32_t units = d.desired_decode / r.decode;
  if (units <= y.cap_units) return false;
  const uint32_t cap = y.cap_units;
  d.desired_decode = cap * r.decode;
  d.desired_prefill =
      std::min(d.desired_prefill, std::max(prefill_band(cap, r, s.ratio_band).hi, s.min_prefill));
  d.direction =
      d.desired_prefill + d.desired_decode < pool.prefill + pool.decode
          ? Direction::kIn
          : (d.desired_prefill + d.desired_decode > pool.prefill + pool.decode ? Direction::kOut
                                                                               : Direction::kHold);
  d.stages.push_back({"shortage", d.desired_prefill, d.desired_decode, y.why});
  return true;
}

}  // namespace hs::scaler
