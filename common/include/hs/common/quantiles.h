// Percentiles of a stream of latencies in bounded memory (hs-sim's totals, hs-loadgen's). Values
// are kept exactly up to a cap (a day of a large fleet fits), so the percentiles of every run that
// fits are the exact order statistics; past the cap the exact values are dropped and a log-bucketed
// sketch (the DDSketch construction: bucket i holds (g^(i-1), g^i], g = (1+a)/(1-a)) answers
// with a relative error of at most a. The sketch is fed from the first value on, so the
// switch loses nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hs {

class Quantiles {
 public:
  static constexpr size_t kDefaultExactCap = size_t{1} << 24;  // 128 MiB of doubles
  static constexpr double kRelativeError = 0.005;

  explicit Quantiles(size_t exact_cap = kDefaultExactCap);
  void add(double v);
  // The value of rank floor(p x (n - 1)) in ascending order (0 when empty): exact while
  // exact(), else within kRelativeError of it.
  double quantile(double p);
  // Linear interpolation between the ranks around p x (n - 1), as numpy.percentile (and so
  // vLLM's benchmarks) computes it, while exact(); the sketch's quantile(p) after. NaN when
  // empty.
  double interpolated(double p);
  bool exact() const { return exact_; }
  uint64_t count() const { return n_; }

 private:
  size_t cap_;
  bool exact_ = true;
  uint64_t n_ = 0;
  std::vector<double> values_;
  uint64_t zeros_ = 0;            // values <= kTiny
  std::vector<uint64_t> counts_;  // bucket i + offset_
  int32_t offset_ = 0;
  double log_gamma_;
};

}  // namespace hs
