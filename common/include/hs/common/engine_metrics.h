// The one table of engine metric names: which families vLLM and SGLang export on /metrics for
// each signal heteroscale reads, how their labels are aggregated, and the names hs-engine-sim
// exports. The daemon's scraper, hs-launch's drain and the simulated engine all use this file,
// so a name is spelled once.
//
// Sources read:
//  - vLLM: vllm/v1/metrics/loggers.py @ 005a810b (PrometheusStatLogger; counters gain "_total"
//    in the Python client's exposition; labels model_name and engine, summed over engine for
//    data parallel). kv_cache_usage_perc counts blocks held by requests, including a prefill's
//    blocks waiting for the decode's NIXL read (freed when the read notification arrives or
//    VLLM_NIXL_ABORT_REQUEST_TIMEOUT passes: nixl_connector.py @ 002a1057).
//  - SGLang: python/sglang/srt/metrics/collector.py @ 00ae9c15 (SchedulerStats gauges with
//    tp_rank/dp_rank labels; realtime_tokens_total by mode, updated every decode log
//    interval; generation_tokens_total only when a request finishes, so it is the fallback).
//    With --enable-metrics-for-all-schedulers every TP rank reports the same gauge: the
//    maximum over tp_rank within a dp_rank is taken, then summed over dp_rank.
#pragma once

#include <limits>
#include <string_view>
#include <vector>

#include "hs/common/error.h"
#include "hs/common/prometheus_text.h"

namespace hs::engine_metrics {

// vLLM family names as exposed (what hs-engine-sim writes too).
inline constexpr std::string_view kVllmRunning = "vllm:num_requests_running";
inline constexpr std::string_view kVllmWaiting = "vllm:num_requests_waiting";
inline constexpr std::string_view kVllmKvUsage = "vllm:kv_cache_usage_perc";
inline constexpr std::string_view kVllmPromptTokens = "vllm:prompt_tokens_total";
inline constexpr std::string_view kVllmGenerationTokens = "vllm:generation_tokens_total";
inline constexpr std::string_view kVllmPrefixCacheQueries = "vllm:prefix_cache_queries_total";
inline constexpr std::string_view kVllmPrefixCacheHits = "vllm:prefix_cache_hits_total";
inline constexpr std::string_view kVllmRequestSuccess = "vllm:request_success_total";
inline constexpr std::string_view kVllmTtft = "vllm:time_to_first_token_seconds";
inline constexpr std::string_view kVllmTpot = "vllm:time_per_output_token_seconds";
inline constexpr std::string_view kVllmE2e = "vllm:e2e_request_latency_seconds";

// SGLang family names.
inline constexpr std::string_view kSglangRunning = "sglang:num_running_reqs";
inline constexpr std::string_view kSglangQueue = "sglang:num_queue_reqs";
inline constexpr std::string_view kSglangRealtimeTokens = "sglang:realtime_tokens_total";
inline constexpr std::string_view kSglangGenerationTokens = "sglang:generation_tokens_total";
inline constexpr std::string_view kSglangPromptTokens = "sglang:prompt_tokens_total";
inline constexpr std::string_view kSglangCachedTokens = "sglang:cached_tokens_total";
inline constexpr std::string_view kSglangTokenUsage = "sglang:token_usage";
// The P/D queues: requests waiting for bootstrap, KV preallocation or transfer are in none of
// num_running_reqs / num_queue_reqs.
inline constexpr std::string_view kSglangPdQueues[] = {
    "sglang:num_prefill_prealloc_queue_reqs", "sglang:num_prefill_inflight_queue_reqs",
    "sglang:num_decode_prealloc_queue_reqs", "sglang:num_decode_transfer_queue_reqs"};

enum class EngineFamily { kVllm, kSglang };

// One scrape of one engine, as the signals heteroscale uses. Missing values are NaN.
struct Reading {
  EngineFamily family = EngineFamily::kVllm;
  double generation_tokens = std::numeric_limits<double>::quiet_NaN();       // counter
  double prompt_tokens = std::numeric_limits<double>::quiet_NaN();           // counter, all tokens
  double prompt_tokens_cached = std::numeric_limits<double>::quiet_NaN();    // counter, cache hits
  double prompt_tokens_computed = std::numeric_limits<double>::quiet_NaN();  // counter, misses
  double running = std::numeric_limits<double>::quiet_NaN();                 // gauge
  double waiting = std::numeric_limits<double>::quiet_NaN();   // gauge, incl. SGLang P/D queues
  double kv_usage = std::numeric_limits<double>::quiet_NaN();  // gauge 0..1

  // Requests the engine still holds: running + waiting (NaN when neither is known).
  double in_flight() const;
};

// NotFound when the scrape has none of the families of either engine (not an engine).
Result<Reading> read(const prom::Scrape& s);

// Every sample name read() looks at: a scrape parsed with prom::parse_only(text, name,
// sample_names()) reads the same as one parsed whole.
const std::vector<std::string_view>& sample_names();

// Whether an engine can be stopped without losing work: nothing running or waiting, and (for
// a prefill) no KV blocks held for a decode that has not read them yet. Unknown values count
// as busy.
bool idle(const Reading& r, bool prefill);

}  // namespace hs::engine_metrics
