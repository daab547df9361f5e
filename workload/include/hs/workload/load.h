// One way for every tool (hs-sim, hs-loadgen) to turn a trace path into the request stream:
// a trace file (Azure CSV, Mooncake JSONL) or a ServeGen category folder composed into requests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/workload/request.h"
#include "hs/workload/stream.h"
#include "hs/workload/trace.h"

namespace hs::workload {

struct LoadOptions {
  double start_s = 0;     // skip the trace's first seconds; arrivals are shifted to start at 0
  double duration_s = 0;  // 0: to the end
  double rate_scale =
      1;  // > 1 adds seeded copies of requests (trace files) or scales rates (ServeGen)
  uint64_t seed = 1;
  // ServeGen: a category folder whose pooled length distributions (per 6 h window) serve the
  // clients that have none (m-mid ships traces only). Empty: the category's own pool.
  std::string lengths_from;
  // Trace files: rows may be out of arrival order by at most this many rows.
  size_t reorder_rows = 1 << 16;
};

// A workload read and checked once and replayed many times (hs-sim runs a calibration pass,
// the oracle and every policy on the same requests): a ServeGen category's files are parsed
// once and shared by its streams; each stream() starts again from the first request and
// gives the same sequence.
class Workload {
 public:
  // Errors in the options or the source's structure come back here; a bad trace row found
  // later ends that stream with its error().
  static Result<Workload> open(const std::string& path, const LoadOptions& o);
  Result<std::unique_ptr<RequestStream>> stream() const;
  TraceFormat format() const { return format_; }
  const std::string& path() const { return path_; }

 private:
  struct ServeGen;
  std::string path_;
  LoadOptions options_;
  TraceFormat format_ = TraceFormat::kAzureCsv;
  std::shared_ptr<const ServeGen> servegen_;
};

// Opens the stream of requests in arrival order (Workload::open(...).stream()).
Result<std::unique_ptr<RequestStream>> open_requests(const std::string& path, const LoadOptions& o);

struct LoadedRequests {
  std::vector<Request> requests;  // sorted by arrival, ids 0..n-1
  TraceFormat format = TraceFormat::kAzureCsv;
  size_t requests_with_pooled_lengths = 0;  // ServeGen clients without a dataset
  StreamReport report;
};

// The whole stream in memory (small workloads, tests).
Result<LoadedRequests> load_requests(const std::string& path, const LoadOptions& o);

}  // namespace hs::workload
