// Alibaba ServeGen per-client series (one chunk-<i>-trace.csv per API client: a row per 600 s
// window with the mean rate, the inter-arrival CV and a fitted Weibull/Gamma) and per-client
// length PMFs per 6 h window (chunk-<i>-dataset.json[.gz]), and a composer that turns them
// into a seeded request stream with the real diurnal shape.
//
// Every category's datasets are read (alibaba/ServeGen @ f891d118, servegen/construct.py
// _sample_data_batch says what the fields mean):
//  - language: input_tokens, output_tokens;
//  - reason (deepseek-r1): also reason_ratio, a PMF over [0, 1]: the reasoning share of
//    output_tokens (reasoning tokens are decode tokens like the rest: the output is not
//    lengthened, the share is reported);
//  - multimodal (mm-image): text_tokens, image_count and image_tokens (per image), the same for
//    audio and video, output_tokens: the prompt is text + the tokens of each image, audio and
//    video item, each item drawn from its PMF, as ServeGen's construct does. (ServeGen draws
//    every field of a request with one shared uniform; here each field has its own draw, as
//    the language composition has always done.)
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/workload/request.h"
#include "hs/workload/stream.h"
#include "hs/workload/trace.h"

namespace hs::workload {

struct RateWindow {
  double start_s = 0;
  double rate = 0;  // mean requests/s in the window (ServeGen: a relative weight)
  double cv = 0;
  enum class Dist { kNone, kWeibull, kGamma } dist = Dist::kNone;
  double shape = 0, scale = 0;
};

// A discrete distribution of token counts.
struct Pmf {
  std::vector<uint32_t> values;
  std::vector<double> probs;  // same length, summing to ~1
  double mean() const;
};

struct LengthWindow {
  double start_s = 0;  // 6 h windows
  Pmf input, output;   // language and reason; multimodal: output only
  // Multimodal: the prompt's text, and per item of each kind its count and tokens.
  bool multimodal = false;
  Pmf text, image_count, image, audio_count, audio, video_count, video;
  // Reason: the reasoning share of the output, a PMF over fractions in [0, 1].
  std::vector<double> reason_values, reason_probs;
  bool empty() const;  // an idle client's window: no request can be drawn from it
};

struct ServeGenClient {
  std::string id;  // "chunk-12"
  std::vector<RateWindow> rates;
  std::vector<LengthWindow> lengths;  // empty when the client's dataset file is absent
};

struct ServeGenCategory {
  std::string source;
  std::vector<ServeGenClient> clients;
  size_t clients_without_lengths = 0;
  double span_s = 0;  // end of the last rate window
};

// Reads every chunk-*-trace.csv in `dir` and the matching dataset JSON (plain or .gz).
// Errors name file:line (CSV) or file and key (JSON).
Result<ServeGenCategory> read_servegen(const std::string& dir);

// Parses ServeGen's PMF strings, Python dict literals "{224: 0.0003, 225: 0.0007}".
Result<Pmf> parse_python_pmf(std::string_view text);
// The same with fractional keys ("{0.0: 0.1, 0.5: 0.9}"), for reason_ratio.
Result<std::pair<std::vector<double>, std::vector<double>>> parse_python_ratio_pmf(
    std::string_view text);

struct ComposeOptions {
  double start_s = 0;
  double duration_s = 86400;
  double rate_scale = 1.0;  // multiply every client's rate
  uint64_t seed = 1;
  // Lengths for clients without a dataset (and any window without a PMF): the pooled PMF of
  // all clients in that window (true), or skip those clients' requests (false). Either way
  // the count is reported.
  bool pooled_lengths_for_missing = true;
};

struct ComposeReport {
  size_t requests = 0;
  size_t requests_with_pooled_lengths = 0;
  size_t clients = 0;
};

// Arrivals: in each 600 s window, inter-arrival gaps drawn from the window's fitted
// distribution (its shape, so its burstiness), rescaled to the window's mean rate x
// rate_scale. Lengths: the client's PMF for the 6 h window containing the arrival; clients
// without one take the pooled PMF of the window (of `lengths_from` when given, else of the
// category's own clients). Deterministic for a seed: each client has its own seeded
// generator, and the stream is their k-way merge in arrival order (arrival 0 = start_s).
Result<std::unique_ptr<RequestStream>> compose_stream(
    std::shared_ptr<const ServeGenCategory> cat, const ComposeOptions& o,
    std::shared_ptr<const ServeGenCategory> lengths_from = nullptr);
// The whole stream in memory.
Result<std::vector<Request>> compose(const ServeGenCategory& cat, const ComposeOptions& o,
                                     ComposeReport* report);

}  // namespace hs::workload
