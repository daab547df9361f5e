// The fleet of the simulation: one engine instance per Slurm task running in the simulated
// Slurm, started when its task starts (model load from the GPU's profile), registered once
// loaded, and ended with its task (whatever it still held is lost, as when Slurm kills it).
#include <algorithm>
#include <cstdint>
#include <set>

#include "sim.h"

namespace hs::sim {

using scaler::Role;

const scaler::Variant& Sim::variant_of(const std::string& name) const {
  const scaler::Variant* v = svc_.variant_named(name);
  return v ? *v : svc_.preferred();
}

uint32_t Sim::group_index(const std::string& name) {
  auto [it, fresh] = group_of_name_.try_emplace(name, static_cast<uint32_t>(group_names_.size()));
  if (fresh) group_names_.push_back(name);
  return it->second;
}

uint32_t Sim::add_instance(const scaler::PoolTask& task, Role role, uint32_t group,
                           const scaler::Variant& v, bool initial) {
  Inst in;
  in.id = static_cast<uint32_t>(insts_.size());
  in.role = role;
  in.name = task.id();
  in.url = "sim://" + in.name;
  in.group = group;
  in.node = task.node;
  in.gpu = role == Role::kPrefill ? v.prefill_gpu : v.decode_gpu;
  in.gpus = role == Role::kPrefill ? v.prefill_gpus : v.decode_gpus;
  in.prof = profiles_.find(in.gpu, o_.model);
  in.target = role == Role::kDecode ? v.decode_tps_per_instance : 0;
  in.created = now_;
  in.seq = inst_seq_++;
  // The scheduler's wait is SimSlurm's; here the engine loads its model.
  double delay = (o_.zero_startup || initial) ? 0 : in.prof->startup_s;
  in.ready_at = now_ + delay;
  in.series = {in.name, role, group_names_[group], in.target, {}};
  insts_.push_back(std::move(in));
  uint32_t id = insts_.back().id;
  live_.push_back(id);
  inst_of_task_[insts_[id].name] = id;
  if (delay == 0)
    ready(id);
  else
    push(insts_[id].ready_at, Ev::kReady, id);
  return id;
}

void Sim::end_instance(uint32_t id) {
  Inst& in = insts_[id];
  if (in.gone) return;
  set_busy(in, false);
  in.gone = true;
  in.removed = now_;
  reindex(in);
  if (in.role == Role::kPrefill) {
    for (uint32_t r : in.queue) lose(r);  // (abandoned ones are dropped)
    for (uint32_t r : in.batch) lose(r);
    in.queue.clear();
    in.batch.clear();
    in.queue_abandoned = 0;
    in.queued_tokens = 0;
  } else {
    for (; !in.running.empty(); in.running.pop()) lose(in.running.top().slot);
    for (uint32_t r : in.waiting) lose(r);
    in.waiting.clear();
    in.waiting_abandoned = 0;
    in.kv_used = 0;
    in.next_event = -1;
    ++in.epoch;  // its pending decode event is void
  }
  live_.erase(std::find(live_.begin(), live_.end(), id));
  inst_of_task_.erase(in.name);
  scaler::InstanceSeries().samples.swap(in.series.samples);  // a gone instance is never read
}

// Slurm's running tasks against the instances: a task that started gets one, an instance
// whose task is no longer running ends. `initial`: the warm fleet at the start.
void Sim::sync_tasks(const scaler::ClusterView& view, bool initial) {
  std::set<std::string> running;
  auto it = view.services.find(svc_.name);
  if (it != view.services.end())
    for (const auto& [gname, gp] : it->second)
      for (Role role : {Role::kPrefill, Role::kDecode})
        for (const auto& a : gp.role(role).arrays)
          for (const auto& task : a.tasks) {
            if (task.state != scaler::JobState::kRunning) continue;
            running.insert(task.id());
            if (!inst_of_task_.count(task.id()))
              add_instance(task, role, group_index(gname), variant_of(gp.variant), initial);
          }
  std::vector<uint32_t> ended;
  for (const auto& [task, id] : inst_of_task_)
    if (!running.count(task)) ended.push_back(id);
  for (uint32_t id : ended) end_instance(id);
}

void Sim::ready(uint32_t id) {
  Inst& in = insts_[id];
  if (in.gone) return;
  in.ready = true;  // registers; served once the daemon publishes it
}

}  // namespace hs::sim
