#include "hs/sim/simulator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <queue>

#include "hs/scaler/placement.h"
#include "hs/scaler/signals.h"

namespace hs::sim {

namespace {

using scaler::Role;
using workload::EngineProfile;

// vLLM's histogram buckets (vllm/engine/metrics.py, v0.6-0.8): time_to_first_token_seconds
// and time_per_output_token_seconds.
const std::vector<double> kTtftBuckets = {0.001, 0.005, 0.01, 0.02,  0.04,  0.06,  0.08, 0.1,
                                          0.25,  0.5,   0.75, 1.0,   2.5,   5.0,   7.5,  10.0,
                                          20.0,  40.0,  80.0, 160.0, 640.0, 2560.0};
const std::vector<double> kTbtBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                         0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};

scaler::Histogram empty_hist(const std::vector<double>& b) {
  scaler::Histogram h;
  h.upper_bounds = b;
  h.upper_bounds.push_back(INFINITY);
  h.cumulative.assign(h.upper_bounds.size(), 0);
  return h;
}

void observe(scaler::Histogram& h, double v, double n = 1) {
  for (size_t i = 0; i < h.upper_bounds.size(); ++i)
    if (v <= h.upper_bounds[i]) h.cumulative[i] += n;
  h.count += n;
  h.sum += v * n;
}

TimePoint vt(double s) { return TimePoint{} + from_seconds(s); }

enum class Ev : uint8_t { kArrival, kPrefillDone, kKvDone, kDecode, kReady, kScrape, kTick };
struct Event {
  double t;
  uint64_t seq;
  Ev type;
  uint32_t a;
  uint32_t b;
};
struct Later {
  bool operator()(const Event& x, const Event& y) const {
    return x.t > y.t || (x.t == y.t && x.seq > y.seq);
  }
};

struct Req {
  double arrival = 0;
  uint32_t in = 0, out = 0;
  int32_t dinst = -1;
  double first_token = -1, done = -1;
  uint64_t admit_iter = 0;
  uint32_t group = 0;
  bool checked = false, rejected = false;
};

struct Inst {
  uint32_t id = 0;
  Role role = Role::kDecode;
  std::string name;
  uint32_t group = 0;
  std::string node, gpu;
  uint32_t gpus = 1;
  const EngineProfile* prof = nullptr;
  double target = 0;
  double created = 0, ready_at = 0, removed = -1;
  bool ready = false, draining = false, gone = false;
  uint64_t seq = 0;
  // prefill
  std::deque<uint32_t> queue;
  std::vector<uint32_t> batch;
  uint64_t queued_tokens = 0;
  // decode: iterations since t_sync form an arithmetic series
  double t_sync = 0;
  uint64_t iter = 0;
  double ctx = 0;
  std::priority_queue<std::pair<uint64_t, uint32_t>, std::vector<std::pair<uint64_t, uint32_t>>,
                      std::greater<>>
      running;
  std::deque<uint32_t> waiting;
  uint64_t kv_used = 0;
  uint64_t sum_admit_iter = 0;
  uint32_t epoch = 0;
  double next_event = -1;
  // counters and metrics
  double gen_finished = 0, prompt_total = 0;
  double busy_time = 0, busy_since = -1, busy_at_scrape = 0;
  scaler::InstanceSeries series;

