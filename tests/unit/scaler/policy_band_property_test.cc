// The ratio band on a closed-loop plant whose prefill and decode pools are sized apart: at the
// same request rate, prompts four times longer need four times the prefill and no more decode.
// The policy must grow prefill and leave decode alone (with a band wide enough), where the
// fixed ratio can only grow whole units. Everything goes through compute_signals() and
// decide(), as in the daemon and the simulator.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "hs/scaler/policy.h"
#include "test_util.h"

namespace hs::scaler {
namespace {

using testing::at;
using testing::latency_hist;

constexpr double kTick = 15, kSample = 5, kStartup = 60;
constexpr double kOutput = 200;        // decode tokens per request
constexpr double kPrefillTps = 10000;  // prompt tokens/s one prefill instance computes
constexpr double kDecodeTps = 1000;    // decode tokens/s one decode instance sustains

struct Pool {
  std::vector<double> ready_at;  // per instance
  std::vector<InstanceSeries> series;
  std::vector<double> counter;
  uint32_t ready(double t) const {
    uint32_t n = 0;
    for (double r : ready_at) n += r <= t;
    return n;
  }
  void resize(size_t n, double ready, Role role) {
    while (ready_at.size() < n) {
      std::string id = std::string(role == Role::kPrefill ? "p" : "d") +
                       std::to_string(series.size() + ready_at.size() * 1000);
      ready_at.push_back(ready);
      series.push_back({id, role, "g1", role == Role::kDecode ? kDecodeTps : 0, {}});
      counter.push_back(0);
    }
    ready_at.resize(n);
    series.resize(n);
    counter.resize(n);
  }
};

struct PdPlant {
  ServiceConfig cfg = testing::service();
  std::mt19937 rng;
  double t = 0, queue = 0;  // prompt tokens waiting for prefill
  Pool pre, dec;
  GroupSeries group{"g1", {}};
  OfferedSeries router{"router", {}};
  double reqs = 0, prompts = 0, decodes = 0;
  Histogram ttft = latency_hist(0.1, 0), tbt = latency_hist(0.1, 0);

