// The request path of the simulation: the event loop, the router, prefill batching, the KV
// hand-off and continuous-batching decode. Arrivals are read from the stream one ahead and
// go before any other event at the same time (as when every arrival was queued first).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>

#include "hs/common/prometheus_text.h"
#include "sim.h"

namespace hs::sim {

using scaler::Role;

Sim::Sim(workload::RequestStream& reqs, const scaler::ServiceConfig& svc, const Cluster& cl,
         const workload::ProfileSet& profiles, const scaler::Policy& pol, const SimOptions& o)
    : svc_(svc),
      cl_(cl),
      profiles_(profiles),
      pol_(pol),
      o_(o),
      stream_(reqs),
      feasibility_(svc, profiles, o.model) {}

Result<PolicyResult> Sim::run() {
  auto w0 = std::chrono::steady_clock::now();
  res_.policy = std::string(pol_.name());
  for (const auto& v : svc_.variants)
    for (const std::string& gpu : {v.prefill_gpu, v.decode_gpu})
      if (!profiles_.find(gpu, o_.model))
        return invalid_argument("no engine profile for GPU " + gpu + " and model " + o_.model +
                                " (variant " + v.name + ")");
  context_prof_ = profiles_.find(svc_.preferred().prefill_gpu, o_.model);
  // The end is the last arrival + drain_s, known once the stream has ended; until then every
  // event comes before it (a later arrival is still to come).
  end_ = o_.max_duration_s > 0 ? o_.max_duration_s : std::numeric_limits<double>::infinity();
  if (!pull() && stream_.error()) return *stream_.error();
  uint32_t units = o_.initial_units ? o_.initial_units : svc_.min_units();
  if (Status st = start_daemon(units); !st.ok()) return st.error();
  push(o_.scrape_s, Ev::kScrape, 0);
  push(o_.tick_s, Ev::kTick, 0);
  // Three sources in time order: arrivals (first on ties), events, client deadlines.
  const double inf = std::numeric_limits<double>::infinity();
  for (;;) {
    double ta = have_next_ ? next_.arrival_s : inf, te = q_.empty() ? inf : q_.top().t;
    double td = deadlines_.empty() ? inf : deadlines_.front().t;
    double t = std::min({ta, te, td});
    if (t == inf || t > end_) break;
    now_ = t;
    if (ta == t) {
      arrive_next();
      if (!pull() && stream_.error()) return *stream_.error();
    } else if (te == t) {
      Event e = q_.top();
      q_.pop();
      dispatch(e);
    } else {
      Deadline d = deadlines_.front();
      deadlines_.pop_front();
      if (reqs_.holds(d.slot, d.seq) && reqs_[d.slot].first_token < 0) abandon(d.slot);
    }
  }
  now_ = end_;
  finish();
  res_.simulated_s = end_;
  res_.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  return res_;
}

// Reads the next arrival; at the end of the stream the end of the run becomes known.
bool Sim::pull() {
  if (stream_done_) return false;
  have_next_ = stream_.next(next_);
  if (have_next_) {
    last_arrival_ = next_.arrival_s;
    return true;
  }
  stream_done_ = true;
  double last = arrivals_ == 0 ? 0 : last_arrival_;
  end_ = std::min(end_, last + o_.drain_s);
  return false;
}

void Sim::dispatch(const Event& e) {
  switch (e.type) {
    case Ev::kPrefillDone:
      prefill_done(e.a);
      break;
    case Ev::kKvDone:
      kv_done(e.a, e.b);
      break;
    case Ev::kDecode:
      if (!insts_[e.a].gone && insts_[e.a].epoch == e.b) decode_event(e.a);
      break;
    case Ev::kReady:
      ready(e.a);
      break;
    case Ev::kSlurm:
      slurm_event();
      break;
    case Ev::kScrape:
      scrape();
      push(now_ + o_.scrape_s, Ev::kScrape, 0);
      break;
    case Ev::kTick: {
      double until = o_.progress_end_s > 0 ? o_.progress_end_s : end_;
      if (o_.progress && std::isfinite(until) && now_ >= next_progress_) {
        o_.progress(std::min(1.0, now_ / until));
        next_progress_ = now_ + until / 100;
      }
      control_tick();
      push(now_ + o_.tick_s, Ev::kTick, 0);
      break;
    }
  }
}

void Sim::arrive_next() {
  ++arrivals_;
  ++tick_arrivals_;
  Req q;
  q.arrival = next_.arrival_s;
  q.seq = arrivals_ - 1;
  q.in = std::max<uint32_t>(1, next_.prompt_tokens);
  q.out = std::max<uint32_t>(1, next_.output_tokens);
  q.offered = offered_.arrive(q.in, 0, 0);
  // Longer than the model's context: refused at once, like vLLM's 400.
  Infeasible why = feasibility_.check(q.in, q.out);
  res_.infeasible_requests += why != Infeasible::kNo;
  if (context_prof_ && q.in + q.out > context_prof_->max_context) {
    ++res_.rejected;
    offered_.prefilled(q.offered, -1);  // the prefill's 400 answers it at once
    return;
  }
  ++res_.requests;
  q.feasible = why == Infeasible::kNo;
  res_.infeasible_prefill += why == Infeasible::kPrefillAlone;
  uint32_t slot = reqs_.add(q);
  if (o_.client_timeout_s > 0) deadlines_.push_back({q.arrival + o_.client_timeout_s, slot, q.seq});
  arrive(slot);
  res_.max_in_flight = std::max(res_.max_in_flight, reqs_.live());
}

void Sim::reindex(Inst& in) {
  bool want = in.routable();
  if (in.role == Role::kPrefill) {
    bool has = prefill_heap_.contains(in.id);
    if (has && !want) prefill_heap_.erase(in.id);
    if (!want || (has && in.route_load == in.load())) return;
    in.route_load = in.load();
    has ? prefill_heap_.update(in.id) : prefill_heap_.insert(in.id);
    return;
  }
  if (in.group >= group_heaps_.size()) group_heaps_.resize(in.group + 1, GroupHeap(&insts_));
  GroupHeap& g = group_heaps_[in.group];
  bool has = decode_heap_.contains(in.id);
  if (has && !want) {
    decode_heap_.erase(in.id);
    g.erase(in.id);
  }
  if (!want || (has && in.route_load == in.load())) return;
  in.route_load = in.load();
  if (has) {
    decode_heap_.update(in.id);
    g.update(in.id);
  } else {
    decode_heap_.insert(in.id);
    g.insert(in.id);
  }
}

void Sim::set_busy(Inst& in, bool busy) {
  if (busy && in.busy_since < 0) in.busy_since = now_;
  if (!busy && in.busy_since >= 0) {
    in.busy_time += now_ - in.busy_since;
    in.busy_since = -1;
  }
}

// To the prefill instance with the fewest queued tokens.
void Sim::arrive(uint32_t r) {
  if (prefill_heap_.empty()) {
    reqs_[r].stage = Stage::kRouter;
    router_wait_.push_back(r);
    return;
  }
  Inst& in = insts_[prefill_heap_.top()];
  reqs_[r].stage = Stage::kPrefillQueue;
  reqs_[r].at = in.id;
  in.queue.push_back(r);
  in.queued_tokens += reqs_[r].in;
  reqs_[r].group = in.group;
  reindex(in);
  start_prefill(in);
}

void Sim::start_prefill(Inst& in) {
  if (!in.batch.empty()) return;
  uint64_t tokens = 0;
  while (!in.queue.empty()) {
    uint32_t r = in.queue.front();
    if (reqs_[r].abandoned) {
      in.queue.pop_front();
      --in.queue_abandoned;
      drop(r);
      continue;
    }
    if (!in.batch.empty() && tokens + reqs_[r].in > o_.prefill_batch_tokens) break;
    tokens += reqs_[r].in;
    reqs_[r].stage = Stage::kPrefillBatch;
    in.batch.push_back(r);
    in.queue.pop_front();
  }
  if (in.batch.empty()) return;
  set_busy(in, true);
  push(now_ + in.prof->prefill_s(static_cast<double>(tokens)), Ev::kPrefillDone, in.id);
}

void Sim::prefill_done(uint32_t id) {
  Inst& in = insts_[id];
  if (in.gone) return;  // its task ended mid-batch: the batch was lost with it
  for (uint32_t r : in.batch) {
    in.queued_tokens -= reqs_[r].in;
    in.prompt_total += reqs_[r].in;  // computed even if its client has gone meanwhile
    offered_.prefilled(reqs_[r].offered, reqs_[r].in);
    if (reqs_[r].abandoned) {
      drop(r);
    } else {
      reqs_[r].src = id;
      ++in.kv_out;
      send_to_decode(r);
    }
  }
  in.batch.clear();
  reindex(in);
  set_busy(in, false);
  start_prefill(in);
}

// To the least-loaded decode instance of the request's group, else of the fleet.
void Sim::send_to_decode(uint32_t r) {
  Req& q = reqs_[r];
  int32_t best = -1;
  if (q.group < group_heaps_.size() && !group_heaps_[q.group].empty())
    best = static_cast<int32_t>(group_heaps_[q.group].top());
  if (best < 0 && !decode_heap_.empty()) {
    best = static_cast<int32_t>(decode_heap_.top());  // a slower cross-group transfer
    ++res_.cross_group_transfers;
  }
  if (best < 0) {
    q.stage = Stage::kRouter;
    decode_wait_.push_back(r);
    return;
  }
  q.stage = Stage::kTransfer;
  Inst& d = insts_[best];
  ++d.kv_in;
  const std::string& src = q.src != kNoInst ? insts_[q.src].node : d.node;
  double bytes = q.in * d.prof->kv_bytes_per_token;
  double t = bytes / (cl_.kv_gbs(src, d.node) * 1e9);
  push(now_ + t, Ev::kKvDone, r, static_cast<uint32_t>(best));
}

void Sim::kv_done(uint32_t r, uint32_t id) {
  Inst& d = insts_[id];
  --d.kv_in;
  if (reqs_[r].abandoned) {
    drop(r);
    return;
  }
  if (reqs_[r].src != kNoInst && insts_[reqs_[r].src].gone) {  // the KV's holder ended
    lose(r);
    return;
  }
  if (d.gone) {  // its task ended while the transfer was in flight: pick another
    send_to_decode(r);
    return;
  }
  release_kv(reqs_[r]);
  reqs_[r].stage = Stage::kDecodeQueue;
  reqs_[r].at = id;
  d.waiting.push_back(r);
  reindex(d);
  if (d.b() == 0) {
    d.t_sync = now_;
    admit_and_schedule(id);
  } else {
    // Join at the next iteration boundary.
    uint64_t k = d.done_within(now_ - d.t_sync) + 1;
    double t = d.t_sync + d.span(k);
    if (d.next_event < 0 || t < d.next_event - 1e-12) schedule_decode(id, t);
  }
}

void Sim::schedule_decode(uint32_t id, double t) {
  Inst& d = insts_[id];
  d.next_event = t;
  push(t, Ev::kDecode, id, ++d.epoch);
}

void Sim::decode_event(uint32_t id) {
  Inst& d = insts_[id];
  uint64_t k = d.done_within(now_ - d.t_sync + 1e-9);
  double advanced = d.span(k);
  d.iter += k;
  d.ctx += static_cast<double>(k) * d.b();
  d.t_sync += advanced;
  while (!d.running.empty() && d.running.top().iter <= d.iter) {
    uint32_t r = d.running.top().slot;
    d.running.pop();
    Req& q = reqs_[r];
    q.done = d.t_sync;
    d.gen_finished += q.out;
    d.kv_used -= q.in + q.out;
    d.ctx -= q.in + q.out;
    d.sum_admit_iter -= q.admit_iter;
    double tbt = q.out > 1 ? (q.done - q.first_token) / (q.out - 1) : 0;
    if (q.out > 1) group_hist(q.group).second.observe(tbt, q.out - 1);
    tick_tbt_.push_back(tbt);
    complete(r);
  }
  reindex(d);
  admit_and_schedule(id);
}

// A finished request's latencies go to the run's totals and its slot is freed.
void Sim::complete(uint32_t r) {
  const Req& q = reqs_[r];
  ++res_.completed;
  double a = q.first_token - q.arrival;
  double b = q.out > 1 ? (q.done - q.first_token) / (q.out - 1) : 0;
  ttft_.add(a);
  tbt_.add(b);
  bool x = a <= svc_.slo.ttft_s, y = b <= svc_.slo.tbt_s;
  ok_ttft_ += x;
  ok_tbt_ += y;
  ok_both_ += x && y;
  if (q.feasible) {
    ok_ttft_feasible_ += x;
    ok_tbt_feasible_ += y;
    ok_both_feasible_ += x && y;
  }
  offered_.finished(q.offered, q.out);
  reqs_.release(r);
}

void Sim::admit_and_schedule(uint32_t id) {
  Inst& d = insts_[id];
  std::vector<uint32_t>& admitted = admitted_;  // reused: no allocation per admission
  admitted.clear();
  while (!d.waiting.empty() && d.b() < d.prof->max_batch) {
    uint32_t r = d.waiting.front();
    Req& q = reqs_[r];
    if (q.abandoned) {
      d.waiting.pop_front();
      --d.waiting_abandoned;
      drop(r);
      continue;
    }
    if (d.kv_used + q.in + q.out > d.prof->kv_capacity_tokens && d.b() > 0) break;
    d.waiting.pop_front();
    q.stage = Stage::kDecode;
    q.admit_iter = d.iter;
    d.running.push({d.iter + q.out, q.seq, r});
    d.ctx += q.in;
    d.kv_used += q.in + q.out;
    d.sum_admit_iter += d.iter;
    admitted.push_back(r);
  }
  if (d.b() > 0) {
    set_busy(d, true);
    double first = d.t_sync + d.span(1);
    for (uint32_t r : admitted) {
      reqs_[r].first_token = first;
      double ttft = first - reqs_[r].arrival;
      group_hist(reqs_[r].group).first.observe(ttft);
      tick_ttft_.push_back(ttft);
    }
    uint64_t kf = d.running.top().iter - d.iter;
    schedule_decode(id, d.t_sync + d.span(kf));
  } else {
    set_busy(d, false);
    d.next_event = -1;
    ++d.epoch;
  }
}

// The client gave up before its first token: it counts against the SLO, and the engine
// holding it stops counting it as load (taken out of its queue when next reached).
void Sim::abandon(uint32_t r) {
  Req& q = reqs_[r];
  q.abandoned = true;
  ++res_.abandoned;
  ++abandoned_held_;
  if (q.stage == Stage::kPrefillQueue) {
    insts_[q.at].queued_tokens -= q.in;
    ++insts_[q.at].queue_abandoned;
    reindex(insts_[q.at]);
  } else if (q.stage == Stage::kDecodeQueue) {
    ++insts_[q.at].waiting_abandoned;
    reindex(insts_[q.at]);
  }
}

void Sim::drop(uint32_t r) {
  --abandoned_held_;
  offered_.prefilled(reqs_[r].offered, -1);
  release_kv(reqs_[r]);
  reqs_.release(r);
}

void Sim::lose(uint32_t r) {
  if (reqs_[r].abandoned) {
    drop(r);
    return;
  }
  ++res_.lost;
  offered_.prefilled(reqs_[r].offered, -1);
  release_kv(reqs_[r]);
  reqs_.release(r);
}

void Sim::release_kv(Req& q) {
  if (q.src == kNoInst) return;
  --insts_[q.src].kv_out;
  q.src = kNoInst;
}

// Requests that found no routable instance of a role wait at the router until one is.
void Sim::flush_waits(Role role) {
  if (role == Role::kPrefill) {
    if (prefill_heap_.empty()) return;
    std::deque<uint32_t> w;
    w.swap(router_wait_);
    for (uint32_t r : w) reqs_[r].abandoned ? drop(r) : arrive(r);
  } else {
    if (decode_heap_.empty()) return;
    std::deque<uint32_t> w;
    w.swap(decode_wait_);
    for (uint32_t r : w) reqs_[r].abandoned ? drop(r) : send_to_decode(r);
  }
}

// The router's per-group histograms, as hs-router keeps them (common/prometheus_text.h).
std::pair<prom::Histogram, prom::Histogram>& Sim::group_hist(uint32_t g) {
  auto it = hist_.find(g);
  if (it == hist_.end())
    it = hist_
             .emplace(g, std::make_pair(prom::Histogram(prom::vllm_ttft_buckets()),
                                        prom::Histogram(prom::vllm_tpot_buckets())))
             .first;
  return it->second;
}

Result<PolicyResult> simulate(workload::RequestStream& requests,
                              const scaler::ServiceConfig& service, const Cluster& cluster,
                              const workload::ProfileSet& profiles, const scaler::Policy& policy,
                              const SimOptions& options) {
  Sim s(requests, service, cluster, profiles, policy, options);
  return s.run();
}

Result<PolicyResult> simulate(const std::vector<workload::Request>& requests,
                              const scaler::ServiceConfig& service, const Cluster& cluster,
                              const workload::ProfileSet& profiles, const scaler::Policy& policy,
                              const SimOptions& options) {
  workload::VectorStream s(requests);
  return simulate(s, service, cluster, profiles, policy, options);
}

}  // namespace hs::sim
