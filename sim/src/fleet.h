// What the simulator holds while it runs: the requests in flight (a slab of slots reused as
// requests finish, so memory follows the load, not the length of the replay) and the engine
// instances, whose decode iterations between batch changes form an arithmetic series.
#pragma once

#include <cmath>
#include <cstdint>
#include <deque>
#include <queue>
#include <string>
#include <vector>

#include "hs/router/offered_load.h"
#include "hs/scaler/signals.h"
#include "hs/workload/profile.h"

namespace hs::sim {

// Where a request is before its first token, so that a client giving up can take it out.
enum class Stage : uint8_t {
  kRouter,
  kPrefillQueue,
  kPrefillBatch,
  kTransfer,
  kDecodeQueue,
  kDecode
};

inline constexpr uint32_t kNoInst = ~uint32_t{0};

struct Req {
  double arrival = 0;
  uint64_t seq = 0;  // arrival order: ties between requests go by it, as by their index before
  uint32_t in = 0, out = 0;
  double first_token = -1, done = -1;
  uint64_t admit_iter = 0;
  uint32_t group = 0;
  uint32_t at = 0;  // the instance of kPrefillQueue / kDecodeQueue
  // The prefill instance holding its KV cache until a decode instance has read it (NIXL's
  // prefill keeps the blocks until the transfer is done): kNoInst before prefill and after.
  uint32_t src = kNoInst;
  Stage stage = Stage::kRouter;
  bool abandoned = false;               // the client gave up; dropped where it is next touched
  bool feasible = true;                 // some policy could meet its SLO (hs/sim/feasibility.h)
  router::OfferedLoad::Ticket offered;  // its share of the router's offered load and backlog
};

// In-flight requests by slot; a finished request's slot is reused.
class ReqSlab {
 public:
  uint32_t add(const Req& r) {
    ++live_;
    if (!free_.empty()) {
      uint32_t s = free_.back();
      free_.pop_back();
      slots_[s] = r;
      return s;
    }
    slots_.push_back(r);
    return static_cast<uint32_t>(slots_.size() - 1);
  }
  void release(uint32_t s) {
    --live_;
    slots_[s].seq = kFree;
    free_.push_back(s);
  }
  // The slot still holds the request `seq` (not finished and reused).
  bool holds(uint32_t s, uint64_t seq) const { return slots_[s].seq == seq; }
  static constexpr uint64_t kFree = ~uint64_t{0};
  Req& operator[](uint32_t s) { return slots_[s]; }
  const Req& operator[](uint32_t s) const { return slots_[s]; }
  size_t live() const { return live_; }
  size_t capacity() const { return slots_.size(); }

 private:
  std::vector<Req> slots_;
  std::vector<uint32_t> free_;
  size_t live_ = 0;
};

// A running decode request: finishes after iteration `iter`; ties by arrival order.
struct Running {
  uint64_t iter;
  uint64_t seq;
  uint32_t slot;
  bool operator>(const Running& o) const {
    return iter > o.iter || (iter == o.iter && seq > o.seq);
  }
};

struct Inst {
  uint32_t id = 0;
  scaler::Role role = scaler::Role::kDecode;
  std::string name;  // its Slurm task, "A_i"
  std::string url;   // as it registers ("sim://A_i")
  uint32_t group = 0;
  std::string node, gpu;
  uint32_t gpus = 1;
  const workload::EngineProfile* prof = nullptr;
  double target = 0;
  double created = 0, ready_at = 0, removed = -1;
  // ready: registered (the engine is up); served: in the endpoint set the daemon publishes;
  // draining: the daemon's set marks it so (no new work); gone: its task ended.
  bool ready = false, served = false, draining = false, gone = false;
  uint64_t seq = 0;
  // The router's view: load when last indexed, and positions in the load heaps (prefill:
  // the prefill heap; decode: the fleet's and its group's).
  uint64_t route_load = 0;
  int32_t heap_pos = -1, group_heap_pos = -1;
  // prefill
  std::deque<uint32_t> queue;
  std::vector<uint32_t> batch;
  uint64_t queued_tokens = 0;
  uint32_t queue_abandoned = 0;  // of `queue`, given up on and not yet dropped
  uint32_t kv_out = 0;           // requests whose KV it holds for a decode instance
  // decode: iterations since t_sync form an arithmetic series
  double t_sync = 0;
  uint64_t iter = 0;
  double ctx = 0;
  std::priority_queue<Running, std::vector<Running>, std::greater<>> running;
  std::deque<uint32_t> waiting;
  uint32_t waiting_abandoned = 0;  // of `waiting`, given up on and not yet dropped
  uint32_t kv_in = 0;              // KV transfers on their way to it
  uint64_t kv_used = 0;
  uint64_t sum_admit_iter = 0;
  uint32_t epoch = 0;
  double next_event = -1;
  // counters and metrics
  double gen_finished = 0, prompt_total = 0;
  double busy_time = 0, busy_since = -1, busy_at_scrape = 0;
  scaler::InstanceSeries series;

  bool routable() const { return served && !draining && !gone; }
  // What the engine and the router report in flight for it (a drain waits for 0).
  double in_flight() const {
    if (role == scaler::Role::kPrefill)
      return static_cast<double>(queue.size() - queue_abandoned + batch.size() + kv_out);
    return static_cast<double>(running.size() + waiting.size() - waiting_abandoned + kv_in);
  }
  uint64_t load() const {
    return role == scaler::Role::kPrefill ? queued_tokens
                                          : running.size() + waiting.size() - waiting_abandoned;
  }
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

}  // namespace hs::sim
