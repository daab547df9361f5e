// SimSlurm: see sim_slurm.h for what is modelled and the real behaviour it follows.
#include "hs/scaler/sim_slurm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "hs/common/text.h"

namespace hs::scaler {
namespace {

Error not_found_job(const std::string& what) {
  // The text libslurm gives for ESLURM_INVALID_JOB_ID / ESLURM_ALREADY_DONE.
  return not_found(what + ": Invalid job id specified", "simslurm");
}

// "gres:gpu:h100:2", "gres/gpu:h100:2" (24.11 spelling) or "gpu:h100:2" -> type and count.
Result<std::pair<std::string, uint32_t>> parse_tres(const std::string& tres) {
  std::string s = tres;
  for (const char* prefix : {"gres:", "gres/"})
    if (starts_with(s, prefix)) s = s.substr(5);
  auto parts = split(s, ':');
  if (parts.size() != 3 || parts[0] != "gpu")
    return invalid_argument("tres_per_node '" + tres + "' is not gres:gpu:TYPE:COUNT",
                            "simslurm submit");
  auto n = parse_u64(parts[2]);
  if (!n.ok() || *n == 0 || *n > 64)
    return invalid_argument("tres_per_node '" + tres + "': bad GPU count", "simslurm submit");
  return std::pair{std::string(parts[1]), static_cast<uint32_t>(*n)};
}

// "0-63%4" -> indices and throttle, as sbatch --array takes it (ranges and lists, no steps).
Result<std::pair<IdSet, uint32_t>> parse_array(const std::string& spec, uint32_t max_size) {
  std::string list = spec;
  uint32_t throttle = 0;
  if (auto pct = spec.find('%'); pct != std::string::npos) {
    list = spec.substr(0, pct);
    auto n = parse_u64(spec.substr(pct + 1));
    if (!n.ok()) return invalid_argument("array '" + spec + "': bad throttle", "simslurm submit");
    throttle = static_cast<uint32_t>(*n);
  }
  auto ids = IdSet::parse(list);
  if (!ids.ok() || ids->empty())
    return invalid_argument("array '" + spec + "': Invalid job array specification",
                            "simslurm submit");
  if (ids->ids().back() >= max_size)
    return invalid_argument("array '" + spec + "': index past MaxArraySize", "simslurm submit");
  return std::pair{*ids, throttle};
}

}  // namespace

uint32_t SimSlurm::Array::running() const {
  uint32_t n = 0;
  for (const auto& t : tasks)
    if (!t.ended()) ++n;
  return n;
}

SimSlurm::SimSlurm(std::vector<SimNode> nodes, int64_t now_unix_s, SimSlurmOptions options)
    : options_(options), now_(now_unix_s), next_id_(options.first_job_id) {
  std::sort(nodes.begin(), nodes.end(),
            [](const SimNode& a, const SimNode& b) { return a.name < b.name; });
  for (auto& n : nodes) nodes_.push_back(Node{std::move(n), 0, false, false, ""});
}

std::vector<SimNode> SimSlurm::nodes_like(const std::vector<SlurmNode>& real) {
  std::vector<SimNode> out;
  for (const auto& n : real) {
    SimNode s;
    s.name = n.name;
    std::string g = n.gres.substr(0, n.gres.find('('));
    auto parts = split(g, ':');
    if (parts.size() == 3 && parts[0] == "gpu") {
      s.gpu_type = std::string(parts[1]);
      auto c = parse_u64(parts[2]);
      s.gpus = c.ok() ? static_cast<uint32_t>(*c) : 0;
    }
    for (auto f : split(n.features, ','))
      if (!trim(f).empty()) s.features.emplace_back(trim(f));
    out.push_back(std::move(s));
  }
  return out;
}

SimSlurm::Array* SimSlurm::array_of(uint32_t job_id) {
  for (auto& [id, a] : arrays_) {
    if (id == job_id) return &a;
    for (auto& t : a.tasks)
      if (t.job_id == job_id) return &a;
  }
  return nullptr;
}

bool SimSlurm::matches(const Node& n, const Array& a) const {
  if (n.spec.gpu_type != a.gpu_type || n.spec.gpus < a.gpus_per_task) return false;
  if (a.spec.constraint.empty()) return true;
  // Slurm's constraint syntax as the daemon and templates use it: '|' between alternatives,
  // '&' (or ',') between features that must all be present.
  for (auto alt : split(a.spec.constraint, '|')) {
    bool all = true;
    std::string conj(alt);
    std::replace(conj.begin(), conj.end(), ',', '&');
    for (auto f : split(conj, '&'))
      if (std::find(n.spec.features.begin(), n.spec.features.end(), trim(f)) ==
          n.spec.features.end())
        all = false;
    if (all) return true;
  }
  return false;
}

SimSlurm::Node* SimSlurm::node_for(const Array& a) {
  // Fill the first node by name that fits, as cons_tres's best fit does on equal nodes.
  for (auto& n : nodes_)
    if (!n.drain && !n.down && matches(n, a) && n.spec.gpus - n.used >= a.gpus_per_task) return &n;
  return nullptr;
}

void SimSlurm::end_task(const Array& a, Task& t) {
  if (t.ended()) return;
  for (auto& n : nodes_)
    if (n.spec.name == t.node) n.used -= std::min(n.used, a.gpus_per_task);
  t.state = JobState::kFinished;
  t.end = now_;
}

void SimSlurm::schedule() {
  for (auto& [id, a] : arrays_) {
    for (auto& t : a.tasks)
      if (!t.ended() && t.end > 0 && now_ >= t.end) end_task(a, t);
    std::erase_if(a.tasks, [&](const Task& t) {
      return t.ended() && now_ - t.end >= options_.min_job_age_s;
    });
  }
  for (auto& [id, a] : arrays_)
    if (!a.cancelled.empty() && now_ - a.cancelled_at >= options_.min_job_age_s)
      a.cancelled = IdSet();
  std::erase_if(arrays_, [](const auto& kv) {
    return kv.second.tasks.empty() && kv.second.pending.empty() && kv.second.cancelled.empty();
  });
  // Oldest array first, lowest index first: Slurm's priority order for equal jobs.
  for (auto& [id, a] : arrays_) {
    while (!a.pending.empty()) {
      bool throttled = a.throttle != 0 && a.running() >= a.throttle;
      Node* n = (a.held || throttled) ? nullptr : node_for(a);
      if (a.held)
        a.reason = "JobHeldAdmin";
      else if (throttled)
        a.reason = "JobArrayTaskLimit";
      else if (!n) {
        bool any = false;
        for (const auto& x : nodes_)
          if (!x.drain && !x.down && matches(x, a)) any = true;
        a.reason = any ? "Resources" : "ReqNodeNotAvail";
      }
      if (!n) {
        a.startable_since = -1;
        break;
      }
      if (a.startable_since < 0) a.startable_since = now_;
      if (static_cast<double>(now_ - a.startable_since) < options_.queue_wait_s) {
        a.reason = "Priority";
        break;
      }
      uint32_t index = a.pending.first();
      a.pending = a.pending.minus(IdSet({index}));
      Task t;
      t.index = index;
      // The last pending index takes over the meta record's job id.
      t.job_id = a.pending.empty() ? a.id : next_id_++;
      t.node = n->spec.name;
      t.comment = a.meta_comment;
      t.start = now_;
      t.end = a.spec.time_limit_min ? now_ + int64_t{a.spec.time_limit_min} * 60 : 0;
      n->used += a.gpus_per_task;
      a.tasks.push_back(std::move(t));
      a.reason.clear();
    }
  }
}

void SimSlurm::advance_to(int64_t now_unix_s) {
  now_ = std::max(now_, now_unix_s);
  schedule();
}

std::optional<int64_t> SimSlurm::next_change() const {
  std::optional<int64_t> best;
  auto take = [&](int64_t t) {
    t = std::max(t, now_ + 1);
    if (!best || t < *best) best = t;
  };
  auto wait = static_cast<int64_t>(std::ceil(options_.queue_wait_s));
  for (const auto& [id, a] : arrays_) {
    if (!a.pending.empty() && a.startable_since >= 0) take(a.startable_since + wait);
    for (const auto& t : a.tasks)
      if (!t.ended() && t.end > 0) take(t.end);
  }
  return best;
}

Status SimSlurm::drain_node(const std::string& node, const std::string& reason) {
  for (auto& n : nodes_)
    if (n.spec.name == node) {
      n.drain = true;
      n.reason = reason;
      schedule();
      return {};
    }
  return not_found("no node " + node, "simslurm");
}

Status SimSlurm::resume_node(const std::string& node) {
  for (auto& n : nodes_)
    if (n.spec.name == node) {
      n.drain = n.down = false;
      n.reason.clear();
      schedule();
      return {};
    }
  return not_found("no node " + node, "simslurm");
}

Status SimSlurm::fail_node(const std::string& node) {
  for (auto& n : nodes_)
    if (n.spec.name == node) {
      n.down = true;
      n.reason = "Not responding";
      for (auto& [id, a] : arrays_)
        for (auto& t : a.tasks)
          if (t.node == node) end_task(a, t);
      schedule();
      return {};
    }
  return not_found("no node " + node, "simslurm");
}

Status SimSlurm::hold(uint32_t array_job_id) {
  auto it = arrays_.find(array_job_id);
  if (it == arrays_.end()) return not_found_job("hold " + std::to_string(array_job_id));
  it->second.held = true;
  schedule();
  return {};
}

Status SimSlurm::release(uint32_t array_job_id) {
  auto it = arrays_.find(array_job_id);
  if (it == arrays_.end()) return not_found_job("release " + std::to_string(array_job_id));
  it->second.held = false;
  schedule();
  return {};
}

Result<std::vector<SlurmJob>> SimSlurm::load_jobs() {
  ++calls_;
  std::vector<SlurmJob> out;
  for (const auto& [id, a] : arrays_) {
    auto base = [&](SlurmJob& j) {
      j.array_job_id = a.id;
      j.array_max_tasks = a.throttle;
      j.name = a.spec.name;
      j.features = a.spec.constraint;
      j.partition = a.spec.partition.empty() ? "gpu" : a.spec.partition;
      j.user_id = options_.user_id;
      j.submit_time = a.submit_time;
      j.tres_per_node = a.spec.tres_per_node;
    };
    for (const auto& t : a.tasks) {
      SlurmJob j;
      base(j);
      j.job_id = t.job_id;
      j.array_task_id = t.index;
      j.state = t.state;
      j.comment = t.comment;
      j.nodes = t.node;
      j.start_time = t.start;
      j.end_time = t.end;
      out.push_back(std::move(j));
    }
    // The meta record: the indices not started (or cancelled before they started); with one
    // index left, Slurm shows it as that task.
    auto meta = [&](const IdSet& indices, JobState state) {
      SlurmJob j;
      base(j);
      j.job_id = a.id;
      if (indices.size() == 1)
        j.array_task_id = indices.first();
      else
        j.pending_tasks = indices.to_string();
      j.state = state;
      j.comment = a.meta_comment;
      return j;
    };
    if (!a.cancelled.empty()) {
      SlurmJob j = meta(a.cancelled, JobState::kFinished);
      j.end_time = a.cancelled_at;
      out.push_back(std::move(j));
    }
    if (!a.pending.empty()) {
      SlurmJob j = meta(a.pending, JobState::kPending);
      j.state_reason = a.reason;
      j.start_time = a.startable_since >= 0 ? a.startable_since : 0;
      out.push_back(std::move(j));
    }
  }
  return out;
}

Result<SlurmJob> SimSlurm::load_job(uint32_t job_id) {
  auto jobs = load_jobs();
  for (const auto& j : *jobs)
    if (j.job_id == job_id) return j;
  return not_found_job("load job " + std::to_string(job_id));
}

Result<std::vector<SlurmNode>> SimSlurm::load_nodes() {
  ++calls_;
  std::vector<SlurmNode> out;
  for (const auto& n : nodes_) {
    SlurmNode s;
    s.name = n.spec.name;
    s.state = n.down ? "down" : n.used == 0 ? "idle" : n.used < n.spec.gpus ? "mixed" : "allocated";
    s.drain = n.drain;
    s.not_responding = n.down;
    s.gres = "gpu:" + n.spec.gpu_type + ":" + std::to_string(n.spec.gpus);
    s.gres_used = "gpu:" + n.spec.gpu_type + ":" + std::to_string(n.used) +
                  (n.used ? "(IDX:0-" + std::to_string(n.used - 1) + ")" : "(IDX:N/A)");
    for (size_t i = 0; i < n.spec.features.size(); ++i)
      s.features += (i ? "," : "") + n.spec.features[i];
    s.reason = n.reason;
    out.push_back(std::move(s));
  }
  return out;
}

Status SimSlurm::set_throttle(uint32_t array_job_id, uint32_t max_running) {
  ++calls_;
  if (max_running == 0)
    return invalid_argument("a throttle of 0 means unlimited to Slurm; never written",
                            "array " + std::to_string(array_job_id));
  Array* a = array_of(array_job_id);
  if (!a) return not_found_job("set ArrayTaskThrottle of " + std::to_string(array_job_id));
  a->throttle = max_running;
  schedule();
  return {};
}

Status SimSlurm::set_comment(uint32_t job_id, const std::string& comment) {
  ++calls_;
  Array* a = array_of(job_id);
  if (!a) return not_found_job("set comment of " + std::to_string(job_id));
  for (auto& t : a->tasks)
    if (t.job_id == job_id) {
      t.comment = comment;
      return {};
    }
  a->meta_comment = comment;  // the meta record: pending indices start with it
  return {};
}

// "A_i", or "A_[list]" (the pending indices the daemon closes), as slurm_kill_job2 takes them.
Status SimSlurm::cancel_task(const std::string& task) {
  ++calls_;
  auto us = task.find('_');
  auto aid = parse_u64(task.substr(0, us));
  std::string list = us == std::string::npos ? "" : task.substr(us + 1);
  if (list.size() > 2 && list.front() == '[' && list.back() == ']')
    list = list.substr(1, list.size() - 2);
  auto idx = IdSet::parse(list);
  if (!aid.ok() || !idx.ok() || idx->empty())
    return invalid_argument("cancel " + task + ": not ARRAY_TASK or ARRAY_[LIST]", "simslurm");
  auto it = arrays_.find(static_cast<uint32_t>(*aid));
  if (it == arrays_.end()) return not_found_job("cancel " + task);
  Array& a = it->second;
  bool any = false;
  for (uint32_t i : idx->ids()) {
    for (auto& t : a.tasks)
      if (t.index == i && !t.ended()) {
        end_task(a, t);
        any = true;
      }
    if (a.pending.contains(i)) {
      // A cancelled pending index leaves no record of its own; the meta record ends only
      // when its last index goes (then it holds that index, cancelled).
      a.pending = a.pending.minus(IdSet({i}));
      if (a.pending.empty()) {
        a.cancelled = a.cancelled.unite(IdSet({i}));
        a.cancelled_at = now_;
      }
      any = true;
    }
  }
  if (!any) return not_found_job("cancel " + task);
  schedule();
  return {};
}

Status SimSlurm::cancel_array(uint32_t array_job_id) {
  ++calls_;
  auto it = arrays_.find(array_job_id);
  if (it == arrays_.end()) return not_found_job("cancel array " + std::to_string(array_job_id));
  Array& a = it->second;
  // The meta record ends holding the indices that never started, as Slurm's does.
  a.cancelled = a.cancelled.unite(a.pending);
  a.pending = IdSet();
  if (!a.cancelled.empty()) a.cancelled_at = now_;
  for (auto& t : a.tasks) end_task(a, t);
  schedule();
  return {};
}

Result<uint32_t> SimSlurm::submit(const SubmitSpec& spec) {
  ++calls_;
  auto tres = parse_tres(spec.tres_per_node);
  if (!tres.ok()) return tres.error();
  auto arr = parse_array(spec.array.empty() ? "0" : spec.array, options_.max_array_size);
  if (!arr.ok()) return arr.error();
  if (spec.script.rfind("#!", 0) != 0)
    return invalid_argument("submit " + spec.name + ": batch script has no #! line", "simslurm");
  Array a;
  a.id = next_id_++;
  a.spec = spec;
  a.gpu_type = tres->first;
  a.gpus_per_task = tres->second;
  a.pending = arr->first;
  a.throttle = arr->second;
  a.submit_time = now_;
  a.meta_comment =
      options_.job_submit_comment ? options_.job_submit_comment(spec.comment) : spec.comment;
  a.spec.comment = a.meta_comment;
  bool any = false;
  for (const auto& n : nodes_)
    if (matches(n, a)) any = true;
  // slurmctld refuses at submission what no node could ever run.
  if (!any)
    return failed_precondition(
        "submit " + spec.name + ": Requested node configuration is not available", "simslurm");
  uint32_t id = a.id;
  arrays_.emplace(id, std::move(a));
  schedule();
  return id;
}

}  // namespace hs::scaler
