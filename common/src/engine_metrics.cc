#include "hs/common/engine_metrics.h"

#include <cmath>
#include <map>

namespace hs::engine_metrics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool has(const prom::Scrape& s, std::string_view name, const prom::Labels& match = {}) {
  return !s.find(name, match).empty();
}

// SGLang's per-scheduler series: the maximum over tp_rank within a dp_rank (every TP rank of a
// DP rank reports the same value when metrics are on for all schedulers), summed over dp_rank.
double sglang_sum(const prom::Scrape& s, std::string_view name, const prom::Labels& match = {}) {
  auto xs = s.find(name, match);
  if (xs.empty()) return kNaN;
  std::map<std::string, double> per_dp;
  for (const prom::Sample* x : xs) {
    const std::string* dp = x->label("dp_rank");
    std::string key = dp ? *dp : std::string();
    auto [it, fresh] = per_dp.try_emplace(key, x->value);
    if (!fresh && x->value > it->second) it->second = x->value;
  }
  double sum = 0;
  for (const auto& [k, v] : per_dp) sum += v;
  return sum;
}

Reading read_vllm(const prom::Scrape& s) {
  Reading r;
  r.family = EngineFamily::kVllm;
  r.generation_tokens = s.sum(kVllmGenerationTokens);
  r.prompt_tokens = s.sum(kVllmPromptTokens);
  r.prompt_tokens_cached = s.sum(kVllmPrefixCacheHits);
  if (!std::isnan(r.prompt_tokens) && !std::isnan(r.prompt_tokens_cached))
    r.prompt_tokens_computed = std::max(0.0, r.prompt_tokens - r.prompt_tokens_cached);
  r.running = s.sum(kVllmRunning);
  r.waiting = s.sum(kVllmWaiting);
  // Data-parallel engines each report their usage: the busiest one decides idleness.
  auto kv = s.find(kVllmKvUsage);
  for (const prom::Sample* x : kv)
    r.kv_usage = std::isnan(r.kv_usage) ? x->value : std::max(r.kv_usage, x->value);
  return r;
}

Reading read_sglang(const prom::Scrape& s) {
  Reading r;
  r.family = EngineFamily::kSglang;
  if (has(s, kSglangRealtimeTokens, {{"mode", "decode"}}))
    r.generation_tokens = sglang_sum(s, kSglangRealtimeTokens, {{"mode", "decode"}});
  else
    r.generation_tokens = s.sum(kSglangGenerationTokens);
  r.prompt_tokens = s.sum(kSglangPromptTokens);
  r.prompt_tokens_cached = s.sum(kSglangCachedTokens);
  if (has(s, kSglangRealtimeTokens, {{"mode", "prefill_compute"}}))
    r.prompt_tokens_computed = sglang_sum(s, kSglangRealtimeTokens, {{"mode", "prefill_compute"}});
  else if (!std::isnan(r.prompt_tokens) && !std::isnan(r.prompt_tokens_cached))
    r.prompt_tokens_computed = std::max(0.0, r.prompt_tokens - r.prompt_tokens_cached);
  r.running = sglang_sum(s, kSglangRunning);
  double waiting = sglang_sum(s, kSglangQueue);
  for (std::string_view q : kSglangPdQueues) {
    double v = sglang_sum(s, q);
    if (!std::isnan(v)) waiting = (std::isnan(waiting) ? 0 : waiting) + v;
  }
  r.waiting = waiting;
  r.kv_usage = sglang_sum(s, kSglangTokenUsage);
  return r;
}

}  // namespace

double Reading::in_flight() const {
  if (std::isnan(running) && std::isnan(waiting)) return kNaN;
  return (std::isnan(running) ? 0 : running) + (std::isnan(waiting) ? 0 : waiting);
}

Result<Reading> read(const prom::Scrape& s) {
  for (std::string_view n : {kVllmRunning, kVllmWaiting, kVllmGenerationTokens, kVllmPromptTokens})
    if (has(s, n)) return read_vllm(s);
  for (std::string_view n :
       {kSglangRunning, kSglangQueue, kSglangGenerationTokens, kSglangRealtimeTokens})
    if (has(s, n)) return read_sglang(s);
  return not_found("no vLLM or SGLang engine metrics in the scrape");
}

const std::vector<std::string_view>& sample_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> n = {kVllmRunning,          kVllmWaiting,
                                       kVllmKvUsage,          kVllmPromptTokens,
                                       kVllmGenerationTokens, kVllmPrefixCacheHits,
                                       kSglangRunning,        kSglangQueue,
                                       kSglangRealtimeTokens, kSglangGenerationTokens,
                                       kSglangPromptTokens,   kSglangCachedTokens,
                                       kSglangTokenUsage};
    for (std::string_view q : kSglangPdQueues) n.push_back(q);
    return n;
  }();
  return names;
}

bool idle(const Reading& r, bool prefill) {
  double in = r.in_flight();
  if (std::isnan(in) || in > 0) return false;
  // Only a prefill holds KV for someone else; a vLLM decode's usage is its own running work.
  if (prefill && r.family == EngineFamily::kVllm) return !std::isnan(r.kv_usage) && r.kv_usage <= 0;
  return true;
}

}  // namespace hs::engine_metrics
