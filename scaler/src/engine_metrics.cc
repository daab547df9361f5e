#include "hs/scaler/engine_metrics.h"

#include <algorithm>
#include <cmath>

#include "hs/common/text.h"

namespace hs::scaler {

namespace {

// One row per InstanceSample field: the sample names engines export, first match wins.
// vLLM names: vllm @ 005a810b (shared/data/metrics); SGLang: sglang/srt/metrics/collector.py.
struct Mapping {
  double InstanceSample::*field;
  std::vector<const char*> names;
};
const std::vector<Mapping>& table() {
  static const std::vector<Mapping> t = {
      {&InstanceSample::generation_tokens,
       {"vllm:generation_tokens_total", "sglang:generation_tokens_total"}},
      {&InstanceSample::prompt_tokens, {"vllm:prompt_tokens_total", "sglang:prompt_tokens_total"}},
      {&InstanceSample::prompt_tokens_cached,
       {"vllm:prefix_cache_hits_total", "sglang:cached_tokens_total"}},
      {&InstanceSample::running, {"vllm:num_requests_running", "sglang:num_running_reqs"}},
      {&InstanceSample::waiting, {"vllm:num_requests_waiting", "sglang:num_queue_reqs"}},
  };
  return t;
}

}  // namespace

Result<InstanceSample> instance_sample(const prom::Scrape& s, TimePoint t) {
  InstanceSample out;
  out.t = t;
  bool any = false;
  for (const auto& m : table()) {
    for (const char* name : m.names) {
      if (s.find(name).empty()) continue;
      out.*(m.field) = s.sum(name);  // summed over model_name/engine labels
      any = true;
      break;
    }
  }
  if (!any) return not_found("no vLLM or SGLang engine metrics in the scrape");
  return out;
}

Histogram histogram_of(const prom::Scrape& s, const std::string& name, const prom::Labels& match) {
  Histogram h;
  std::vector<std::pair<double, double>> buckets;
  for (const prom::Sample* b : s.find(name + "_bucket", match)) {
    const std::string* le = b->label("le");
    if (!le) continue;
    double bound = *le == "+Inf" ? INFINITY : std::strtod(le->c_str(), nullptr);
    buckets.emplace_back(bound, b->value);
  }
  std::sort(buckets.begin(), buckets.end());
  for (const auto& [b, c] : buckets) {
    h.upper_bounds.push_back(b);
    h.cumulative.push_back(c);
  }
  auto c = s.find(name + "_count", match);
  auto sm = s.find(name + "_sum", match);
  h.count = c.empty() ? (h.cumulative.empty() ? 0 : h.cumulative.back()) : c.front()->value;
  h.sum = sm.empty() ? 0 : sm.front()->value;
  return h;
}

std::map<std::string, GroupLatencySample> router_group_latency(const prom::Scrape& s, TimePoint t) {
  std::map<std::string, GroupLatencySample> out;
  for (const prom::Sample* c : s.find("hs_router_ttft_seconds_count")) {
    const std::string* g = c->label("group");
    if (!g) continue;
    GroupLatencySample& gs = out[*g];
    gs.t = t;
    gs.ttft = histogram_of(s, "hs_router_ttft_seconds", {{"group", *g}});
    gs.tbt = histogram_of(s, "hs_router_tbt_seconds", {{"group", *g}});
  }
  return out;
}

std::map<std::string, double> router_outstanding(const prom::Scrape& s) {
  std::map<std::string, double> out;
  for (const prom::Sample* x : s.find("hs_router_instance_outstanding"))
    if (const std::string* u = x->label("instance")) out[*u] += x->value;
  return out;
}

}  // namespace hs::scaler
