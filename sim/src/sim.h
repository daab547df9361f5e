// The simulation of one policy over one request stream (private to hs_sim). Its methods are
// in four files by what they model: the request path (simulator.cc: the event loop, the
// router, prefill, the KV hand-off, decode), the fleet (sim_fleet.cc: instances for Slurm's
// running tasks, their start-up and their end), the autoscaler's view (sim_metrics.cc:
// scrapes, totals) and the daemon (sim_control.cc: heteroscaled's Controller and
// ActionExecutor on a SimSlurm, the endpoint set the router follows).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "fleet.h"
#include "hs/common/clock.h"
#include "hs/common/prometheus_text.h"
#include "hs/common/quantiles.h"
#include "hs/router/offered_load.h"
#include "hs/scaler/action_executor.h"
#include "hs/scaler/controller.h"
#include "hs/scaler/sim_slurm.h"
#include "hs/sim/feasibility.h"
#include "hs/sim/simulator.h"
#include "hs/workload/stream.h"
#include "load_heap.h"

namespace hs::sim {

enum class Ev : uint8_t { kPrefillDone, kKvDone, kDecode, kReady, kScrape, kTick, kSlurm };
struct Event {
  double t;
  uint64_t seq;
  Ev type;
  uint32_t a;
  uint32_t b;
};
struct EventLater {
  bool operator()(const Event& x, const Event& y) const {
    return x.t > y.t || (x.t == y.t && x.seq > y.seq);
  }
};

using InstHeap = LoadHeap<Inst, &Inst::route_load, &Inst::heap_pos>;
using GroupHeap = LoadHeap<Inst, &Inst::route_load, &Inst::group_heap_pos>;

class Sim {
 public:
  Sim(workload::RequestStream& reqs, const scaler::ServiceConfig& svc, const Cluster& cl,
      const workload::ProfileSet& profiles, const scaler::Policy& pol, const SimOptions& o);
  Result<PolicyResult> run();

 private:
  // request path (simulator.cc)
  bool pull();
  void dispatch(const Event& e);
  void push(double t, Ev type, uint32_t a, uint32_t b = 0) { q_.push({t, seq_++, type, a, b}); }
  void arrive_next();
  void arrive(uint32_t r);
  void start_prefill(Inst& in);
  void prefill_done(uint32_t id);
  void send_to_decode(uint32_t r);
  void kv_done(uint32_t r, uint32_t id);
  void schedule_decode(uint32_t id, double t);
  void decode_event(uint32_t id);
  void admit_and_schedule(uint32_t id);
  void complete(uint32_t r);
  void abandon(uint32_t r);
  void drop(uint32_t r);  // an abandoned request reached where it is taken out
  void reindex(Inst& in);
  void set_busy(Inst& in, bool busy);
  std::pair<prom::Histogram, prom::Histogram>& group_hist(uint32_t g);

  void lose(uint32_t r);  // in flight on an instance whose task ended: failed
  void release_kv(Req& q);
  void flush_waits(scaler::Role role);

  // fleet (sim_fleet.cc)
  const scaler::Variant& variant_of(const std::string& name) const;
  uint32_t group_index(const std::string& name);
  uint32_t add_instance(const scaler::PoolTask& task, scaler::Role role, uint32_t group,
                        const scaler::Variant& v, bool initial);
  void end_instance(uint32_t id);  // its task ended: what it held is lost
  void sync_tasks(const scaler::ClusterView& view, bool initial);
  void ready(uint32_t id);

  // the daemon (sim_control.cc)
  Status start_daemon(uint32_t units);
  scaler::SlurmSnapshot read_slurm();
  std::vector<scaler::Registration> registrations() const;
  std::map<std::string, scaler::ServiceMetrics> service_metrics() const;
  void publish(const std::vector<scaler::Registration>& regs, const scaler::ClusterView& view,
               scaler::GroupRatios ratios);
  void control_tick();
  void record_tick(const scaler::Signals& sig, bool changed_slurm);
  void slurm_event();
  void schedule_slurm();
  int64_t unix_at(double t) const { return wall0_ + static_cast<int64_t>(t + 1e-9); }

  // the autoscaler's view (sim_metrics.cc)
  void scrape();
  void finish();

  const scaler::ServiceConfig& svc_;
  const Cluster& cl_;
  const workload::ProfileSet& profiles_;
  const scaler::Policy& pol_;
  SimOptions o_;
  workload::RequestStream& stream_;
  workload::Request next_;  // the next arrival, read ahead
  bool have_next_ = false, stream_done_ = false;
  double last_arrival_ = 0;
  uint64_t arrivals_ = 0;
  const workload::EngineProfile* context_prof_ = nullptr;  // whose max_context admits
  ReqSlab reqs_;
  std::vector<Inst> insts_;
  std::vector<uint32_t> live_;  // instances not gone, ascending id
  InstHeap prefill_heap_{&insts_}, decode_heap_{&insts_};
  std::vector<GroupHeap> group_heaps_;  // decode instances by group
  std::vector<std::string> group_names_;
  std::map<std::string, uint32_t> group_of_name_;
  std::map<std::string, uint32_t> inst_of_task_;  // Slurm task "A_i" -> its running instance
  // The daemon: Slurm simulated, heteroscaled's Controller deciding and its ActionExecutor
  // carrying the actions out, on the virtual clock (Unix time wall0_ + simulated seconds).
  int64_t wall0_ = 0;
  ManualClock clock_;
  std::unique_ptr<scaler::SimSlurm> slurm_;
  std::unique_ptr<scaler::Controller> ctl_;
  std::unique_ptr<scaler::ActionExecutor> exec_;
  uint64_t snap_seq_ = 0;
  std::set<std::string> published_;  // URLs in the endpoint set the router follows
  double slurm_event_at_ = -1;       // the next kSlurm event queued, if after now
  std::map<uint32_t, std::pair<prom::Histogram, prom::Histogram>> hist_;
  std::map<uint32_t, scaler::GroupSeries> group_series_;
  // The router's offered load, counted by hs-router's own OfferedLoad: prompts are token ids
  // here, so counted exactly; traces carry no max_tokens, so a request's output is estimated
  // as hs-router does without one, by the running mean of real output lengths.
  router::OfferedLoad offered_;
  scaler::OfferedSeries offered_series_;
  std::deque<uint32_t> router_wait_, decode_wait_;
  // When each request's client gives up if it has no first token yet: arrival order is
  // deadline order (one timeout for all), so a FIFO holds them.
  struct Deadline {
    double t;
    uint32_t slot;
    uint64_t seq;
  };
  std::deque<Deadline> deadlines_;
  size_t abandoned_held_ = 0;  // abandoned, not yet dropped
  std::priority_queue<Event, std::vector<Event>, EventLater> q_;
  std::vector<double> tick_ttft_, tick_tbt_;
  std::vector<uint32_t> admitted_;
  size_t tick_arrivals_ = 0;
  Quantiles ttft_, tbt_;
  uint64_t ok_ttft_ = 0, ok_tbt_ = 0, ok_both_ = 0;
  uint64_t ok_ttft_feasible_ = 0, ok_tbt_feasible_ = 0, ok_both_feasible_ = 0;
  Feasibility feasibility_;
  PolicyResult res_;
  double now_ = 0, end_ = 0, next_progress_ = 0;
  uint64_t seq_ = 0, inst_seq_ = 0;
};

}  // namespace hs::sim
