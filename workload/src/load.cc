#include "hs/workload/load.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "hs/workload/servegen.h"

namespace hs::workload {

Result<LoadedRequests> load_requests(const std::string& path, const LoadOptions& o) {
  if (!(o.rate_scale > 0)) return invalid_argument("rate scale must be positive", "--rate-scale");
  if (o.start_s < 0 || o.duration_s < 0)
    return invalid_argument("start and duration must not be negative");
  auto f = detect_format(path);
  if (!f.ok()) return f.error();
  LoadedRequests out;
  out.format = *f;
  if (*f == TraceFormat::kServeGenDir) {
    auto cat = read_servegen(path);
    if (!cat.ok()) return cat.error();
    ComposeOptions c;
    c.start_s = o.start_s;
    c.duration_s = o.duration_s > 0 ? o.duration_s : cat->span_s - o.start_s;
    c.rate_scale = o.rate_scale;
    c.seed = o.seed;
    ComposeReport rep;
    auto reqs = compose(*cat, c, &rep);
    if (!reqs.ok()) return reqs.error();
    out.requests = std::move(*reqs);
    out.requests_with_pooled_lengths = rep.requests_with_pooled_lengths;
    return out;
  }
  auto t = read_trace(path);
  if (!t.ok()) return t.error();
  // Rate scaling keeps the trace's duration: whole copies, plus a seeded share for the rest,
  // each copy shifted by a small deterministic offset so copies do not arrive together.
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> u(0, 1);
  for (const auto& r : t->requests) {
    if (r.arrival_s < o.start_s) continue;
    if (o.duration_s > 0 && r.arrival_s >= o.start_s + o.duration_s) break;
    double copies = o.rate_scale;
    int n = static_cast<int>(copies) + (u(rng) < copies - std::floor(copies) ? 1 : 0);
    for (int k = 0; k < n; ++k) {
      Request x = r;
      x.arrival_s += k * 0.137 - o.start_s;
      out.requests.push_back(std::move(x));
    }
  }
  std::stable_sort(out.requests.begin(), out.requests.end(),
                   [](const Request& a, const Request& b) { return a.arrival_s < b.arrival_s; });
  for (size_t i = 0; i < out.requests.size(); ++i) out.requests[i].id = i;
  return out;
}

}  // namespace hs::workload