  uint32_t b() const { return static_cast<uint32_t>(running.size()); }
  // Time of `k` more decode iterations from t_sync.
  double span(uint64_t k) const {
    double a = prof->decode_step_s(b(), ctx);
    double c = prof->d2 * b();
    double kk = static_cast<double>(k);
    return kk * a + c * kk * (kk - 1) / 2;
  }
  // Whole iterations completed within `dt` of t_sync.
  uint64_t done_within(double dt) const {
    if (b() == 0 || dt <= 0) return 0;
    double a = prof->decode_step_s(b(), ctx), c = prof->d2 * b();
    double k =
        c > 0 ? ((c / 2 - a) + std::sqrt((a - c / 2) * (a - c / 2) + 2 * c * dt)) / c : dt / a;
    uint64_t ki = k > 0 ? static_cast<uint64_t>(k) : 0;
    while (ki > 0 && span(ki) > dt + 1e-12) --ki;
    while (span(ki + 1) <= dt + 1e-12) ++ki;
    return ki;
  }
  double generated_at(double t) const {
    if (b() == 0) return gen_finished;
    uint64_t k = done_within(t - t_sync);
    return gen_finished + static_cast<double>(b()) * static_cast<double>(iter + k) -
           static_cast<double>(sum_admit_iter);
  }
};

class Sim {
 public:
  Sim(const std::vector<workload::Request>& reqs, const scaler::ServiceConfig& svc,
      const Cluster& cl, const workload::ProfileSet& profiles, const scaler::Policy& pol,
      const SimOptions& o)
      : svc_(svc), cl_(cl), profiles_(profiles), pol_(pol), o_(o), nodes_(cl.nodes) {
    reqs_.reserve(reqs.size());
    for (const auto& r : reqs)
      reqs_.push_back({r.arrival_s, std::max<uint32_t>(1, r.prompt_tokens),
                       std::max<uint32_t>(1, r.output_tokens)});
  }

  Result<PolicyResult> run() {
    auto w0 = std::chrono::steady_clock::now();
    res_.policy = std::string(pol_.name());
    for (const auto& v : svc_.variants)
      for (const std::string& gpu : {v.prefill_gpu, v.decode_gpu})
        if (!profiles_.find(gpu, o_.model))
          return invalid_argument("no engine profile for GPU " + gpu + " and model " + o_.model +
                                  " (variant " + v.name + ")");
    end_ = reqs_.empty() ? o_.drain_s : reqs_.back().arrival + o_.drain_s;
    if (o_.max_duration_s > 0) end_ = std::min(end_, o_.max_duration_s);
    uint32_t units = o_.initial_units ? o_.initial_units : svc_.min_units();
    if (!grow_units(units, /*now=*/0, /*initial=*/true))
      return failed_precondition("the cluster cannot hold the service's initial " +
                                 std::to_string(units) + " units");
    for (uint32_t i = 0; i < reqs_.size(); ++i) push(reqs_[i].arrival, Ev::kArrival, i);
    push(o_.scrape_s, Ev::kScrape, 0);
    push(o_.tick_s, Ev::kTick, 0);
    while (!q_.empty()) {
      Event e = q_.top();
      q_.pop();
      if (e.t > end_) break;
      now_ = e.t;
      switch (e.type) {
        case Ev::kArrival:
          arrive(e.a);
          break;
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
        case Ev::kScrape:
          scrape();
          push(now_ + o_.scrape_s, Ev::kScrape, 0);
          break;
        case Ev::kTick:
          if (o_.progress && now_ >= next_progress_) {
            o_.progress(now_ / end_);
            next_progress_ = now_ + end_ / 100;
          }
          tick();
          push(now_ + o_.tick_s, Ev::kTick, 0);
          break;
      }
    }
    now_ = end_;
    finish();
    res_.simulated_s = end_;
    res_.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    return res_;
  }

 private:
  void push(double t, Ev type, uint32_t a, uint32_t b = 0) { q_.push({t, seq_++, type, a, b}); }

  const scaler::Variant& variant_of(const std::string& name) const {
    for (const auto& v : svc_.variants)
      if (v.name == name) return v;
    return svc_.preferred();
  }

  // ---- instances and placement

