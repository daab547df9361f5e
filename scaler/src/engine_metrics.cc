#include "hs/scaler/engine_metrics.h"

#include <algorithm>
#include <cmath>

#include "hs/common/engine_metrics.h"
#include "hs/common/text.h"

namespace hs::scaler {

Result<InstanceSample> instance_sample(const prom::Scrape& s, TimePoint t) {
  auto r = engine_metrics::read(s);  // the one name table (common/engine_metrics.h)
  if (!r.ok()) return r.error();
  InstanceSample out;
  out.t = t;
  out.generation_tokens = r->generation_tokens;
  out.prompt_tokens = r->prompt_tokens;
  out.prompt_tokens_cached = r->prompt_tokens_cached;
  out.running = r->running;
  out.waiting = r->waiting;
  out.kv_usage = r->kv_usage;
  out.kv_held = !engine_metrics::idle(*r, true) && engine_metrics::idle(*r, false);
  return out;
}

Histogram histogram_of(const prom::Scrape& s, const std::string& name, const prom::Labels& match) {
  Histogram h;
  std::vector<std::pair<double, double>> buckets;
  for (const prom::Sample* b : s.find(name + "_bucket", match)) {
    const std::string* le = b->label("le");
    if (!le) continue;
    double bound = INFINITY;
    if (*le != "+Inf") {
      auto v = parse_double(*le);
      if (!v.ok()) continue;  // a malformed bound is not a bucket
      bound = *v;
    }
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
