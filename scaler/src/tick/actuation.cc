// Phase 5: a decision (or a ratio repair) as Slurm actions, in the order they must run:
// throttles first (a lowered throttle before its drain mark, so nothing new starts), then
// drain marks and revivals, then submissions. Which groups grow or shrink is the tick's one
// placement for all services, so no two services are given the same GPUs.
#include <algorithm>
#include <cstdint>

#include "hs/common/text.h"
#include "hs/scaler/ratio_band.h"
#include "tick/service_tick.h"

namespace hs::scaler::tick {

PoolState pool_state(const ServiceTick& t) {
  PoolState pool;
  TimePoint newest_ready{};
  for (const auto& [gname, gp] : t.groups) {
    // Tasks being replaced are not counted: their successors are. A frozen group counts what
    // runs: its held indices will not start.
    bool frozen = t.frozen(gname);
    uint32_t cp = frozen ? gp.prefill.running_serving() : counted(gp.prefill);
    uint32_t cd = frozen ? gp.decode.running_serving() : counted(gp.decode);
    pool.prefill += cp;
    pool.decode += cd;
    const Variant* gv = t.svc.variant_named(gp.variant);
    pool.decode_capacity_tps += cd * (gv ? gv : &t.svc.preferred())->decode_tps_per_instance;
    pool.prefill_capacity_tps += cp * (gv ? gv : &t.svc.preferred())->prefill_tps_per_instance;
    for (Role role : {Role::kPrefill, Role::kDecode})
      for (const auto& a : gp.role(role).arrays)
        for (const auto& task : a.tasks)
          if (task.state == JobState::kRunning && !task.draining())
            if (const Registration* r = t.registration(task.id())) {
              (role == Role::kPrefill ? pool.ready_prefill : pool.ready_decode) += 1;
              newest_ready = std::max(newest_ready, r->registered);
            }
  }
  uint32_t ready = pool.ready_prefill + pool.ready_decode;
  pool.starting = pool.prefill + pool.decode > ready ? pool.prefill + pool.decode - ready : 0;
  pool.newest_ready_age =
      newest_ready == TimePoint{} ? std::chrono::hours(24) : t.now - newest_ready;
  return pool;
}

Actuation::Actuation(ServiceTick& t, const PoolState& pool, uint32_t desired_prefill,
                     uint32_t desired_decode, bool repairing)
    : t_(t),
      dp_(static_cast<int64_t>(desired_prefill) - pool.prefill),
      dd_(static_cast<int64_t>(desired_decode) - pool.decode),
      repairing_(repairing),
      band_(t.svc.ratio_band),
      scale_(t.st.decided ? t.st.decision.prefill_scale : 1.0) {
  for (const auto& [gname, gp] : t.groups)
    for (Role role : {Role::kPrefill, Role::kDecode})
      for (const auto& a : gp.role(role).arrays) {
        new_throttle_[a.array_job_id] = a.throttle;
        old_throttle_[a.array_job_id] = a.throttle;
        owner_[a.array_job_id] = {gname, role};
      }
}

std::string Actuation::why() const {
  const ServiceStatus& st = t_.st;
  return st.decided
             ? st.decision.deciding_stage().stage + ": " + st.decision.deciding_stage().reason
             : st.hold_reason;
}

// Raises a group's role by n: throttles of arrays with indices left, then a continuation.
void Actuation::grow_role(const GroupPools& gp, Role role, uint32_t n, const std::string& why) {
  moved_[{gp.group, role}] += n;
  for (const auto& a : gp.role(role).arrays) {
    if (n == 0) break;
    uint32_t serving = a.running_serving();
    uint32_t cur = new_throttle_[a.array_job_id];
    uint32_t target = std::min(cur, serving + a.pending);
    uint32_t room = serving + a.pending - target;
    uint32_t add_n = std::min(room, n);
    if (add_n == 0) continue;
    new_throttle_[a.array_job_id] = target + add_n;
    n -= add_n;
  }
  if (n == 0) return;
  std::string constraint;
  Role other = role == Role::kPrefill ? Role::kDecode : Role::kPrefill;
  if (!gp.role(role).arrays.empty())
    constraint = gp.role(role).arrays.back().features;
  else if (!gp.role(other).arrays.empty())
    constraint = gp.role(other).arrays.back().features;
  submit_from_template(t_, gp.group, role, gp.variant, constraint, n,
                       why + " (continuation: array exhausted)", &submits_);
}

void Actuation::revive_units(const std::string& gname, const GroupPools& gp) {
  const Variant* v = t_.svc.variant_named(gp.variant);
  if (!v || t_.frozen(gname)) return;
  std::vector<std::pair<const PoolArray*, const PoolTask*>> warm[2];
  for (Role role : {Role::kPrefill, Role::kDecode})
    for (const auto& a : gp.role(role).arrays)
      for (const auto& task : a.tasks)
        if (task.draining() && task.state == JobState::kRunning && t_.registered(task.id()))
          warm[role == Role::kPrefill ? 0 : 1].emplace_back(&a, &task);
  auto units_for = [](int64_t need, uint32_t per) {
    return need <= 0 ? 0u : ceil_div(static_cast<uint32_t>(need), per);
  };
  uint32_t units =
      std::min({static_cast<uint32_t>(warm[0].size()) / v->ratio.prefill,
                static_cast<uint32_t>(warm[1].size()) / v->ratio.decode,
                std::max(units_for(dp_, v->ratio.prefill), units_for(dd_, v->ratio.decode))});
  for (Role role : {Role::kPrefill, Role::kDecode}) {
    uint32_t n = units * (role == Role::kPrefill ? v->ratio.prefill : v->ratio.decode);
    int64_t& need = role == Role::kPrefill ? dp_ : dd_;
    for (uint32_t i = 0; i < n; ++i) {
      auto [a, task] = warm[role == Role::kPrefill ? 0 : 1][i];
      drains_.push_back(mark_task(gname, *task, Mark::kUndrain, t_.wall,
                                  "scale-out revives a draining instance"));
      new_throttle_[a->array_job_id] += 1;
      --need;
    }
  }
}

std::optional<int64_t> Actuation::prepare() {
  if (repairing_) {
    for (const auto& [gname, gp] : t_.groups) {
      const Variant* v = t_.svc.variant_named(gp.variant);
      if (!v || t_.frozen(gname)) continue;
      uint32_t tp = counted(gp.prefill), td = counted(gp.decode);
      // The lagging role grows to the leading one's units: decode to whole units, prefill to
      // the band's floor for them (exactly the ratio without a band).
      uint32_t units = group_units(tp, td, v->ratio, band_);
      uint32_t floor_p = prefill_band(units, v->ratio, band_).lo;
      if (floor_p > tp) grow_role(gp, Role::kPrefill, floor_p - tp, t_.st.hold_reason);
      if (units * v->ratio.decode > td)
        grow_role(gp, Role::kDecode, units * v->ratio.decode - td, t_.st.hold_reason);
    }
    return std::nullopt;
  }
  const Ratio& ratio = t_.svc.preferred().ratio;
  if (dp_ > 0 || dd_ > 0) {
    // Revive draining tasks first (they are warm), in whole units of each group's own ratio:
    // a group rolled back because one role could not start has the other role draining, and
    // reviving that alone would undo the rollback and break the group's P:D.
    for (const auto& [gname, gp] : t_.groups) revive_units(gname, gp);
    // With a ratio band decode sets the units placed; prefill moves inside the groups
    // (shape_prefill) when only it grows.
    uint32_t units = ceil_div(static_cast<uint32_t>(std::max<int64_t>(dd_, 0)), ratio.decode);
    if (band_ <= 0)
      units = std::max(units,
                       ceil_div(static_cast<uint32_t>(std::max<int64_t>(dp_, 0)), ratio.prefill));
    growing_ = units > 0;
    if (growing_) return static_cast<int64_t>(units);
    return std::nullopt;
  }
  if (dp_ < 0 || dd_ < 0) {
    uint32_t units = static_cast<uint32_t>(-std::min<int64_t>(dd_, 0)) / ratio.decode;
    if (band_ <= 0)
      units = std::min(units, static_cast<uint32_t>(-std::min<int64_t>(dp_, 0)) / ratio.prefill);
    shrinking_ = units > 0;
    if (shrinking_) return -static_cast<int64_t>(units);
    return std::nullopt;
  }
  return std::nullopt;
}

void Actuation::grow_from(const PlacementResult& pr) {
  const std::string& svc = t_.svc.name;
  for (const auto& sf : pr.shortfalls)
    if (starts_with(sf, "service " + svc + ":")) t_.st.actions.push_back("shortfall: " + sf);
  std::string why = this->why();
  for (const auto& ga : pr.actions) {
    if (ga.service != svc) continue;
    const Variant* v = t_.svc.variant_named(ga.variant);
    if (!v) continue;
    uint32_t n = static_cast<uint32_t>(ga.units);
    if (ga.kind == GroupAction::Kind::kGrow) {
      const GroupPools& gp = t_.groups.at(ga.group);
      uint32_t np = static_cast<uint32_t>(std::clamp<int64_t>(dp_, 0, n * v->ratio.prefill));
      if (band_ > 0) {
        // Towards the decision's prefill per unit for the units the group will have.
        uint32_t u = group_units(counted(gp.prefill), counted(gp.decode), v->ratio, band_) + n;
        int64_t want = static_cast<int64_t>(prefill_at_scale(u, v->ratio, band_, scale_)) -
                       counted(gp.prefill);
        np = static_cast<uint32_t>(std::clamp<int64_t>(std::min(want, dp_), 0, INT64_MAX));
      }
      uint32_t nd = static_cast<uint32_t>(std::clamp<int64_t>(dd_, 0, n * v->ratio.decode));
      if (np) grow_role(gp, Role::kPrefill, np, why);
      if (nd) grow_role(gp, Role::kDecode, nd, why);
      dp_ -= np;
      dd_ -= nd;
    } else if (ga.kind == GroupAction::Kind::kOpen) {
      std::string gname;
      for (int i = 1;; ++i) {
        gname = "g" + std::to_string(i);
        if (!t_.groups.count(gname)) break;
      }
      std::string constraint = ga.domain == "*" ? "" : ga.domain;
      size_t first = submits_.size();
      uint32_t np = band_ > 0 ? prefill_at_scale(n, v->ratio, band_, scale_) : n * v->ratio.prefill;
      submit_from_template(t_, gname, Role::kPrefill, ga.variant, constraint, np,
                           why + " (open a group in " + ga.domain + ")", &submits_);
      submit_from_template(t_, gname, Role::kDecode, ga.variant, constraint, n * v->ratio.decode,
                           why + " (open a group in " + ga.domain + ")", &submits_);
      for (size_t i = first; i < submits_.size(); ++i) submits_[i].opens_group = true;
      break;  // one new group per tick; the next tick sees it in Slurm
    }
  }
}

void Actuation::shrink_from(const PlacementResult& pr) {
  const std::string& svc = t_.svc.name;
  std::string why = this->why();
  // With a ratio band the decision sizes prefill itself: a unit placement takes out carries
  // ratio.prefill prefill instances, of which only as many as the decision gives up (-dp_)
  // go; shape_prefill then keeps each group inside its band.
  int64_t prefill_left = band_ > 0 ? std::max<int64_t>(-dp_, 0) : INT64_MAX;
  struct Taken {
    std::string group;
    const PoolTask* task;
  };
  std::vector<Taken> take;
  std::map<uint32_t, uint32_t> removed;  // array -> tasks taken out
  for (const auto& ga : pr.actions)
    if (ga.service == svc)
      for (const auto& id : ga.remove)
        if (const PoolTask* task = t_.slurm.view.find_task(id)) {
          auto o = owner_.find(task->array_job_id);
          bool prefill = o != owner_.end() && o->second.second == Role::kPrefill;
          if (prefill && prefill_left-- <= 0) continue;
          take.push_back({ga.group, task});
          removed[task->array_job_id] += 1;
          if (o == owner_.end()) continue;
          moved_[o->second] -= 1;
          if (prefill) dp_ += 1;
        }
  // An array losing all its serving tasks is closed: a throttle of 0 would mean unlimited,
  // so its pending indices are cancelled instead (before the drains, so nothing starts when
  // the drained tasks end) and its throttle is left alone.
  for (const auto& [id, k] : removed) {
    uint32_t& th = new_throttle_[id];
    if (th > k) {
      th -= k;
      continue;
    }
    for (const auto& [gname, gp] : t_.groups)
      for (Role role : {Role::kPrefill, Role::kDecode})
        for (const auto& a : gp.role(role).arrays)
          if (a.array_job_id == id && a.pending > 0)
            drains_.push_back(
                cancel_pending(gname, role, a, "closing the pool: its last serving tasks drain"));
  }
  for (const auto& x : take)
    drains_.push_back(mark_task(x.group, *x.task, Mark::kDrain, t_.wall, why));
}

// Lowers a role's throttles by n, newest arrays first, never to 0 (0 is unlimited): the tasks
// above a throttle drain gracefully in the next tick's reconciliation.
void Actuation::lower_role(const GroupPools& gp, Role role, uint32_t n) {
  const auto& arrays = gp.role(role).arrays;
  for (auto it = arrays.rbegin(); it != arrays.rend() && n > 0; ++it) {
    uint32_t& th = new_throttle_[it->array_job_id];
    uint32_t runs = std::min(th, it->running_serving() + it->pending);
    if (runs <= 1) continue;
    uint32_t down = std::min(n, runs - 1);
    th = runs - down;
    n -= down;
    moved_[{gp.group, role}] -= down;
  }
}

// With a ratio band, each group's prefill after this tick's growth and shrink: inside the band
// for its decode's units always, and towards the decision's prefill per unit by what the
// decision still asks for (dp_). A band move is made inside the groups: raising prefill takes
// the array's room or a continuation, lowering it drains the newest.
void Actuation::shape_prefill() {
  for (const auto& [gname, gp] : t_.groups) {
    const Variant* v = t_.svc.variant_named(gp.variant);
    if (!v || t_.frozen(gname)) continue;
    auto after = [&](Role role) {
      auto m = moved_.find({gname, role});
      int64_t n = counted(gp.role(role)) + (m == moved_.end() ? 0 : m->second);
      return static_cast<uint32_t>(std::max<int64_t>(n, 0));
    };
    uint32_t tp = after(Role::kPrefill), td = after(Role::kDecode);
    if (td % v->ratio.decode != 0) continue;  // decode itself out of line: repair's
    uint32_t units = td / v->ratio.decode;
    PrefillBand band = prefill_band(units, v->ratio, band_);
    uint32_t want = prefill_at_scale(units, v->ratio, band_, scale_);
    int64_t up = 0;
    if (tp < band.lo)
      up = band.lo - tp;
    else if (tp < want && dp_ > 0)
      up = std::min<int64_t>(want - tp, dp_);
    else if (tp > band.hi)
      up = -static_cast<int64_t>(tp - band.hi);
    else if (tp > want && dp_ < 0)
      up = -std::min<int64_t>(tp - want, -dp_);
    if (up > 0) grow_role(gp, Role::kPrefill, static_cast<uint32_t>(up), why());
    if (up < 0) lower_role(gp, Role::kPrefill, static_cast<uint32_t>(-up));
    dp_ -= up;
  }
}

void Actuation::finish(const PlacementResult* placement) {
  if (placement && growing_) grow_from(*placement);
  if (placement && shrinking_) shrink_from(*placement);
  if (band_ > 0 && !repairing_) shape_prefill();
  const ServiceStatus& st = t_.st;
  std::string th_why = st.decided ? st.decision.deciding_stage().stage : st.hold_reason;
  for (const auto& [id, th] : new_throttle_) {
    if (th == old_throttle_[id] || th == 0) continue;
    t_.add(set_throttle(owner_[id].first, owner_[id].second, id, th, th_why));
  }
  for (auto& a : drains_) t_.add(std::move(a));
  // Submissions were described when made; they run last.
  for (auto& a : submits_) t_.out.push_back(std::move(a));
}

}  // namespace hs::scaler::tick
