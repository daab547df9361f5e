// The response bodies hs-engine-sim sends, shaped as vLLM's OpenAI server sends them
// (CompletionResponse / ChatCompletionResponse and their stream chunks, UsageInfo).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "hs/common/prometheus_text.h"

namespace hs::launcher {

struct ResponseIds {
  std::string id;  // "cmpl-..." or "chatcmpl-..."
  long created = 0;
  std::string model;
  bool chat = false;
};

nlohmann::json usage_json(uint32_t prompt_tokens, uint32_t completion_tokens);

// The whole answer of a non-streamed request of `tokens` generated tokens.
nlohmann::json full_response(const ResponseIds& ids, uint32_t tokens, uint32_t prompt_tokens);

// One stream chunk carrying `tokens` new tokens; `last` sets finish_reason. With
// `usage_tokens` >= 0 the chunk carries usage (vLLM's continuous_usage_stats).
nlohmann::json stream_chunk(const ResponseIds& ids, uint32_t tokens, bool last,
                            uint32_t prompt_tokens, int64_t usage_tokens);

// The final usage-only chunk (stream_options.include_usage): empty choices.
nlohmann::json usage_chunk(const ResponseIds& ids, uint32_t prompt_tokens,
                           uint32_t completion_tokens);

// What the engine's /metrics shows, with vLLM's names (common/engine_metrics.h).
struct EngineCounters {
  std::string served_model;
  double running = 0, waiting = 0, kv_usage = 0;
  double prompt_tokens = 0, generation_tokens = 0, requests_ok = 0;
};
std::string render_metrics(const EngineCounters& c, const prom::Histogram& ttft,
                           const prom::Histogram& tpot, const prom::Histogram& e2e);

}  // namespace hs::launcher
