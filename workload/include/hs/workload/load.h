// One way for every tool (hs-sim, hs-loadgen) to turn a trace path into the request stream:
// a trace file (Azure CSV, Mooncake JSONL) or a ServeGen category folder composed into requests.
#pragma once

#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/workload/request.h"
#include "hs/workload/trace.h"

namespace hs::workload {

struct LoadOptions {
  double start_s = 0;     // skip the trace's first seconds; arrivals are shifted to start at 0
  double duration_s = 0;  // 0: to the end
  double rate_scale =
      1;  // > 1 adds seeded copies of requests (trace files) or scales rates (ServeGen)
  uint64_t seed = 1;
};

struct LoadedRequests {
  std::vector<Request> requests;  // sorted by arrival, ids 0..n-1
  TraceFormat format = TraceFormat::kAzureCsv;
  size_t requests_with_pooled_lengths = 0;  // ServeGen clients without a dataset
};

Result<LoadedRequests> load_requests(const std::string& path, const LoadOptions& o);

}  // namespace hs::workload
