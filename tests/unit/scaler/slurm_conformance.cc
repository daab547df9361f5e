// The conformance sequences (see slurm_conformance.h). Each expectation was first observed on
// the loopback cluster (Slurm 22.05), then required of SimSlurm.
#include "slurm_conformance.h"

#include <cstdint>
#include <map>

#include "hs/common/id_set.h"

namespace hs::scaler::conformance {
namespace {

std::string code_of(const Status& s) {
  return s.ok() ? "ok" : std::string(to_string(s.error().code));
}

// Job-id-free view of one array: "throttle=2 pending=2-7 running=0-1 ended=" [+ " reason=R"].
std::string describe_array(const std::vector<SlurmJob>& jobs, uint32_t array_id, bool with_reason) {
  IdSet pending, running, ended;
  uint32_t throttle = 0;
  std::string reason;
  for (const auto& j : jobs) {
    if (j.array_job_id != array_id) continue;
    throttle = j.array_max_tasks;
    if (j.array_task_id) {
      // The last pending index is the meta record showing a task id, still pending.
      if (j.state == JobState::kPending) {
        pending.insert(*j.array_task_id);
        reason = j.state_reason;
      } else {
        (j.state == JobState::kRunning ? running : ended).insert(*j.array_task_id);
      }
      continue;
    }
    auto ids = IdSet::parse(j.pending_tasks);
    if (!ids.ok()) return "bad pending list '" + j.pending_tasks + "'";
    if (j.state == JobState::kPending) {
      pending = pending.unite(*ids);
      reason = j.state_reason;
    } else {
      ended = ended.unite(*ids);
    }
  }
  std::string s = "throttle=" + std::to_string(throttle) + " pending=" + pending.to_string() +
                  " running=" + running.to_string() + " ended=" + ended.to_string();
  if (with_reason) s += " reason=" + reason;
  return s;
}

std::string describe_node(const std::vector<SlurmNode>& nodes, const std::string& name) {
  for (const auto& n : nodes) {
    if (n.name != name) continue;
    // gres_used: "gpu:h100:2(IDX:0-1)" -> 2
    std::string u = n.gres_used.substr(0, n.gres_used.find('('));
    return "used=" + u.substr(u.rfind(':') + 1) + " drain=" + (n.drain ? "1" : "0");
  }
  return "no node " + name;
}

class Runner {
 public:
  explicit Runner(std::vector<Side>& sides) : sides_(sides) {}
  Outcome out;

  // Submits on every side; returns a handle naming the array on each.
  size_t submit(const std::string& step, SubmitSpec spec) {
    std::vector<uint32_t> ids;
    for (auto& s : sides_) {
      auto id = s.api->submit(spec);
      if (!id.ok()) fail(s, step, "submit failed: " + id.error().to_string(), "a job id");
      ids.push_back(id.ok() ? *id : 0);
    }
    arrays_.push_back(ids);
    return arrays_.size() - 1;
  }

  void expect(const std::string& step, size_t h, const std::string& want, bool reason = false) {
    each(step, want, [&](Side& s, size_t i) -> std::string {
      auto jobs = s.api->load_jobs();
      if (!jobs.ok()) return "load_jobs: " + jobs.error().to_string();
      return describe_array(*jobs, arrays_[h][i], reason);
    });
  }

  void expect_node(const std::string& step, const std::string& node, const std::string& want) {
    each(step, want, [&](Side& s, size_t) -> std::string {
      auto nodes = s.api->load_nodes();
      if (!nodes.ok()) return "load_nodes: " + nodes.error().to_string();
      return describe_node(*nodes, node);
    });
  }

  // The comment of task `index` (the meta record's when it has not started).
  void expect_comment(const std::string& step, size_t h, uint32_t index, const std::string& want) {
    each(step, want, [&](Side& s, size_t i) -> std::string {
      auto j = record(s, arrays_[h][i], index);
      return j ? j->comment : "no record of index " + std::to_string(index);
    });
  }

