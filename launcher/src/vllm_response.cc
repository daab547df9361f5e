#include "vllm_response.h"

#include <cstdint>

#include "hs/common/engine_metrics.h"

namespace hs::launcher {

using json = nlohmann::json;

namespace {

std::string text_of(uint32_t tokens) {
  std::string t;
  t.reserve(tokens * 4);
  for (uint32_t k = 0; k < tokens; ++k) t += " tok";
  return t;
}

// Completions use "text_completion" for whole answers and chunks alike; chat names both.
json header(const ResponseIds& ids, const char* chat_object) {
  return {{"id", ids.id},
          {"object", ids.chat ? chat_object : "text_completion"},
          {"created", ids.created},
          {"model", ids.model}};
}

}  // namespace

json usage_json(uint32_t prompt_tokens, uint32_t completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

json full_response(const ResponseIds& ids, uint32_t tokens, uint32_t prompt_tokens) {
  std::string text = text_of(tokens);
  json choice =
      ids.chat
          ? json{{"index", 0},
                 {"message", {{"role", "assistant"}, {"content", text}}},
                 {"finish_reason", "length"}}
          : json{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", "length"}};
  json out = header(ids, "chat.completion");
  out["choices"] = json::array({choice});
  out["usage"] = usage_json(prompt_tokens, tokens);
  return out;
}

json stream_chunk(const ResponseIds& ids, uint32_t tokens, bool last, uint32_t prompt_tokens,
                  int64_t usage_tokens) {
  std::string text = text_of(tokens);
  json reason = last ? json("length") : json(nullptr);
  json choice =
      ids.chat
          ? json{{"index", 0}, {"delta", {{"content", text}}}, {"finish_reason", reason}}
          : json{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", reason}};
  json out = header(ids, "chat.completion.chunk");
  out["choices"] = json::array({choice});
  if (usage_tokens >= 0)
    out["usage"] = usage_json(prompt_tokens, static_cast<uint32_t>(usage_tokens));
  return out;
}

json usage_chunk(const ResponseIds& ids, uint32_t prompt_tokens, uint32_t completion_tokens) {
  json out = header(ids, "chat.completion.chunk");
  out["choices"] = json::array();
  out["usage"] = usage_json(prompt_tokens, completion_tokens);
  return out;
}

std::string render_metrics(const EngineCounters& c, const prom::Histogram& ttft,
                           const prom::Histogram& tpot, const prom::Histogram& e2e) {
  namespace em = engine_metrics;
  prom::Writer w;
  prom::Labels l = {{"model_name", c.served_model}, {"engine", "0"}};
  auto one = [&](std::string_view n, prom::MetricType t, const char* help, double v) {
    w.family(n, t, help);
    w.sample(n, l, v);
  };
  using T = prom::MetricType;
  one(em::kVllmRunning, T::kGauge, "Number of requests in model execution batches.", c.running);
  one(em::kVllmWaiting, T::kGauge, "Number of requests waiting to be processed.", c.waiting);
  one(em::kVllmKvUsage, T::kGauge, "KV-cache usage. 1 means 100 percent usage.", c.kv_usage);
  one(em::kVllmPromptTokens, T::kCounter, "Number of prefill tokens processed.", c.prompt_tokens);
  one(em::kVllmGenerationTokens, T::kCounter, "Number of generation tokens processed.",
      c.generation_tokens);
  one(em::kVllmPrefixCacheQueries, T::kCounter,
      "Prefix cache queries, in terms of number of queried tokens.", c.prompt_tokens);
  one(em::kVllmPrefixCacheHits, T::kCounter,
      "Prefix cache hits, in terms of number of cached tokens.", 0);
  w.family(em::kVllmRequestSuccess, T::kCounter, "Count of successfully processed requests.");
  prom::Labels lf = l;
  lf.emplace_back("finished_reason", "length");
  w.sample(em::kVllmRequestSuccess, lf, c.requests_ok);
  auto hist = [&](std::string_view name, const char* help, const prom::Histogram& h) {
    w.family(name, T::kHistogram, help);
    w.histogram(name, l, h.bounds, h.cumulative, h.sum, h.count);
  };
  hist(em::kVllmTtft, "Histogram of time to first token in seconds.", ttft);
  hist(em::kVllmTpot, "Histogram of time per output token in seconds.", tpot);
  hist(em::kVllmE2e, "Histogram of e2e request latency in seconds.", e2e);
  return w.text();
}

}  // namespace hs::launcher