  uint32_t add_instance(Role role, uint32_t group, const std::string& node, const std::string& gpu,
                        uint32_t gpus, const scaler::Variant& v, bool initial) {
    Inst in;
    in.id = static_cast<uint32_t>(insts_.size());
    in.role = role;
    in.name = std::string(role == Role::kPrefill ? "p" : "d") + std::to_string(in.id);
    in.group = group;
    in.node = node;
    in.gpu = gpu;
    in.gpus = gpus;
    in.prof = profiles_.find(gpu, o_.model);
    in.target = role == Role::kDecode ? v.decode_tps_per_instance : 0;
    in.created = now_;
    in.seq = inst_seq_++;
    double delay = (o_.zero_startup || initial) ? 0 : cl_.spec.queue_wait_s + in.prof->startup_s;
    in.ready_at = now_ + delay;
    in.series = {in.name, role, groups_[group].id, in.target, {}};
    insts_.push_back(std::move(in));
    groups_[group].instances.push_back({insts_.back().name, role, node, insts_.back().seq});
    inst_of_name_[insts_.back().name] = insts_.back().id;
    if (delay == 0)
      ready(insts_.back().id);
    else
      push(insts_.back().ready_at, Ev::kReady, insts_.back().id);
    return insts_.back().id;
  }

  uint32_t group_for(const std::string& id, const std::string& variant, const std::string& domain) {
    for (uint32_t g = 0; g < groups_.size(); ++g)
      if (groups_[g].id == id) return g;
    groups_.push_back({svc_.name, id, variant, domain, group_seq_++, {}});
    return static_cast<uint32_t>(groups_.size() - 1);
  }

  void take_gpus(const std::string& node, uint32_t n) {
    for (auto& x : nodes_)
      if (x.name == node) x.free_gpus -= std::min(n, x.free_gpus);
  }
  void free_gpus(const std::string& node, uint32_t n) {
    for (auto& x : nodes_)
      if (x.name == node) x.free_gpus += n;
  }

  // Grows by `units` through scaler::place(); false if nothing could be placed.
  bool grow_units(uint32_t units, double, bool initial) {
    auto r = scaler::place(cl_.fabric, nodes_, live_groups(),
                           {{&svc_, static_cast<int64_t>(units)}}, {});
    bool any = false;
    for (const auto& a : r.actions) {
      const scaler::Variant& v = variant_of(a.variant);
      uint32_t g = group_for(a.group, a.variant, a.domain);
      for (const auto& p : a.placed) {
        take_gpus(p.node, p.gpus);
        add_instance(p.role, g, p.node, p.gpu_type, p.gpus, v, initial);
        any = true;
      }
    }
    return any;
  }

  // Per-role growth for the per-pool baselines: the first group whose domain has a free GPU
  // of the type, else any node with one.
  bool grow_role(Role role, uint32_t n) {
    for (uint32_t k = 0; k < n; ++k) {
      bool placed = false;
      for (uint32_t g = 0; g < groups_.size() && !placed; ++g) {
        const scaler::Variant& v = variant_of(groups_[g].variant);
        const std::string& type = role == Role::kPrefill ? v.prefill_gpu : v.decode_gpu;
        uint32_t need = role == Role::kPrefill ? v.prefill_gpus : v.decode_gpus;
        const topo::FabricSwitch* sw = cl_.fabric.find_switch(groups_[g].domain);
        std::vector<std::string> domain_nodes;
        if (sw) {
          for (const auto& d : cl_.fabric.domains(sw->level))
            if (d.switch_name == sw->name) domain_nodes = d.nodes;
        }
        for (int pass = 0; pass < 2 && !placed; ++pass) {
          for (auto& node : nodes_) {
            if (node.gpu_type != type || node.free_gpus < need) continue;
            if (pass == 0 && std::find(domain_nodes.begin(), domain_nodes.end(), node.name) ==
                                 domain_nodes.end())
              continue;
            take_gpus(node.name, need);
            add_instance(role, g, node.name, type, need, v, false);
            placed = true;
            break;
          }
        }
      }
      if (!placed) return k > 0;
    }
    return true;
  }

  void drain(uint32_t id) {
    Inst& in = insts_[id];
    if (in.draining || in.gone) return;
    in.draining = true;
    maybe_remove(id);
  }

