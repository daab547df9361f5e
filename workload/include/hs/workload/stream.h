// Requests as a stream in arrival order, so that a replay holds only what is in flight: two
// weeks of a production fleet (hundreds of millions of requests) replay in bounded memory.
// Every source streams: trace files are read a row at a time (a bounded reorder buffer
// tolerates rows slightly out of order), ServeGen categories are composed client by client
// and merged (a k-way merge of per-client generators). For a given seed the stream is the
// same sequence the vector-building functions give (load_requests drains it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/workload/request.h"
#include "hs/workload/trace.h"

namespace hs::workload {

// What a stream told about its source, complete once it has ended.
struct StreamReport {
  TraceFormat format = TraceFormat::kAzureCsv;
  uint64_t requests = 0;
  uint64_t requests_with_pooled_lengths = 0;  // ServeGen clients without a dataset
  std::string lengths_source;                 // where pooled lengths came from (ServeGen)
  uint64_t reasoning_tokens = 0;              // reasoning share of output tokens (deepseek-r1)
  uint64_t multimodal_tokens = 0;             // image/audio/video tokens in prompts (mm-*)
  uint64_t clients_with_requests = 0;         // ServeGen clients that sent any
};

class RequestStream {
 public:
  virtual ~RequestStream() = default;
  // The next request in arrival order (ids 0, 1, ... in that order): true and `out` filled,
  // or false at the end or on an error (error() then says which, naming file:line).
  virtual bool next(Request& out) = 0;
  const std::optional<Error>& error() const { return error_; }
  // Counts so far; complete once next() has returned false.
  const StreamReport& report() const { return report_; }

 protected:
  std::optional<Error> error_;
  StreamReport report_;
};

// A vector already in arrival order, streamed (tests, small tools).
class VectorStream final : public RequestStream {
 public:
  explicit VectorStream(std::vector<Request> requests) : requests_(std::move(requests)) {}
  bool next(Request& out) override;

 private:
  std::vector<Request> requests_;
  size_t pos_ = 0;
};

}  // namespace hs::workload
