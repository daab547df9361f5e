#include "hs/scaler/slurm_link.h"

#include <cstdint>

namespace hs::scaler {

SlurmLink::SlurmLink(SlurmApi& api, const Clock& clock, Logger log,
                     std::function<int64_t()> unix_now,
                     std::function<void(const Action&)> after_each)
    : api_(api),
      clock_(clock),
      log_(log),
      unix_now_(std::move(unix_now)),
      exec_(api, clock, log, std::move(after_each)) {}

void SlurmLink::step() {
  std::vector<Action> batch;
  {
    std::lock_guard lock(mu_);
    if (!batches_.empty()) {
      batch = std::move(batches_.front());
      batches_.pop_front();
    }
  }
  if (!batch.empty()) {
    exec_.run(batch);
    std::lock_guard lock(mu_);
    counts_ = exec_.counts();
    last_action_seconds_ = exec_.last_seconds();
  }
  auto jobs = api_.load_jobs();
  Result<std::vector<SlurmNode>> nodes =
      jobs.ok() ? api_.load_nodes() : Result<std::vector<SlurmNode>>(jobs.error());
  std::lock_guard lock(mu_);
  if (jobs.ok() && nodes.ok()) {
    auto s = std::make_shared<SlurmSnapshot>();
    s->seq = ++seq_;
    s->view = build_view(*jobs);
    s->jobs = std::move(*jobs);
    s->nodes = std::move(*nodes);
    s->read_at = clock_.now();
    s->read_at_unix_s = unix_now_();
    // Each bad tag once while it persists, not once per read.
    std::set<std::string> now_bad(s->view.problems.begin(), s->view.problems.end());
    for (const auto& p : now_bad)
      if (!reported_problems_.count(p)) log_.warning("slurm: " + p);
    reported_problems_ = std::move(now_bad);
    snapshot_ = std::move(s);
    if (!error_.empty())
      log_.info("slurmctld answers again after " +
                std::to_string(to_seconds(clock_.now() - error_since_)) + " s");
    error_.clear();
  } else {
    std::string e = (jobs.ok() ? nodes.error() : jobs.error()).to_string();
    if (error_.empty()) {
      error_since_ = clock_.now();
      log_.error("cannot read Slurm state: " + e + "; holding: no scale actions until it answers");
    }
    error_ = e;
  }
  if (!batch.empty()) {
    // Even a failed read ends the batch: the next good read (seq_ + 1) is after it.
    batch_done_seq_ = seq_ + (jobs.ok() && nodes.ok() ? 0 : 1);
    batch_in_flight_ = false;
  }
}

void SlurmLink::run() {
  for (;;) {
    step();
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, period_, [&] { return stop_ || !batches_.empty(); });
    if (stop_) return;
  }
}

void SlurmLink::stop() {
  std::lock_guard lock(mu_);
  stop_ = true;
  cv_.notify_all();
}

void SlurmLink::set_read_period(Duration d) {
  std::lock_guard lock(mu_);
  period_ = d;
}

void SlurmLink::submit(std::vector<Action> batch) {
  if (batch.empty()) return;
  std::lock_guard lock(mu_);
  batches_.push_back(std::move(batch));
  batch_in_flight_ = true;
  cv_.notify_all();
}

SlurmTake SlurmLink::take(Duration stale) const {
  std::lock_guard lock(mu_);
  SlurmTake t;
  t.latest = snapshot_;
  t.error = error_;
  if (!error_.empty()) t.down_for = clock_.now() - error_since_;
  bool fresh = snapshot_ && error_.empty() && clock_.now() - snapshot_->read_at <= stale;
  bool after_batch = snapshot_ && !batch_in_flight_ && snapshot_->seq >= batch_done_seq_;
  if (fresh && after_batch) t.decide_on = snapshot_;
  return t;
}

std::map<std::string, uint64_t> SlurmLink::action_counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

double SlurmLink::last_action_seconds() const {
  std::lock_guard lock(mu_);
  return last_action_seconds_;
}

}  // namespace hs::scaler