  void maybe_remove(uint32_t id) {
    Inst& in = insts_[id];
    if (in.gone || !in.draining) return;
    bool idle = in.role == Role::kPrefill ? (in.queue.empty() && in.batch.empty())
                                          : (in.b() == 0 && in.waiting.empty());
    if (!idle) return;
    set_busy(in, false);
    in.gone = true;
    in.removed = now_;
    free_gpus(in.node, in.gpus);
    auto& gi = groups_[in.group].instances;
    gi.erase(std::remove_if(gi.begin(), gi.end(),
                            [&](const scaler::GroupInstance& x) { return x.id == in.name; }),
             gi.end());
  }

  std::vector<scaler::DeploymentGroup> live_groups() const {
    std::vector<scaler::DeploymentGroup> out;
    for (const auto& g : groups_) {
      scaler::DeploymentGroup c = g;
      c.instances.clear();
      for (const auto& i : g.instances) {
        const Inst& in = insts_[inst_of_name_.at(i.id)];
        if (!in.draining && !in.gone) c.instances.push_back(i);
      }
      if (!c.instances.empty()) out.push_back(std::move(c));
    }
    return out;
  }

  void ready(uint32_t id) {
    Inst& in = insts_[id];
    if (in.gone) return;
    in.ready = true;
    // Requests that found no instance of a role wait at the router.
    if (in.role == Role::kPrefill) {
      std::deque<uint32_t> w;
      w.swap(router_wait_);
      for (uint32_t r : w) arrive(r);
    } else {
      std::deque<uint32_t> w;
      w.swap(decode_wait_);
      for (uint32_t r : w) send_to_decode(r, -1);
    }
  }

  void set_busy(Inst& in, bool busy) {
    if (busy && in.busy_since < 0) in.busy_since = now_;
    if (!busy && in.busy_since >= 0) {
      in.busy_time += now_ - in.busy_since;
      in.busy_since = -1;
    }
  }

  // ---- request path

  void arrive(uint32_t r) {
    if (!reqs_[r].checked) {  // longer than the model's context: refused at once, like vLLM's 400
      reqs_[r].checked = true;
      const EngineProfile* p = profiles_.find(svc_.preferred().prefill_gpu, o_.model);
      if (p && reqs_[r].in + reqs_[r].out > p->max_context) {
        reqs_[r].rejected = true;
        return;
      }
    }
    int32_t best = -1;
    for (const auto& in : insts_) {
      if (in.role != Role::kPrefill || !in.ready || in.draining || in.gone) continue;
      uint64_t load = in.queued_tokens;
      if (best < 0 || load < insts_[best].queued_tokens) best = static_cast<int32_t>(in.id);
    }
    if (best < 0) {
      router_wait_.push_back(r);
      return;
    }
    Inst& in = insts_[best];
    in.queue.push_back(r);
    in.queued_tokens += reqs_[r].in;
    reqs_[r].group = in.group;
    start_prefill(in);
  }

  void start_prefill(Inst& in) {
    if (!in.batch.empty() || in.queue.empty()) return;
    uint64_t tokens = 0;
    while (!in.queue.empty() &&
           (in.batch.empty() || tokens + reqs_[in.queue.front()].in <= o_.prefill_batch_tokens)) {
      tokens += reqs_[in.queue.front()].in;
      in.batch.push_back(in.queue.front());
      in.queue.pop_front();
    }
    set_busy(in, true);
    push(now_ + in.prof->prefill_s(static_cast<double>(tokens)), Ev::kPrefillDone, in.id);
  }

  void prefill_done(uint32_t id) {
    Inst& in = insts_[id];
    for (uint32_t r : in.batch) {
      in.queued_tokens -= reqs_[r].in;
      in.prompt_total += reqs_[r].in;
      send_to_decode(r, static_cast<int32_t>(id));
    }
    in.batch.clear();
    set_busy(in, false);
    start_prefill(in);
    maybe_remove(id);
  }

