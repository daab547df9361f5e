#include "hs/scaler/engine_metrics.h"

#include <algorithm>
#include <cmath>

#include "hs/common/engine_metrics.h"
#include "hs/common/router_metrics.h"
#include "hs/common/text.h"

namespace hs::scaler {

namespace rm = router_metrics;

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

Histogram signal_histogram(const prom::Histogram& h) {
  Histogram out;
  out.upper_bounds = h.bounds;
  out.upper_bounds.push_back(INFINITY);
  out.cumulative.assign(h.cumulative.begin(), h.cumulative.end());
  out.cumulative.push_back(static_cast<double>(h.count));
  out.count = static_cast<double>(h.count);
  out.sum = h.sum;
  return out;
}

std::map<std::string, GroupLatencySample> router_group_latency(const prom::Scrape& s, TimePoint t) {
  std::map<std::string, GroupLatencySample> out;
  for (const prom::Sample* c : s.find(std::string(rm::kTtft) + "_count")) {
    const std::string* g = c->label(rm::kLabelGroup);
    if (!g) continue;
    GroupLatencySample& gs = out[*g];
    gs.t = t;
    gs.ttft = histogram_of(s, std::string(rm::kTtft), {{std::string(rm::kLabelGroup), *g}});
    gs.tbt = histogram_of(s, std::string(rm::kTbt), {{std::string(rm::kLabelGroup), *g}});
  }
  return out;
}

std::optional<OfferedSample> router_offered(const prom::Scrape& s, TimePoint t) {
  auto one = [&](std::string_view name) {
    double v = kMissing;
    for (const prom::Sample* x : s.find(name)) v = (std::isnan(v) ? 0 : v) + x->value;
    return v;
  };
  OfferedSample o;
  o.t = t;
  o.requests = one(rm::kOfferedRequests);
  if (std::isnan(o.requests)) return std::nullopt;  // a router from before offered load
  o.prompt_tokens = one(rm::kOfferedPromptTokens);
  o.decode_tokens = one(rm::kOfferedDecodeTokens);
  o.backlog_prompt_tokens = one(rm::kBacklogPromptTokens);
  o.backlog_requests = one(rm::kBacklogRequests);
  return o;
}

std::map<std::string, double> router_outstanding(const prom::Scrape& s) {
  std::map<std::string, double> out;
  for (const prom::Sample* x : s.find(rm::kInstanceOutstanding))
    if (const std::string* u = x->label(rm::kLabelInstance)) out[*u] += x->value;
  return out;
}

}  // namespace hs::scaler
