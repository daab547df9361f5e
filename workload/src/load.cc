#include "hs/workload/load.h"

#include "hs/workload/servegen.h"
#include "trace_stream.h"

namespace hs::workload {

Result<std::unique_ptr<RequestStream>> open_requests(const std::string& path,
                                                     const LoadOptions& o) {
  if (!(o.rate_scale > 0)) return invalid_argument("rate scale must be positive", "--rate-scale");
  if (o.start_s < 0 || o.duration_s < 0)
    return invalid_argument("start and duration must not be negative");
  auto f = detect_format(path);
  if (!f.ok()) return f.error();
  if (*f != TraceFormat::kServeGenDir) {
    if (!o.lengths_from.empty())
      return invalid_argument("only a ServeGen category takes lengths from another",
                              "--lengths-from");
    return open_trace_stream(path, *f, o);
  }
  auto cat = read_servegen(path);
  if (!cat.ok()) return cat.error();
  std::optional<ServeGenCategory> lengths;
  if (!o.lengths_from.empty()) {
    auto l = read_servegen(o.lengths_from);
    if (!l.ok()) return l.error().with_context("--lengths-from");
    lengths = std::move(*l);
  }
  ComposeOptions c;
  c.start_s = o.start_s;
  c.duration_s = o.duration_s > 0 ? o.duration_s : cat->span_s - o.start_s;
  c.rate_scale = o.rate_scale;
  c.seed = o.seed;
  return compose_stream(std::move(*cat), c, std::move(lengths));
}

Result<LoadedRequests> load_requests(const std::string& path, const LoadOptions& o) {
  auto s = open_requests(path, o);
  if (!s.ok()) return s.error();
  LoadedRequests out;
  Request r;
  while ((*s)->next(r)) out.requests.push_back(std::move(r));
  if ((*s)->error()) return *(*s)->error();
  out.report = (*s)->report();
  out.format = out.report.format;
  out.requests_with_pooled_lengths = out.report.requests_with_pooled_lengths;
  return out;
}

}  // namespace hs::workload