  void send_to_decode(uint32_t r, int32_t from) {
    Req& q = reqs_[r];
    int32_t best = -1, any = -1;
    auto load = [&](const Inst& d) { return d.b() + d.waiting.size(); };
    for (const auto& d : insts_) {
      if (d.role != Role::kDecode || !d.ready || d.draining || d.gone) continue;
      if (any < 0 || load(d) < load(insts_[any])) any = static_cast<int32_t>(d.id);
      if (d.group == q.group && (best < 0 || load(d) < load(insts_[best])))
        best = static_cast<int32_t>(d.id);
    }
    if (best < 0 && any >= 0) {
      best = any;  // no decode in its group: a slower cross-group transfer
      ++res_.cross_group_transfers;
    }
    if (best < 0) {
      decode_wait_.push_back(r);
      return;
    }
    const Inst& d = insts_[best];
    const std::string& src = from >= 0 ? insts_[from].node : d.node;
    double bytes = q.in * d.prof->kv_bytes_per_token;
    double t = bytes / (cl_.kv_gbs(src, d.node) * 1e9);
    q.dinst = best;
    push(now_ + t, Ev::kKvDone, r, static_cast<uint32_t>(best));
  }

  void kv_done(uint32_t r, uint32_t id) {
    Inst& d = insts_[id];
    if (d.gone) {  // removed while the transfer was in flight: pick another
      send_to_decode(r, -1);
      return;
    }
    d.waiting.push_back(r);
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

  void schedule_decode(uint32_t id, double t) {
    Inst& d = insts_[id];
    d.next_event = t;
    push(t, Ev::kDecode, id, ++d.epoch);
  }

  void decode_event(uint32_t id) {
    Inst& d = insts_[id];
    uint64_t k = d.done_within(now_ - d.t_sync + 1e-9);
    double advanced = d.span(k);
    d.iter += k;
    d.ctx += static_cast<double>(k) * d.b();
    d.t_sync += advanced;
    while (!d.running.empty() && d.running.top().first <= d.iter) {
      uint32_t r = d.running.top().second;
      d.running.pop();
      Req& q = reqs_[r];
      q.done = d.t_sync;
      d.gen_finished += q.out;
      d.kv_used -= q.in + q.out;
      d.ctx -= q.in + q.out;
      d.sum_admit_iter -= q.admit_iter;
      double tbt = q.out > 1 ? (q.done - q.first_token) / (q.out - 1) : 0;
      if (q.out > 1) observe(groups_hist(q.group).second, tbt, q.out - 1);
      tick_tbt_.push_back(tbt);
    }
    admit_and_schedule(id);
  }

  void admit_and_schedule(uint32_t id) {
    Inst& d = insts_[id];
    std::vector<uint32_t> admitted;
    while (!d.waiting.empty() && d.b() < d.prof->max_batch) {
      uint32_t r = d.waiting.front();
      Req& q = reqs_[r];
      if (d.kv_used + q.in + q.out > d.prof->kv_capacity_tokens && d.b() > 0) break;
      d.waiting.pop_front();
      q.admit_iter = d.iter;
      d.running.push({d.iter + q.out, r});
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
        observe(groups_hist(reqs_[r].group).first, ttft);
        tick_ttft_.push_back(ttft);
      }
      uint64_t kf = d.running.top().first - d.iter;
      schedule_decode(id, d.t_sync + d.span(kf));
    } else {
      set_busy(d, false);
      d.next_event = -1;
      ++d.epoch;
      maybe_remove(id);
    }
  }

  std::pair<scaler::Histogram, scaler::Histogram>& groups_hist(uint32_t g) {
    auto it = hist_.find(g);
    if (it == hist_.end())
      it =
          hist_.emplace(g, std::make_pair(empty_hist(kTtftBuckets), empty_hist(kTbtBuckets))).first;
    return it->second;
  }

  // ---- metrics and the autoscaler

