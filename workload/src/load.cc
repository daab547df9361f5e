#include "hs/workload/load.h"

#include "hs/workload/servegen.h"
#include "trace_stream.h"

namespace hs::workload {

struct Workload::ServeGen {
  std::shared_ptr<const ServeGenCategory> category, lengths_from;
  ComposeOptions compose;
};

Result<Workload> Workload::open(const std::string& path, const LoadOptions& o) {
  if (!(o.rate_scale > 0)) return invalid_argument("rate scale must be positive", "--rate-scale");
  if (o.start_s < 0 || o.duration_s < 0)
    return invalid_argument("start and duration must not be negative");
  auto f = detect_format(path);
  if (!f.ok()) return f.error();
  Workload w;
  w.path_ = path;
  w.options_ = o;
  w.format_ = *f;
  if (*f != TraceFormat::kServeGenDir) {
    if (!o.lengths_from.empty())
      return invalid_argument("only a ServeGen category takes lengths from another",
                              "--lengths-from");
    return w;
  }
  auto cat = read_servegen(path);
  if (!cat.ok()) return cat.error();
  auto sg = std::make_shared<ServeGen>();
  if (!o.lengths_from.empty()) {
    auto l = read_servegen(o.lengths_from);
    if (!l.ok()) return l.error().with_context("--lengths-from");
    sg->lengths_from = std::make_shared<const ServeGenCategory>(std::move(*l));
  }
  sg->compose.start_s = o.start_s;
  sg->compose.duration_s = o.duration_s > 0 ? o.duration_s : cat->span_s - o.start_s;
  sg->compose.rate_scale = o.rate_scale;
  sg->compose.seed = o.seed;
  sg->category = std::make_shared<const ServeGenCategory>(std::move(*cat));
  w.servegen_ = std::move(sg);
  // Structural errors (nothing to pool from) show at open, not at the first replay.
  auto first = w.stream();
  if (!first.ok()) return first.error();
  return w;
}

Result<std::unique_ptr<RequestStream>> Workload::stream() const {
  if (!servegen_) return open_trace_stream(path_, format_, options_);
  return compose_stream(servegen_->category, servegen_->compose, servegen_->lengths_from);
}

Result<std::unique_ptr<RequestStream>> open_requests(const std::string& path,
                                                     const LoadOptions& o) {
  auto w = Workload::open(path, o);
  if (!w.ok()) return w.error();
  return w->stream();
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
