// hs-loadgen: replays a trace open-loop against an OpenAI-compatible endpoint, in the spirit of
// vLLM's benchmark_serving. Each request is sent at its trace arrival time (divided by
// time_scale) whether or not earlier ones finished; prompts are token-id arrays of the trace's
// length, sharing prefixes where Mooncake's hash_ids say so (one id per 512-token block); the
// output length is forced with max_tokens, min_tokens and ignore_eos; token counts come from
// the stream's usage event, not from counting chunks.
//
// It holds only what is in flight: requests are read from the workload stream as their time
// comes, each finished request's record goes to a sink at once (requests.csv is written as
// the replay goes) and the summary keeps counts and bounded percentiles.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/common/quantiles.h"
#include "hs/workload/request.h"
#include "hs/workload/stream.h"

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
// Receives each record as its request finishes (completion order), one call at a time.
using RecordSink = std::function<void(const RequestRecord&)>;
// Runs the replay to the end of the stream and until every request sent has finished.
// Returns how many were sent; a stream error (a bad trace row) stops sending, waits for
// those in flight and is returned.
Result<size_t> replay(const LoadgenOptions& o, workload::RequestStream& requests,
                      const RecordSink& sink, const LoadgenProgress& progress = {});

struct LoadgenSlo {
  double ttft_s = 2;
  double tbt_s = 0.1;  // applies to a request's mean TBT
};

// Counts, percentiles (numpy's interpolation, exact up to Quantiles' cap) and goodput.
class LoadgenSummary {
 public:
  void add(const RequestRecord& r, const LoadgenSlo& slo);
  std::string json(const LoadgenSlo& slo, double wall_s);  // JSON text
  size_t requests() const { return requests_; }
  size_t ok() const { return ok_; }

 private:
  size_t requests_ = 0, ok_ = 0;
  std::map<std::string, size_t> outcomes_;
  uint64_t out_tokens_ = 0, good_ = 0;
  Quantiles ttft_, tbt_, e2e_;
};
// Convenience for a vector of records (tests).
std::string summarize(const std::vector<RequestRecord>& records, const LoadgenSlo& slo,
                      double wall_s);
// requests.csv: a header, then one line per record.
std::string records_csv_header();
std::string record_csv_line(const RequestRecord& r);

}  // namespace hs::router