  void scrape() {
    double keep = to_seconds(svc_.scaling.window) + 3 * o_.scrape_s;
    for (auto& in : insts_) {
      if (!in.ready || in.gone) continue;
      scaler::InstanceSample x;
      x.t = vt(now_);
      double busy = in.busy_time + (in.busy_since >= 0 ? now_ - in.busy_since : 0);
      x.gpu_util = std::min(1.0, (busy - in.busy_at_scrape) / o_.scrape_s);
      in.busy_at_scrape = busy;
      if (in.role == Role::kDecode) {
        x.generation_tokens = in.generated_at(now_);
        x.waiting = static_cast<double>(in.waiting.size());
        x.running = in.b();
      } else {
        x.prompt_tokens = in.prompt_total;
        x.waiting = static_cast<double>(in.queue.size());
        x.running = static_cast<double>(in.batch.size());
      }
      in.series.samples.push_back(x);
      while (!in.series.samples.empty() && in.series.samples.front().t < vt(now_ - keep))
        in.series.samples.erase(in.series.samples.begin());
    }
    for (auto& [g, h] : hist_) {
      auto& s = group_series_[g];
      s.group = groups_[g].id;
      s.samples.push_back({vt(now_), h.first, h.second});
      while (!s.samples.empty() && s.samples.front().t < vt(now_ - keep))
        s.samples.erase(s.samples.begin());
    }
  }

  void tick() {
    scaler::MetricsWindow w;
    std::vector<std::string> expected;
    scaler::PoolState pool;
    double newest_ready = -1e18;
    for (const auto& in : insts_) {
      if (in.gone) continue;
      if (in.ready) w.instances.push_back(in.series);
      if (in.draining) continue;
      if (in.ready && in.created > 0) newest_ready = std::max(newest_ready, in.ready_at);
      if (in.role == Role::kPrefill) {
        ++pool.prefill;
        pool.ready_prefill += in.ready;
      } else {
        ++pool.decode;
        pool.ready_decode += in.ready;
        pool.decode_capacity_tps += in.target;
        if (in.ready) expected.push_back(in.name);
      }
      pool.starting += !in.ready;
    }
    if (newest_ready > -1e17) pool.newest_ready_age = from_seconds(now_ - newest_ready);
    for (const auto& [g, s] : group_series_) w.groups.push_back(s);
    scaler::Signals sig = scaler::compute_signals(w, svc_, vt(now_), expected);
    scaler::Decision d = pol_.decide(svc_, sig, pool, vt(now_),
                                     o_.wall_start_utc + static_cast<int64_t>(now_), mem_);
    if (d.direction != scaler::Direction::kHold) ++res_.scaling_actions;
    if (o_.keep_decisions && (d.direction != scaler::Direction::kHold ||
                              res_.decisions.size() < o_.keep_decisions / 2)) {
      if (res_.decisions.size() < o_.keep_decisions)
        res_.decisions.push_back("t=" + std::to_string(static_cast<int64_t>(now_)) + " " +
                                 d.to_log_line());
    }
    apply(d, pool);
    SeriesPoint p;
    p.t = now_;
    p.arrivals_per_s = static_cast<double>(arrivals_since_tick()) / o_.tick_s;
    p.decode_tps = scaler::missing(sig.decode_tps) ? 0 : sig.decode_tps;
    p.prefill = d.desired_prefill;
    p.decode = d.desired_decode;
    p.ready_prefill = pool.ready_prefill;
    p.ready_decode = pool.ready_decode;
    p.ttft_p99_s = p99(tick_ttft_);
    p.tbt_p99_s = p99(tick_tbt_);
    p.decision = std::string(scaler::to_string(d.direction));
    tick_ttft_.clear();
    tick_tbt_.clear();
    res_.series.push_back(p);
  }

  size_t arrivals_since_tick() {
    size_t n = 0;
    while (arr_cursor_ < reqs_.size() && reqs_[arr_cursor_].arrival <= now_) ++arr_cursor_, ++n;
    return n;
  }

