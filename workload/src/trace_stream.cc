// Trace files as streams: rows read a line at a time, put in arrival order by a bounded
// reorder buffer, then scaled (copies) and cut to the span, exactly as load_requests() did
// on the whole sorted vector: same random draws in the same order, same arithmetic, and a
// heap keyed by (arrival, insertion order) in place of the stable sort.
#include "trace_stream.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <queue>

#include "hs/common/text.h"

namespace hs::workload {

namespace {

struct Keyed {
  double arrival;
  uint64_t seq;
  Request r;
};
struct Later {
  bool operator()(const Keyed& a, const Keyed& b) const {
    return a.arrival > b.arrival || (a.arrival == b.arrival && a.seq > b.seq);
  }
};
using Heap = std::priority_queue<Keyed, std::vector<Keyed>, Later>;

struct FileCloser {
  void operator()(FILE* f) const {
    if (f) std::fclose(f);
  }
};

// Rows of one trace file in arrival order, arrivals relative to the earliest row.
class TraceRows final : public RequestStream {
 public:
  TraceRows(std::string path, TraceFormat format, size_t reorder)
      : path_(std::move(path)), format_(format), reorder_(std::max<size_t>(1, reorder)) {
    report_.format = format;
  }

  bool next(Request& out) override {
    if (error_) return false;
    if (!file_) {
      file_.reset(std::fopen(path_.c_str(), "r"));
      if (!file_) return fail(not_found("cannot open the trace", path_));
    }
    while (!eof_ && heap_.size() < reorder_) read_row();
    if (error_ || heap_.empty()) {
      if (!error_ && rows_ == 0)
        return fail(invalid_argument(format_ == TraceFormat::kAzureCsv
                                         ? "empty file, expected an Azure LLM trace"
                                         : "empty file, expected Mooncake JSONL",
                                     path_));
      return false;
    }
    Keyed k = heap_.top();
    heap_.pop();
    if (!started_) {
      t0_ = k.arrival;
      started_ = true;
    }
    emitted_ = k.arrival;
    out = std::move(k.r);
    out.arrival_s = k.arrival - t0_;
    ++report_.requests;
    return true;
  }

 private:
  bool fail(Error e) {
    error_ = std::move(e);
    return false;
  }

  void read_row() {
    char* line = nullptr;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, file_.get());
    std::unique_ptr<char, decltype(&std::free)> guard(line, std::free);
    if (n < 0) {
      eof_ = true;
      return;
    }
    ++lineno_;
    std::string_view text = trim(std::string_view(line, static_cast<size_t>(n)));
    if (text.empty()) return;
    std::string where = path_ + ":" + std::to_string(lineno_);
    if (format_ == TraceFormat::kAzureCsv && !header_seen_) {
      header_seen_ = true;
      if (!is_azure_header(text))
        fail(invalid_argument(
            "not an Azure LLM trace: expected the header TIMESTAMP,ContextTokens,GeneratedTokens, "
            "got " +
                quote(text),
            where));
      return;
    }
    auto r = format_ == TraceFormat::kAzureCsv ? parse_azure_row(text) : parse_mooncake_row(text);
    if (!r.ok()) {
      fail(invalid_argument(r.error().message, where));
      return;
    }
    if (started_ && r->arrival_s < emitted_) {
      fail(
          invalid_argument("arrival earlier than rows already replayed: the trace is out of "
                           "arrival order by more than " +
                               std::to_string(reorder_) + " rows",
                           where));
      return;
    }
    ++rows_;
    double a = r->arrival_s;
    heap_.push({a, seq_++, std::move(*r)});
  }

  std::string path_;
  TraceFormat format_;
  size_t reorder_;
  std::unique_ptr<FILE, FileCloser> file_;
  Heap heap_;
  uint64_t seq_ = 0, rows_ = 0;
  size_t lineno_ = 0;
  bool eof_ = false, header_seen_ = false, started_ = false;
  double t0_ = 0, emitted_ = 0;
};

// The span [start, start + duration) of a row stream, with rate scaling by seeded copies:
// each row gives floor(scale) copies plus one more with probability frac(scale), copy k
// shifted by k x 0.137 s so that copies do not arrive together.
class ScaledTrace final : public RequestStream {
 public:
  ScaledTrace(std::unique_ptr<RequestStream> rows, const LoadOptions& o)
      : rows_(std::move(rows)), o_(o), rng_(o.seed) {
    report_ = rows_->report();
  }

  bool next(Request& out) override {
    for (;;) {
      // Later rows arrive no earlier than the last one read, and so do their copies: what
      // the heap holds at or below that arrival is final (ties go in insertion order).
      if (!heap_.empty() && (done_ || heap_.top().arrival <= last_base_)) {
        Keyed k = heap_.top();
        heap_.pop();
        out = std::move(k.r);
        out.arrival_s = k.arrival;
        out.id = next_id_++;
        report_.requests = next_id_;
        return true;
      }
      if (done_) {
        if (rows_->error()) error_ = rows_->error();
        return false;
      }
      Request r;
      if (!rows_->next(r)) {
        done_ = true;
        continue;
      }
      if (r.arrival_s < o_.start_s) continue;
      if (o_.duration_s > 0 && r.arrival_s >= o_.start_s + o_.duration_s) {
        done_ = true;
        continue;
      }
      double copies = o_.rate_scale;
      int n = static_cast<int>(copies) + (u_(rng_) < copies - std::floor(copies) ? 1 : 0);
      for (int k = 0; k < n; ++k) {
        Request x = r;
        x.arrival_s += k * 0.137 - o_.start_s;
        double a = x.arrival_s;
        heap_.push({a, seq_++, std::move(x)});
      }
      last_base_ = r.arrival_s - o_.start_s;
    }
  }

 private:
  std::unique_ptr<RequestStream> rows_;
  LoadOptions o_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> u_{0, 1};
  Heap heap_;
  uint64_t seq_ = 0, next_id_ = 0;
  double last_base_ = 0;
  bool done_ = false;
};

}  // namespace

std::unique_ptr<RequestStream> open_trace_stream(const std::string& path, TraceFormat format,
                                                 const LoadOptions& o) {
  auto rows = std::make_unique<TraceRows>(path, format, o.reorder_rows);
  return std::make_unique<ScaledTrace>(std::move(rows), o);
}

bool VectorStream::next(Request& out) {
  if (pos_ >= requests_.size()) return false;
  out = requests_[pos_++];
  ++report_.requests;
  return true;
}

}  // namespace hs::workload