  PdPlant(uint32_t seed, double band) : rng(seed) {
    cfg.ratio_band = band;
    cfg.variants[0].prefill_tps_per_instance = kPrefillTps;
    pre.resize(2, -1, Role::kPrefill);
    dec.resize(4, -1, Role::kDecode);
  }
  static void obs(Histogram& h, double v, double n) {
    for (size_t i = 0; i < h.upper_bounds.size(); ++i)
      if (v <= h.upper_bounds[i]) h.cumulative[i] += n;
    h.count += n;
    h.sum += v * n;
  }
  // One tick at `rps` requests/s of `prompt` tokens each.
  void advance(double rps, double prompt) {
    std::uniform_real_distribution<double> noise(0.9, 1.1);
    for (double s = kSample; s <= kTick + 1e-9; s += kSample) {
      const double now = t + s, r = rps * noise(rng);
      const uint32_t rp = pre.ready(now), rd = dec.ready(now);
      const double pcap = rp * kPrefillTps;
      const double done = std::min(queue + r * prompt * kSample, pcap * kSample);
      queue += r * prompt * kSample - done;
      const double fed_rps = done / kSample / prompt;  // requests whose prefill finished
      const double dtps = std::min(fed_rps * kOutput, rd * kDecodeTps * 1.25);
      const double dutil = rd > 0 ? fed_rps * kOutput / (rd * kDecodeTps) : 10;
      obs(ttft, 0.3 + (pcap > 0 ? queue / pcap : 100), 10);
      obs(tbt, dutil <= 1 ? 0.04 : 0.04 * (1 + (dutil - 1) * 4), 100);
      for (size_t i = 0; i < pre.ready_at.size(); ++i) {
        if (pre.ready_at[i] > now) continue;
        pre.counter[i] += done / rp;
        InstanceSample x;
        x.t = at(now);
        x.prompt_tokens = pre.counter[i];
        x.waiting = queue / prompt / rp;
        pre.series[i].samples.push_back(x);
      }
      for (size_t i = 0; i < dec.ready_at.size(); ++i) {
        if (dec.ready_at[i] > now) continue;
        dec.counter[i] += dtps / rd * kSample;
        InstanceSample x;
        x.t = at(now);
        x.generation_tokens = dec.counter[i];
        x.waiting = 0;
        x.running = 10;
        dec.series[i].samples.push_back(x);
      }
      group.samples.push_back({at(now), ttft, tbt});
      reqs += r * kSample;
      prompts += r * prompt * kSample;
      decodes += r * kOutput * kSample;
      router.samples.push_back({at(now), reqs, prompts, decodes, queue, queue / prompt});
    }
    t += kTick;
    auto trim = [&](auto& v) {
      while (!v.empty() && v.front().t < at(t - 200)) v.erase(v.begin());
    };
    for (Pool* p : {&pre, &dec})
      for (auto& is : p->series) trim(is.samples);
    trim(group.samples);
    trim(router.samples);
  }
  Signals signals() const {
    MetricsWindow w;
    w.instances = dec.series;
    w.instances.insert(w.instances.end(), pre.series.begin(), pre.series.end());
    w.groups = {group};
    w.offered = {router};
    std::vector<std::string> ids;
    for (size_t i = 0; i < dec.ready_at.size(); ++i)
      if (dec.ready_at[i] <= t) ids.push_back(dec.series[i].id);
    return compute_signals(w, cfg, at(t), ids);
  }
  PoolState pool() const {
    auto n = [](const Pool& p) { return static_cast<uint32_t>(p.ready_at.size()); };
    uint32_t rp = pre.ready(t), rd = dec.ready(t);
    PoolState s{n(pre), n(dec), rp, rd, n(pre) - rp + n(dec) - rd, 0};
    s.prefill_capacity_tps = n(pre) * kPrefillTps;
    double newest = -1e18;  // as the daemon reports it: the newest ready instance's age
    for (const Pool* p : {&pre, &dec})
      for (double r : p->ready_at)
        if (r <= t && r > 0) newest = std::max(newest, r);
    if (newest > -1e17) s.newest_ready_age = from_seconds(t - newest);
    return s;
  }
};

struct ShiftRun {
  uint32_t decode_before = 0, decode_max_after = 0, prefill_end = 0, decode_end = 0;
};

// 16 requests/s throughout: 1000-token prompts for half an hour (2 prefill, 4 decode cover
// it), then 4000-token prompts for two hours (7 prefill, still 4 decode).
ShiftRun prompt_shift(uint32_t seed, double band) {
  PdPlant plant(seed, band);
  HeteroScalePolicy policy;
  PolicyMemory mem;
  ShiftRun out;
  const double shift_at = 1800;
  while (plant.t < shift_at + 7200) {
    plant.advance(16, plant.t < shift_at ? 1000 : 4000);
    Decision d = policy.decide(plant.cfg, plant.signals(), plant.pool(), at(plant.t), 0, mem);
    if (plant.t < shift_at) out.decode_before = d.desired_decode;
    if (plant.t >= shift_at)
      out.decode_max_after = std::max(out.decode_max_after, d.desired_decode);
    out.prefill_end = d.desired_prefill;
    out.decode_end = d.desired_decode;
    plant.pre.resize(d.desired_prefill, plant.t + kStartup, Role::kPrefill);
    plant.dec.resize(d.desired_decode, plant.t + kStartup, Role::kDecode);
  }
  return out;
}

TEST(PolicyProperties, FourTimesLongerPromptsGrowPrefillAndNotDecode) {
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    // A band of 3 (a factor of 4 either way) holds x4 prefill at today's units.
    ShiftRun banded = prompt_shift(seed, 3);
    EXPECT_EQ(banded.decode_before, 4u);
    EXPECT_EQ(banded.decode_max_after, 4u) << "decode grew for prefill's demand";
    EXPECT_GE(banded.prefill_end, 7u) << "64000 prompt tokens/s need 7 prefill";
    EXPECT_LE(banded.prefill_end, 8u);
    // The fixed ratio can only grow whole units: decode grows with prefill.
    ShiftRun fixed = prompt_shift(seed, 0);
    EXPECT_GE(fixed.prefill_end, 7u);
    EXPECT_GE(fixed.decode_end, 14u);
  }
}

}  // namespace
}  // namespace hs::scaler