  static double p99(std::vector<double>& v) {
    if (v.empty()) return 0;
    size_t k = static_cast<size_t>(0.99 * (v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
    return v[k];
  }

  void apply(const scaler::Decision& d, const scaler::PoolState& pool) {
    const scaler::Ratio r = svc_.preferred().ratio;
    int64_t dp = static_cast<int64_t>(d.desired_prefill) - pool.prefill;
    int64_t dd = static_cast<int64_t>(d.desired_decode) - pool.decode;
    bool unit_change = dp * r.decode == dd * r.prefill && dd % r.decode == 0 && dp != 0;
    if (unit_change && dd > 0) {
      grow_units(static_cast<uint32_t>(dd / r.decode), now_, false);
      return;
    }
    if (unit_change && dd < 0) {
      auto res = scaler::place(cl_.fabric, nodes_, live_groups(), {{&svc_, dd / r.decode}}, {});
      for (const auto& a : res.actions)
        for (const auto& name : a.remove) drain(inst_of_name_.at(name));
      return;
    }
    for (auto [role, delta] : {std::pair{Role::kPrefill, dp}, std::pair{Role::kDecode, dd}}) {
      if (delta > 0) grow_role(role, static_cast<uint32_t>(delta));
      for (int64_t k = 0; k < -delta; ++k) {  // newest first
        int32_t pick = -1;
        for (const auto& in : insts_)
          if (in.role == role && !in.draining && !in.gone &&
              (pick < 0 || in.seq > insts_[pick].seq))
            pick = static_cast<int32_t>(in.id);
        if (pick >= 0) drain(static_cast<uint32_t>(pick));
      }
    }
  }

  void finish() {
    double alloc = 0, busy = 0;
    for (auto& in : insts_) {
      double end = in.gone ? in.removed : end_;
      if (!in.gone) set_busy(in, false);
      double h = in.gpus * (end - in.created) / 3600.0;
      res_.gpu_hours += h;
      res_.gpu_hours_by_role[std::string(scaler::to_string(in.role))] += h;
      res_.gpu_hours_by_type[in.gpu] += h;
      alloc += in.gpus * (end - in.created);
      busy += in.gpus * in.busy_time;
    }
    res_.gpu_busy_fraction = alloc > 0 ? busy / alloc : 0;
    std::vector<double> ttft, tbt;
    size_t ok_ttft = 0, ok_tbt = 0, ok_both = 0;
    for (const auto& q : reqs_) {
      if (q.arrival > end_) continue;
      if (q.rejected) {
        ++res_.rejected;
        continue;
      }
      ++res_.requests;
      if (q.done < 0) {
        ++res_.unfinished;
        continue;
      }
      ++res_.completed;
      double a = q.first_token - q.arrival;
      double b = q.out > 1 ? (q.done - q.first_token) / (q.out - 1) : 0;
      ttft.push_back(a);
      tbt.push_back(b);
      bool x = a <= svc_.slo.ttft_s, y = b <= svc_.slo.tbt_s;
      ok_ttft += x;
      ok_tbt += y;
      ok_both += x && y;
    }
    auto pct = [](std::vector<double>& v, double p) {
      if (v.empty()) return 0.0;
      size_t k = static_cast<size_t>(p * (v.size() - 1));
      std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
      return v[k];
    };
    res_.ttft_p50_s = pct(ttft, 0.5);
    res_.ttft_p99_s = pct(ttft, 0.99);
    res_.tbt_p50_s = pct(tbt, 0.5);
    res_.tbt_p99_s = pct(tbt, 0.99);
    double n = res_.requests ? static_cast<double>(res_.requests) : 1;
    res_.slo_ttft = ok_ttft / n;
    res_.slo_tbt = ok_tbt / n;
    res_.slo_both = ok_both / n;
  }

  const scaler::ServiceConfig& svc_;
  const Cluster& cl_;
  const workload::ProfileSet& profiles_;
  const scaler::Policy& pol_;
  SimOptions o_;
  std::vector<scaler::NodeInventory> nodes_;
  std::vector<Req> reqs_;
  std::vector<Inst> insts_;
  std::map<std::string, uint32_t> inst_of_name_;
  std::vector<scaler::DeploymentGroup> groups_;
  std::map<uint32_t, std::pair<scaler::Histogram, scaler::Histogram>> hist_;
  std::map<uint32_t, scaler::GroupSeries> group_series_;
  std::deque<uint32_t> router_wait_, decode_wait_;
  std::priority_queue<Event, std::vector<Event>, Later> q_;
  std::vector<double> tick_ttft_, tick_tbt_;
  scaler::PolicyMemory mem_;
  PolicyResult res_;
  double now_ = 0, end_ = 0, next_progress_ = 0;
  uint64_t seq_ = 0, inst_seq_ = 0, group_seq_ = 0;
  size_t arr_cursor_ = 0;
};

}  // namespace

Result<PolicyResult> simulate(const std::vector<workload::Request>& requests,
                              const scaler::ServiceConfig& service, const Cluster& cluster,
                              const workload::ProfileSet& profiles, const scaler::Policy& policy,
                              const SimOptions& options) {
  Sim s(requests, service, cluster, profiles, policy, options);
  return s.run();
}

PolicyResult oracle(const std::vector<workload::Request>& requests,
                    const scaler::ServiceConfig& svc, const workload::ProfileSet& profiles,
                    const SimOptions& o) {
  PolicyResult r;
  r.policy = "oracle";
  const scaler::Variant& v = svc.preferred();
  double unit_tps = v.ratio.decode * v.decode_tps_per_instance;
  double unit_gpus = v.ratio.prefill * v.prefill_gpus + v.ratio.decode * v.decode_gpus;
  // A prefill instance's best throughput: full batches of the simulator's token budget.
  const workload::EngineProfile* pp = profiles.find(v.prefill_gpu, o.model);
  double batch = o.prefill_batch_tokens;
  double unit_prefill = pp ? v.ratio.prefill * batch / pp->prefill_s(batch) : 0;
  double end = requests.empty() ? o.drain_s : requests.back().arrival_s + o.drain_s;
  if (o.max_duration_s > 0) end = std::min(end, o.max_duration_s);
  size_t i = 0;
  for (double t = 0; t < end; t += o.tick_s) {
    double tokens = 0, prompt = 0;
    size_t n = 0;
    while (i < requests.size() && requests[i].arrival_s < t + o.tick_s) {
      if (pp && requests[i].prompt_tokens + requests[i].output_tokens > pp->max_context) {
        ++i;  // rejected by the engine, as in the simulation
        continue;
      }
      tokens += requests[i].output_tokens;
      prompt += requests[i++].prompt_tokens;
      ++n;
    }
    double need = tokens / o.tick_s / unit_tps;
    if (unit_prefill > 0) need = std::max(need, prompt / o.tick_s / unit_prefill);
    uint32_t units =
        std::clamp(static_cast<uint32_t>(std::ceil(need - 1e-9)), svc.min_units(), svc.max_units());
    double span = std::min(o.tick_s, end - t);
    r.gpu_hours += units * unit_gpus * span / 3600;
    r.gpu_hours_by_role["prefill"] += units * v.ratio.prefill * v.prefill_gpus * span / 3600;
    r.gpu_hours_by_role["decode"] += units * v.ratio.decode * v.decode_gpus * span / 3600;
    r.gpu_hours_by_type[v.prefill_gpu] += units * v.ratio.prefill * v.prefill_gpus * span / 3600;
    r.gpu_hours_by_type[v.decode_gpu] += units * v.ratio.decode * v.decode_gpus * span / 3600;
    SeriesPoint p;
    p.t = t + o.tick_s;
    p.arrivals_per_s = n / o.tick_s;
    p.decode_tps = tokens / o.tick_s;
    p.prefill = p.ready_prefill = units * v.ratio.prefill;
    p.decode = p.ready_decode = units * v.ratio.decode;
    r.series.push_back(p);
  }
  r.requests = requests.size();
  r.simulated_s = end;
  return r;
}

}  // namespace hs::sim
