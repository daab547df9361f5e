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
