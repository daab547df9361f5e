// hs-loadgen: replays a trace open-loop against an OpenAI-compatible endpoint, in the spirit of
// vLLM's benchmark_serving. Each request is sent at its trace arrival time (divided by
// time_scale) whether or not earlier ones finished; prompts are token-id arrays of the trace's
// length, sharing prefixes where Mooncake's hash_ids say so (one id per 512-token block); the
// output length is forced with max_tokens, min_tokens and ignore_eos; token counts come from
// the stream's usage event, not from counting chunks.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/workload/request.h"

namespace hs::router {

struct LoadgenOptions {
  std::string url;    // "http://host:port" (the /v1/completions path is appended)
  std::string model;  // empty: the endpoint's default
  double time_scale = 1;
  double timeout_s = 600;
};

enum class Outcome { kOk, kTooLong, kRejected, kFailed };
std::string_view to_string(Outcome o);

struct RequestRecord {
  std::string request_id;  // sent as x-request-id
  double send_s = 0;       // wall seconds since the replay started
  double ttft_s = -1, tbt_mean_s = -1, tbt_max_s = -1, e2e_s = -1;
  uint32_t prompt_tokens = 0;  // from the trace
  uint32_t wanted_tokens = 0;  // from the trace
  uint32_t output_tokens = 0;  // from usage
  int status = 0;              // HTTP status, 0 when none came
  Outcome outcome = Outcome::kFailed;
  std::string error;
};

// The token ids of a request's prompt. Equal hash_ids give equal 512-token blocks.
std::vector<uint32_t> prompt_token_ids(const workload::Request& r);

using LoadgenProgress = std::function<void(size_t sent, size_t done, size_t failed)>;
// Runs the replay; records are in trace order.
Result<std::vector<RequestRecord>> replay(const LoadgenOptions& o,
                                          const std::vector<workload::Request>& requests,
                                          const LoadgenProgress& progress = {});

struct LoadgenSlo {
  double ttft_s = 2;
  double tbt_s = 0.1;  // applies to a request's mean TBT
};
// Percentiles, counts and goodput as JSON text.
std::string summarize(const std::vector<RequestRecord>& records, const LoadgenSlo& slo,
                      double wall_s);
std::string records_csv(const std::vector<RequestRecord>& records);

}  // namespace hs::router