  // Whether task `index` has the array's own job id (the last index to start takes it).
  void expect_owns_array_id(const std::string& step, size_t h, uint32_t index) {
    each(step, "yes", [&](Side& s, size_t i) -> std::string {
      auto j = record(s, arrays_[h][i], index);
      return j && j->job_id == arrays_[h][i] ? "yes" : "no";
    });
  }

  // Runs `act` once on every side; each must return `want` ("ok" or an error code's name).
  void act(const std::string& step, size_t h, const std::string& want,
           const std::function<Status(Side&, uint32_t array_id)>& act) {
    for (size_t i = 0; i < sides_.size(); ++i) {
      Status st = act(sides_[i], arrays_[h][i]);
      if (code_of(st) == want)
        out.passed.push_back(sides_[i].name + ": " + step);
      else
        fail(sides_[i], step, code_of(st) + (st.ok() ? "" : " (" + st.error().message + ")"), want);
    }
  }

  std::optional<SlurmJob> record(Side& s, uint32_t array_id, uint32_t index) {
    auto jobs = s.api->load_jobs();
    if (!jobs.ok()) return std::nullopt;
    for (const auto& j : *jobs)
      if (j.array_job_id == array_id && j.array_task_id == index) return j;
    for (const auto& j : *jobs)
      if (j.array_job_id == array_id && !j.array_task_id) return j;
    return std::nullopt;
  }

  uint32_t task_job_id(Side& s, size_t h, size_t i, uint32_t index) {
    auto j = record(s, arrays_[h][i], index);
    return j ? j->job_id : 0;
  }

  std::vector<Side>& sides() { return sides_; }

 private:
  // Polls every side until `got` equals `want`, within the side's deadline.
  void each(const std::string& step, const std::string& want,
            const std::function<std::string(Side&, size_t)>& got) {
    for (size_t i = 0; i < sides_.size(); ++i) {
      Side& s = sides_[i];
      std::string g = got(s, i);
      for (double waited = 0; g != want && waited < s.deadline_s; waited += 0.2) {
        s.pass(0.2);
        g = got(s, i);
      }
      if (g == want)
        out.passed.push_back(s.name + ": " + step);
      else
        fail(s, step, g, want);
    }
  }
  void fail(Side& s, const std::string& step, const std::string& got, const std::string& want) {
    out.failed.push_back(s.name + ": " + step + ": got '" + got + "', want '" + want + "'");
  }

