// Action constructors and how an action reads in logs and in the status.
#include "hs/common/text.h"

#include <cstdint>
#include "tick/service_tick.h"

namespace hs::scaler {

std::string_view to_string(Action::Kind k) {
  switch (k) {
    case Action::Kind::kThrottle:
      return "throttle";
    case Action::Kind::kMarkDrain:
      return "drain";
    case Action::Kind::kClearDrain:
      return "undrain";
    case Action::Kind::kCancelTask:
      return "cancel";
    case Action::Kind::kCancelArray:
      return "cancel-array";
    case Action::Kind::kSubmit:
      return "submit";
  }
  return "?";
}

std::string Action::describe() const {
  std::string s = std::string(to_string(kind)) + " service=" + service + " group=" + group +
                  " role=" + std::string(to_string(role));
  switch (kind) {
    case Kind::kThrottle:
      s += " array=" + std::to_string(job_id) + " throttle=" + std::to_string(value);
      break;
    case Kind::kMarkDrain:
    case Kind::kClearDrain:
    case Kind::kCancelTask:
      s += " task=" + task;
      break;
    case Kind::kCancelArray:
      s += " array=" + std::to_string(job_id);
      break;
    case Kind::kSubmit:
      s += " array=" + submit.array + " constraint=" + quote(submit.constraint);
      break;
  }
  return s + " why=" + quote(why);
}

namespace tick {

uint32_t ceil_div(uint32_t a, uint32_t b) { return b ? (a + b - 1) / b : 0; }

uint32_t counted(const RolePool& rp) { return rp.target() - std::min(rp.target(), rp.replacing()); }

// One task's new comment: its tag with a drain or replace mark set or cleared.
Action mark_task(const std::string& group, const PoolTask& t, Mark m, int64_t wall,
                 std::string why) {
  Action a;
  a.kind = m == Mark::kUndrain ? Action::Kind::kClearDrain : Action::Kind::kMarkDrain;
  a.group = group;
  a.role = t.tag.role;
  a.job_id = t.job_id;
  a.task = t.id();
  JobTag tag = t.tag;
  switch (m) {
    case Mark::kDrain:
      tag.replace_since_unix_s.reset();
      tag.drain_since_unix_s = wall;
      break;
    case Mark::kUndrain:
      tag.drain_since_unix_s.reset();
      break;
    case Mark::kReplace:
      tag.replace_since_unix_s = wall;
      break;
  }
  // Only the tag changes: the site's text around it is kept.
  a.comment = with_job_tag(t.comment, tag);
  a.why = std::move(why);
  return a;
}

Action cancel_task(const std::string& group, const PoolTask& t, std::string why) {
  Action a;
  a.kind = Action::Kind::kCancelTask;
  a.group = group;
  a.role = t.tag.role;
  a.job_id = t.job_id;
  a.task = t.id();
  a.why = std::move(why);
  return a;
}

Action cancel_pending(const std::string& group, Role role, const PoolArray& arr, std::string why) {
  Action a;
  a.kind = Action::Kind::kCancelTask;
  a.group = group;
  a.role = role;
  a.job_id = arr.array_job_id;
  a.task = std::to_string(arr.array_job_id) + "_[" + arr.pending_tasks + "]";
  a.why = std::move(why);
  return a;
}

Action set_throttle(const std::string& group, Role role, uint32_t array_job_id, uint32_t value,
                    std::string why) {
  Action a;
  a.kind = Action::Kind::kThrottle;
  a.group = group;
  a.role = role;
  a.job_id = array_job_id;
  a.value = value;
  a.why = std::move(why);
  return a;
}

void submit_from_template(ServiceTick& t, const std::string& gname, Role role,
                          const std::string& variant, const std::string& constraint, uint32_t n,
                          const std::string& why, std::vector<Action>* to) {
  const ServiceConfig& svc = t.svc;
  const ServiceTemplate* tpl = nullptr;
  if (auto it = t.daemon.templates.find(svc.name); it != t.daemon.templates.end())
    tpl = &it->second;
  const Variant* v = svc.variant_named(variant);
  if (!tpl || !v) {
    t.st.actions.push_back("shortfall: " + std::to_string(n) + " " + std::string(to_string(role)) +
                           " for group " + gname + " need a new array but daemon.templates." +
                           svc.name + " is not configured");
    return;
  }
  Action a;
  a.kind = Action::Kind::kSubmit;
  a.group = gname;
  a.role = role;
  a.submit = template_submission(svc, *tpl, *v, gname, role, constraint, n);
  a.why = why;
  t.add(std::move(a), to);
}

}  // namespace tick
}  // namespace hs::scaler
