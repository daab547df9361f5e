// What the scaler knows of a service's engines and router over a window of time, as plain
// values. The daemon fills these from scrapes, the simulator from its model, tests by hand.
// A missing value is NaN.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "hs/common/clock.h"
#include "hs/common/role.h"

namespace hs::scaler {

using hs::Role;
using hs::to_string;

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();
inline bool missing(double v) { return std::isnan(v); }

// A Prometheus histogram's cumulative buckets at one moment.
struct Histogram {
  std::vector<double> upper_bounds;  // ascending; the last is +Inf
  std::vector<double> cumulative;    // cumulative counts, same length
  double count = 0;
  double sum = 0;
};

// One scrape of one engine (vLLM names in brackets).
struct InstanceSample {
  TimePoint t;
  double generation_tokens = kMissing;     // counter [vllm:generation_tokens_total]
  double prompt_tokens = kMissing;         // counter [vllm:prompt_tokens_total]
  double prompt_tokens_cached = kMissing;  // counter, prefix-cache hits in tokens, where reported
  double waiting = kMissing;               // gauge [vllm:num_requests_waiting]
  double running = kMissing;               // gauge [vllm:num_requests_running]
  double gpu_util = kMissing;              // gauge 0..1 (DCGM), for the HPA baseline only
  double kv_usage = kMissing;              // gauge 0..1 [vllm:kv_cache_usage_perc]
  // Nothing running or waiting but KV blocks still held: a prefill whose decodes have not
  // read their KV yet (stopping it now would fail those decodes).
  bool kv_held = false;
};

struct InstanceSeries {
  std::string id;  // e.g. "1234_7" (array job _ task)
  Role role = Role::kDecode;
  std::string group;
  double decode_tps_target = 0;         // this instance's variant's per-instance target
  std::vector<InstanceSample> samples;  // ascending t
};

// The router's end-to-end latency histograms for one deployment group at one moment.
struct GroupLatencySample {
  TimePoint t;
  Histogram ttft;
  Histogram tbt;
};

struct GroupSeries {
  std::string group;
  std::vector<GroupLatencySample> samples;  // ascending t
};

// One router's offered-load counters and backlog gauges at one moment
// (common/router_metrics.h, kOffered* and kBacklog*).
struct OfferedSample {
  TimePoint t;
  double requests = kMissing;               // counter
  double prompt_tokens = kMissing;          // counter
  double decode_tokens = kMissing;          // counter
  double backlog_prompt_tokens = kMissing;  // gauge
  double backlog_requests = kMissing;       // gauge
};

struct OfferedSeries {
  std::string source;                  // the router's URL
  std::vector<OfferedSample> samples;  // ascending t
};

struct MetricsWindow {
  std::vector<InstanceSeries> instances;
  std::vector<GroupSeries> groups;
  std::vector<OfferedSeries> offered;  // one per router of the service
};

}  // namespace hs::scaler