  std::vector<Side>& sides_;
  std::vector<std::vector<uint32_t>> arrays_;  // handle -> id per side
};

SubmitSpec spec(const std::string& name, const std::string& array, const std::string& gpu,
                const std::string& leaf) {
  SubmitSpec s;
  s.name = "conf-" + name;
  s.script = "#!/bin/bash\nexec sleep 600\n";
  s.array = array;
  s.tres_per_node = "gres:gpu:" + gpu + ":1";
  s.constraint = leaf;
  s.work_dir = "/tmp";
  s.std_out = "/dev/null";
  return s;
}

// Throttle raise and lower, a throttle of 0 refused, lower-then-cancel, cancels of ended and
// pending tasks, cancel of the array, on node1's four GPUs.
void throttles(Runner& r) {
  size_t a = r.submit("throttles: submit 0-7%2", spec("throttle", "0-7%2", "h100", "leaf1"));
  r.expect("throttles: two start, the rest wait on the throttle", a,
           "throttle=2 pending=2-7 running=0-1 ended= reason=JobArrayTaskLimit", true);
  r.act("throttles: raise to 4", a, "ok",
        [](Side& s, uint32_t id) { return s.api->set_throttle(id, 4); });
  r.expect("throttles: four run", a, "throttle=4 pending=4-7 running=0-3 ended=");
  r.expect_node("throttles: node1 full", "node1", "used=4 drain=0");
  r.act("throttles: raise to 5", a, "ok",
        [](Side& s, uint32_t id) { return s.api->set_throttle(id, 5); });
  r.expect("throttles: no GPU left, the rest wait on resources", a,
           "throttle=5 pending=4-7 running=0-3 ended= reason=Resources", true);
  r.act("throttles: lower to 1", a, "ok",
        [](Side& s, uint32_t id) { return s.api->set_throttle(id, 1); });
  r.expect("throttles: lowering kills nothing", a, "throttle=1 pending=4-7 running=0-3 ended=");
  r.act("throttles: a throttle of 0 is never written", a, "invalid_argument",
        [](Side& s, uint32_t id) { return s.api->set_throttle(id, 0); });
  r.act("throttles: cancel 3, 2 and 1 after the lower", a, "ok", [](Side& s, uint32_t id) {
    for (const char* i : {"_3", "_2", "_1"})
      if (auto st = s.api->cancel_task(std::to_string(id) + i); !st.ok()) return st;
    return Status{};
  });
  r.expect("throttles: nothing starts in their place", a,
           "throttle=1 pending=4-7 running=0 ended=1-3");
  r.act("throttles: cancel of an ended task is not_found", a, "not_found",
        [](Side& s, uint32_t id) { return s.api->cancel_task(std::to_string(id) + "_2"); });
  r.act("throttles: cancel a pending index", a, "ok",
        [](Side& s, uint32_t id) { return s.api->cancel_task(std::to_string(id) + "_7"); });
  r.expect("throttles: the pending index is gone (no record of its own)", a,
           "throttle=1 pending=4-6 running=0 ended=1-3");
  r.act("throttles: cancel pending indices as a list (how a pool closes)", a, "ok",
        [](Side& s, uint32_t id) { return s.api->cancel_task(std::to_string(id) + "_[4-5]"); });
  r.expect("throttles: the listed indices are gone", a, "throttle=1 pending=6 running=0 ended=1-3");
  r.act("throttles: cancel the array", a, "ok",
        [](Side& s, uint32_t id) { return s.api->cancel_array(id); });
  r.expect("throttles: everything ended, the meta record holding index 6", a,
           "throttle=1 pending= running= ended=0-3,6");
}

// An array never grows past its last index; the last index to start takes the array's id.
void last_index(Runner& r) {
  size_t a = r.submit("last index: submit 0-2%1", spec("last", "0-2%1", "h100", "leaf2"));
  r.expect("last index: one starts", a, "throttle=1 pending=1-2 running=0 ended=");
  r.act("last index: raise to 8", a, "ok",
        [](Side& s, uint32_t id) { return s.api->set_throttle(id, 8); });
  r.expect("last index: three run, no growth past index 2", a,
           "throttle=8 pending= running=0-2 ended=");
  r.expect_node("last index: node3 holds three", "node3", "used=3 drain=0");
  r.expect_owns_array_id("last index: index 2 took the array's job id", a, 2);
  r.act("last index: cancel the array", a, "ok",
        [](Side& s, uint32_t id) { return s.api->cancel_array(id); });
  r.expect("last index: ended", a, "throttle=8 pending= running= ended=0-2");
}

// A task's comment update touches that task only; the meta record's reaches tasks that start
// after it.
void comments(Runner& r) {
  const std::string site = "acct:42 heteroscale/v1 service=c role=decode group=g variant=v x";
  SubmitSpec s = spec("comment", "0-3%2", "l40s", "leaf1");
  s.comment = site;
  size_t a = r.submit("comments: submit with site text around the tag", s);
  r.expect("comments: two start", a, "throttle=2 pending=2-3 running=0-1 ended=");
  r.act("comments: load_job of the array reads the meta record's comment back", a, "ok",
        [&](Side& sd, uint32_t id) -> Status {
          auto j = sd.api->load_job(id);
          if (!j.ok()) return j.error();
          if (j->job_id != id || j->comment != site || j->array_task_id)
            return failed_precondition("job " + std::to_string(j->job_id) + " comment '" +
                                       j->comment + "'");
          return {};
        });
  r.act("comments: load_job of an unknown id is not_found", a, "not_found",
        [](Side& sd, uint32_t) { return Status(sd.api->load_job(999999).error()); });
  std::vector<uint32_t> task0;
  for (size_t i = 0; i < r.sides().size(); ++i)
    task0.push_back(r.task_job_id(r.sides()[i], a, i, 0));
  size_t side = 0;
  r.act("comments: mark task 0", a, "ok",
        [&](Side& sd, uint32_t) { return sd.api->set_comment(task0[side++], site + " drain=5"); });
  r.expect_comment("comments: task 0 marked", a, 0, site + " drain=5");
  r.expect_comment("comments: task 1 untouched", a, 1, site);
  r.act("comments: update the meta record", a, "ok",
        [&](Side& sd, uint32_t id) { return sd.api->set_comment(id, site + " next"); });
  r.act("comments: raise to 3", a, "ok",
        [](Side& sd, uint32_t id) { return sd.api->set_throttle(id, 3); });
  r.expect("comments: a third starts", a, "throttle=3 pending=3 running=0-2 ended=");
  r.expect_comment("comments: the new task carries the meta record's comment", a, 2,
                   site + " next");
  r.expect_comment("comments: task 1 still untouched", a, 1, site);
  r.act("comments: cancel the array", a, "ok",
        [](Side& sd, uint32_t id) { return sd.api->cancel_array(id); });
  r.expect("comments: ended", a, "throttle=3 pending= running= ended=0-3");
}

// A drained node takes no new work and names itself in the pending reason; resumed, it does.
void drained_node(Runner& r) {
  for (auto& s : r.sides()) {
    Status st = s.set_drain("node4", true);
    if (!st.ok()) r.out.failed.push_back(s.name + ": drain node4: " + st.error().to_string());
  }
  r.expect_node("drained node: node4 drained", "node4", "used=0 drain=1");
  size_t a = r.submit("drained node: submit 0-1%2 for leaf2's l40s",
                      spec("drained", "0-1%2", "l40s", "leaf2"));
  r.expect("drained node: nothing starts", a,
           "throttle=2 pending=0-1 running= ended= reason=ReqNodeNotAvail", true);
  for (auto& s : r.sides()) {
    Status st = s.set_drain("node4", false);
    if (!st.ok()) r.out.failed.push_back(s.name + ": resume node4: " + st.error().to_string());
  }
  r.expect("drained node: resumed, both start", a, "throttle=2 pending= running=0-1 ended=");
  r.act("drained node: cancel the array", a, "ok",
        [](Side& s, uint32_t id) { return s.api->cancel_array(id); });
}

}  // namespace

Outcome run(std::vector<Side>& sides) {
  Runner r(sides);
  // The time limit runs in the background of the other sequences (a minute is Slurm's
  // shortest), and is checked last.
  SubmitSpec tl = spec("timelimit", "0-1%1", "l40s", "leaf1");
  tl.time_limit_min = 1;
  size_t t = r.submit("time limit: submit 0-1%1 with --time=1", tl);
  r.expect("time limit: index 0 runs", t, "throttle=1 pending=1 running=0 ended=");
  throttles(r);
  last_index(r);
  comments(r);
  drained_node(r);
  for (auto& s : sides) s.deadline_s += 120;  // slurmctld checks time limits every 30 s
  r.expect("time limit: index 0 ended at its limit, index 1 took its place", t,
           "throttle=1 pending= running=1 ended=0");
  for (auto& s : sides) s.deadline_s -= 120;
  r.act("time limit: cancel the array", t, "ok",
        [](Side& s, uint32_t id) { return s.api->cancel_array(id); });
  return r.out;
}

}  // namespace hs::scaler::conformance
