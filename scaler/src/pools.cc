#include "hs/scaler/pools.h"

#include <algorithm>
#include <cstdint>

#include "hs/common/id_set.h"
#include "hs/common/text.h"

namespace hs::scaler {

uint32_t PoolArray::running_serving() const {
  uint32_t n = 0;
  for (const auto& t : tasks)
    if (t.state == JobState::kRunning && !t.draining()) ++n;
  return n;
}

uint32_t PoolArray::draining() const {
  uint32_t n = 0;
  for (const auto& t : tasks)
    if (t.draining()) ++n;
  return n;
}

uint32_t PoolArray::replacing() const {
  uint32_t n = 0;
  for (const auto& t : tasks)
    if (t.state == JobState::kRunning && t.replacing()) ++n;
  return n;
}

uint32_t RolePool::replacing() const {
  uint32_t n = 0;
  for (const auto& a : arrays) n += a.replacing();
  return n;
}

uint32_t RolePool::running_serving() const {
  uint32_t n = 0;
  for (const auto& a : arrays) n += a.running_serving();
  return n;
}

uint32_t RolePool::draining() const {
  uint32_t n = 0;
  for (const auto& a : arrays) n += a.draining();
  return n;
}

uint32_t RolePool::pending() const {
  uint32_t n = 0;
  for (const auto& a : arrays) n += a.pending;
  return n;
}

uint32_t RolePool::target() const {
  uint32_t n = 0;
  for (const auto& a : arrays) {
    uint32_t can = a.running_serving() + a.pending;
    n += a.throttle == 0 ? can : std::min(a.throttle, can);
  }
  return n;
}

std::optional<std::pair<uint32_t, uint32_t>> parse_task_id(std::string_view id) {
  size_t u = id.find('_');
  if (u == std::string_view::npos) return std::nullopt;
  auto a = parse_u64(id.substr(0, u)), t = parse_u64(id.substr(u + 1));
  if (!a.ok() || !t.ok() || *a > UINT32_MAX || *t > UINT32_MAX) return std::nullopt;
  return std::pair<uint32_t, uint32_t>{static_cast<uint32_t>(*a), static_cast<uint32_t>(*t)};
}

const PoolTask* ClusterView::find_task(const std::string& id) const {
  auto want = parse_task_id(id);
  if (!want) return nullptr;
  for (const auto& [s, groups] : services)
    for (const auto& [g, gp] : groups)
      for (const RolePool* rp : {&gp.prefill, &gp.decode})
        for (const auto& a : rp->arrays) {
          if (a.array_job_id != want->first) continue;
          for (const auto& t : a.tasks)
            if (t.task_id == want->second) return &t;
        }
  return nullptr;
}

namespace {
uint64_t task_key(uint32_t array, uint32_t task) { return (uint64_t{array} << 32) | task; }
}  // namespace

TaskIndex::TaskIndex(const ClusterView& v) {
  for (const auto& [s, groups] : v.services)
    for (const auto& [g, gp] : groups)
      for (const RolePool* rp : {&gp.prefill, &gp.decode})
        for (const auto& a : rp->arrays)
          for (const auto& t : a.tasks) by_id_.emplace(task_key(a.array_job_id, t.task_id), &t);
}

const PoolTask* TaskIndex::find(std::string_view id) const {
  auto want = parse_task_id(id);
  if (!want) return nullptr;
  auto it = by_id_.find(task_key(want->first, want->second));
  return it == by_id_.end() ? nullptr : it->second;
}

ClusterView build_view(const std::vector<SlurmJob>& jobs) {
  ClusterView v;
  // Arrays first keyed by id, so tasks and meta records can arrive in any order.
  struct Entry {
    JobTag tag;
    PoolArray array;
  };
  std::map<uint32_t, Entry> arrays;
  for (const auto& j : jobs) {
    if (!looks_like_job_tag(j.comment)) continue;
    auto tag = parse_job_tag(j.comment);
    if (!tag.ok()) {
      v.problems.push_back("job " + std::to_string(j.job_id) + ": comment " + j.comment + ": " +
                           tag.error().message);
      continue;
    }
    if (j.array_job_id == 0) {
      v.problems.push_back("job " + std::to_string(j.job_id) +
                           ": tagged as a pool but not a job array; ignored");
      continue;
    }
    if (j.state == JobState::kFinished) continue;
    auto [it, fresh] = arrays.try_emplace(j.array_job_id);
    Entry& e = it->second;
    if (fresh || !j.array_task_id) {
      // The meta record's tag is the array's (tasks may carry a drain mark on top).
      JobTag base = *tag;
      base.drain_since_unix_s.reset();
      base.replace_since_unix_s.reset();
      if (fresh || !j.array_task_id) e.tag = base;
      e.array.array_job_id = j.array_job_id;
      e.array.features = j.features;
      e.array.partition = j.partition;
      e.array.tres_per_node = j.tres_per_node;
      e.array.user_id = j.user_id;
    }
    if (j.submit_time > 0 && (e.array.submit_time == 0 || j.submit_time < e.array.submit_time))
      e.array.submit_time = j.submit_time;
    e.array.throttle = j.array_max_tasks;
    if (!j.array_task_id) {
      auto ids = IdSet::parse(j.pending_tasks, 1u << 26);
      auto had = IdSet::parse(e.array.pending_tasks, 1u << 26);
      if (!ids.ok()) {  // a list syntax this version does not read: nothing counted
        e.array.pending = 0;
        e.array.pending_tasks = j.pending_tasks;
      } else {
        IdSet pending = had.ok() ? ids->unite(*had) : *ids;
        e.array.pending = static_cast<uint32_t>(pending.size());
        e.array.pending_tasks = pending.to_string();
      }
      e.array.pending_reason = j.state_reason;
      e.array.pending_since = j.start_time;
      continue;
    }
    if (j.state == JobState::kPending) {
      // A pending record with a task id: the array's last pending index (Slurm turns the
      // meta record into it) or a requeued task. Its index joins the pending list, which
      // closing the pool cancels by name.
      auto ids = IdSet::parse(e.array.pending_tasks, 1u << 26);
      IdSet pending = ids.ok() ? *ids : IdSet();
      pending.insert(*j.array_task_id);
      e.array.pending = static_cast<uint32_t>(pending.size());
      e.array.pending_tasks = pending.to_string();
      if (e.array.pending_reason.empty()) e.array.pending_reason = j.state_reason;
      if (e.array.pending_since == 0) e.array.pending_since = j.start_time;
      continue;
    }
    PoolTask t;
    t.job_id = j.job_id;
    t.array_job_id = j.array_job_id;
    t.task_id = *j.array_task_id;
    t.state = j.state;
    t.node = j.nodes;
    t.drain_since_unix_s = tag->drain_since_unix_s;
    t.start_time = j.start_time;
    t.end_time = j.end_time;
    t.tag = *tag;
    t.comment = j.comment;
    e.array.tasks.push_back(std::move(t));
  }
  for (auto& [id, e] : arrays) {
    std::sort(e.array.tasks.begin(), e.array.tasks.end(),
              [](const PoolTask& a, const PoolTask& b) { return a.task_id < b.task_id; });
    GroupPools& g = v.services[e.tag.service][e.tag.group];
    g.service = e.tag.service;
    g.group = e.tag.group;
    if (g.variant.empty()) g.variant = e.tag.variant;
    g.role(e.tag.role).arrays.push_back(std::move(e.array));
  }
  return v;
}

std::string_view to_string(JobState s) {
  switch (s) {
    case JobState::kPending:
      return "PENDING";
    case JobState::kRunning:
      return "RUNNING";
    case JobState::kSuspended:
      return "SUSPENDED";
    case JobState::kCompleting:
      return "COMPLETING";
    case JobState::kFinished:
      return "FINISHED";
  }
  return "?";
}

}  // namespace hs::scaler
