#include "hs/scaler/action_executor.h"

namespace hs::scaler {

ActionExecutor::ActionExecutor(SlurmApi& api, const Clock& clock, Logger log,
                               std::function<void(const Action&)> after_each)
    : api_(api), clock_(clock), log_(std::move(log)), after_each_(std::move(after_each)) {}

Status ActionExecutor::execute(const Action& a, uint32_t* submitted) {
  switch (a.kind) {
    case Action::Kind::kThrottle:
      return api_.set_throttle(a.job_id, a.value);
    case Action::Kind::kMarkDrain:
    case Action::Kind::kClearDrain:
      return api_.set_comment(a.job_id, a.comment);
    case Action::Kind::kCancelTask: {
      Status st = api_.cancel_task(a.task);
      // Ended by itself between the read and the cancel: the goal is met.
      if (!st.ok() && st.error().code == ErrorCode::kNotFound) {
        log_.info("action " + a.describe() + ": already gone (" + st.error().message + ")");
        return {};
      }
      return st;
    }
    case Action::Kind::kCancelArray:
      return api_.cancel_array(a.job_id);
    case Action::Kind::kSubmit: {
      auto id = api_.submit(a.submit);
      if (!id.ok()) return id.error();
      *submitted = *id;
      log_.info("submitted array " + std::to_string(*id) + " for " + a.describe());
      return {};
    }
  }
  return internal_error("unknown action kind");
}

BatchResult ActionExecutor::run(const std::vector<Action>& batch) {
  BatchResult out;
  for (size_t i = 0; i < batch.size(); ++i) {
    const Action& a = batch[i];
    TimePoint t0 = clock_.now();
    ActionOutcome o;
    o.action = &a;
    o.status = execute(a, &o.submitted_array);
    o.seconds = to_seconds(clock_.now() - t0);
    last_seconds_ = o.seconds;
    counts_[std::string(to_string(a.kind)) + (o.status.ok() ? " ok" : " error")] += 1;
    bool ok = o.status.ok();
    if (ok)
      log_.info("action " + a.describe() + " done in " + std::to_string(o.seconds) + " s");
    else
      log_.error("action " + a.describe() + " failed: " + o.status.error().to_string());
    out.done.push_back(std::move(o));
    if (!ok) {
      out.dropped = batch.size() - i - 1;
      if (out.dropped)
        log_.warning("dropping the batch's " + std::to_string(out.dropped) +
                     " remaining actions after a failure");
      break;
    }
    if (after_each_) after_each_(a);
  }
  return out;
}

}  // namespace hs::scaler
