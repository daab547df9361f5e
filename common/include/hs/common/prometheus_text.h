// The Prometheus text exposition format (version 0.0.4), written and read by hand: engines
// and the router write it on /metrics, the scaler reads it. The parser is strict and says
// where (line and column) a scrape is malformed, so a broken exporter is named, not guessed.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hs/common/error.h"

namespace hs::prom {

using Labels = std::vector<std::pair<std::string, std::string>>;  // in written order

struct Sample {
  std::string name;  // full sample name ("vllm:generation_tokens_total", "x_bucket")
  Labels labels;
  double value = 0;  // NaN, +Inf and -Inf allowed
  std::optional<int64_t> timestamp_ms;
  size_t line = 0;

  // The value of label `key`, or nullptr.
  const std::string* label(std::string_view key) const;
};

enum class MetricType { kUntyped, kCounter, kGauge, kHistogram, kSummary };
std::string_view to_string(MetricType t);

struct Scrape {
  std::vector<Sample> samples;
  std::map<std::string, MetricType> types;  // family name -> # TYPE
  std::map<std::string, std::string> help;

  // Samples of `name` whose labels include every pair of `match`.
  std::vector<const Sample*> find(std::string_view name, const Labels& match = {}) const;
  // The sum of those samples' values; NaN when there are none.
  double sum(std::string_view name, const Labels& match = {}) const;
};

// Parses a scrape. Errors are InvalidArgument with where = "name:line:column": bad metric or
// label names, unterminated or badly escaped label values, bad numbers, a TYPE line of an
// unknown type, a TYPE given twice or after the family's samples, duplicate label names.
// At most `max_bytes` are accepted (default 16 MiB).
Result<Scrape> parse(std::string_view text, const std::string& name,
                     size_t max_bytes = size_t{16} << 20);

// Parses only the samples whose full name is in `keep`, as parse() does (a malformed kept
// line is the same error); every other line is skipped once its metric name is read, and
// comments are skipped (types and help stay empty). For a reader that needs a few series of
// a large scrape: the daemon reads 7 of an engine's 100–500 lines from 10,000 engines per
// tick period, and a broken histogram it never reads does not blind it to an engine.
Result<Scrape> parse_only(std::string_view text, const std::string& name,
                          const std::vector<std::string_view>& keep,
                          size_t max_bytes = size_t{16} << 20);

// Writes families. Values are formatted so that parse(write(x)) == x (shortest round-trip
// decimal; "NaN", "+Inf", "-Inf"). Label values are escaped (\\, \", \n).
class Writer {
 public:
  void family(std::string_view name, MetricType type, std::string_view help);
  void sample(std::string_view name, const Labels& labels, double value);
  // A histogram from bucket upper bounds and their cumulative counts (the +Inf bucket is
  // added from `count`), with _sum and _count.
  void histogram(std::string_view name, const Labels& labels,
                 const std::vector<double>& upper_bounds, const std::vector<uint64_t>& cumulative,
                 double sum, uint64_t count);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

// Accumulates observations into fixed buckets for Writer::histogram. Not synchronized.
struct Histogram {
  std::vector<double> bounds;
  std::vector<uint64_t> cumulative;
  double sum = 0;
  uint64_t count = 0;
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v, uint64_t n = 1);  // n observations of the value v
};
// vLLM's buckets (v1/metrics/loggers.py @ 005a810b), so a router's latency histograms can be
// read with the same queries as an engine's.
const std::vector<double>& vllm_ttft_buckets();
const std::vector<double>& vllm_tpot_buckets();
const std::vector<double>& vllm_e2e_buckets();

std::string format_value(double v);
bool valid_metric_name(std::string_view name);  // [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_label_name(std::string_view name);   // [a-zA-Z_][a-zA-Z0-9_]*

}  // namespace hs::prom
