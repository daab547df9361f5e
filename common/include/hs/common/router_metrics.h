// The router's /metrics contract, defined once: family names and labels hs-router writes and
// heteroscaled (drain idleness, per-group latency signals), the dashboard and the tests read.
//  - kInstanceOutstanding{instance=URL, role, group}: requests in flight per engine instance;
//  - kInstanceUp{instance, role, group}: 1 when the instance gets new requests;
//  - kReady: 1 when some group has a usable prefill and decode (or a usable both instance);
//  - kRequests{outcome}: requests by outcome (kOutcomes);
//  - kRetries: requests retried on another instance before their first token;
//  - kTtft / kTbt / kE2e{group}: histograms (vLLM's buckets, common/prometheus_text.h) of the
//    end-to-end time to first token, the time between tokens (per token) and the latency of
//    successful requests, per deployment group.
// Offered load, counted when a request arrives (before any instance is picked, so requests
// refused for want of capacity count too), the service's demand as the scaler sizes it:
//  - kOfferedRequests: requests that arrived (valid JSON bodies);
//  - kOfferedPromptTokens: their prompt tokens; token-id prompts exactly, text prompts as
//    bytes x the tokens-per-byte ratio learned from the prefills' usage.prompt_tokens
//    (kPromptTokensPerByte; kPromptEstimateError is the mean relative error of that
//    estimate over recent text prompts, 0 until one was measured);
//  - kOfferedDecodeTokens: output tokens they will ask of decode: max_tokens scaled by the
//    learned ratio of real output to max_tokens, or the running mean output when absent
//    (nothing before a first output was seen);
//  - kBacklogPromptTokens / kBacklogRequests: gauges of the requests whose prefill has not
//    answered yet (queued or computing at a prefill instance, or being retried).
#pragma once

#include <string_view>

namespace hs::router_metrics {

inline constexpr std::string_view kInstanceOutstanding = "hs_router_instance_outstanding";
inline constexpr std::string_view kInstanceUp = "hs_router_instance_up";
inline constexpr std::string_view kReady = "hs_router_ready";
inline constexpr std::string_view kRequests = "hs_router_requests_total";
inline constexpr std::string_view kRetries = "hs_router_retries_total";
inline constexpr std::string_view kTtft = "hs_router_ttft_seconds";
inline constexpr std::string_view kTbt = "hs_router_tbt_seconds";
inline constexpr std::string_view kE2e = "hs_router_e2e_seconds";
inline constexpr std::string_view kOfferedRequests = "hs_router_offered_requests_total";
inline constexpr std::string_view kOfferedPromptTokens = "hs_router_offered_prompt_tokens_total";
inline constexpr std::string_view kOfferedDecodeTokens = "hs_router_offered_decode_tokens_total";
inline constexpr std::string_view kBacklogPromptTokens = "hs_router_backlog_prompt_tokens";
inline constexpr std::string_view kBacklogRequests = "hs_router_backlog_requests";
inline constexpr std::string_view kPromptTokensPerByte = "hs_router_prompt_tokens_per_byte";
inline constexpr std::string_view kPromptEstimateError = "hs_router_prompt_estimate_error";

inline constexpr std::string_view kLabelInstance = "instance";
inline constexpr std::string_view kLabelRole = "role";
inline constexpr std::string_view kLabelGroup = "group";
inline constexpr std::string_view kLabelOutcome = "outcome";

inline constexpr std::string_view kOutcomeOk = "ok";
inline constexpr std::string_view kOutcomeClientError = "client_error";
inline constexpr std::string_view kOutcomeFailed = "failed";
inline constexpr std::string_view kOutcomeClientGone = "client_gone";
inline constexpr std::string_view kOutcomes[] = {kOutcomeOk, kOutcomeClientError, kOutcomeFailed,
                                                 kOutcomeClientGone};

}  // namespace hs::router_metrics
