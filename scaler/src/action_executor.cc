#include "hs/scaler/action_executor.h"

#include <cstdint>

#include "hs/common/job_tag.h"

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
      return check_tag(a, *id);
    }
  }
  return internal_error("unknown action kind");
}

// A site's job_submit plugin may rewrite the comment at submission; an array whose tag did not
// survive would run unmanaged for ever. Read it back and cancel it if so.
Status ActionExecutor::check_tag(const Action& a, uint32_t id) {
  auto want = parse_job_tag(a.submit.comment);
  if (!want.ok()) return {};  // nothing of ours to check
  auto back = api_.load_job(id);
  if (!back.ok()) {
    // Submitted, but not verifiable now: the next tick's view shows the array either way.
    log_.warning("array " + std::to_string(id) + ": comment not read back (" +
                 back.error().message + ")");
    return {};
  }
  auto got = parse_job_tag(back->comment);
  if (got.ok() && *got == *want) return {};
  Status cancel = api_.cancel_array(id);
  return failed_precondition(
      "array " + std::to_string(id) + " came back with comment \"" + back->comment +
          "\": the heteroscale tag is " + (got.ok() ? "altered" : "missing") +
          ", most likely rewritten by the site's job_submit plugin (JobSubmitPlugins in "
          "slurm.conf); the array was " +
          (cancel.ok() ? "cancelled, not left unmanaged"
                       : "NOT cancelled (" + cancel.error().message + "): cancel it by hand"),
      "submit " + a.submit.name);
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
