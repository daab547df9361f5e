#include "hs/common/quantiles.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace hs {

namespace {
constexpr double kTiny = 1e-9;  // below a nanosecond a latency is zero
}

Quantiles::Quantiles(size_t exact_cap)
    : cap_(exact_cap), log_gamma_(std::log((1 + kRelativeError) / (1 - kRelativeError))) {}

void Quantiles::add(double v) {
  ++n_;
  if (exact_) {
    if (values_.size() < cap_) {
      values_.push_back(v);
    } else {
      exact_ = false;
      std::vector<double>().swap(values_);
    }
  }
  if (v <= kTiny) {
    ++zeros_;
    return;
  }
  auto i = static_cast<int32_t>(std::ceil(std::log(v) / log_gamma_));
  if (counts_.empty()) offset_ = -i;
  if (i + offset_ < 0) {
    counts_.insert(counts_.begin(), static_cast<size_t>(-(i + offset_)), 0);
    offset_ = -i;
  }
  auto k = static_cast<size_t>(i + offset_);
  if (k >= counts_.size()) counts_.resize(k + 1, 0);
  ++counts_[k];
}

double Quantiles::quantile(double p) {
  if (n_ == 0) return 0;
  auto rank = static_cast<uint64_t>(p * static_cast<double>(n_ - 1));
  if (exact_) {
    auto k = static_cast<long>(rank);
    std::nth_element(values_.begin(), values_.begin() + k, values_.end());
    return values_[static_cast<size_t>(k)];
  }
  if (rank < zeros_) return 0;
  uint64_t seen = zeros_;
  for (size_t k = 0; k < counts_.size(); ++k) {
    seen += counts_[k];
    if (seen > rank) {
      // The point of the bucket equally far, relatively, from both of its ends.
      double upper = std::exp(static_cast<double>(static_cast<int32_t>(k) - offset_) * log_gamma_);
      return 2 * upper / (1 + std::exp(log_gamma_));
    }
  }
  return 0;  // not reached: the counts add up to n_
}

double Quantiles::interpolated(double p) {
  if (n_ == 0) return NAN;
  if (!exact_) return quantile(p);
  double pos = p * static_cast<double>(n_ - 1);
  auto lo = static_cast<size_t>(pos);
  size_t hi = std::min<size_t>(lo + 1, values_.size() - 1);
  std::nth_element(values_.begin(), values_.begin() + static_cast<long>(lo), values_.end());
  double a = values_[lo];
  // The next order statistic is the smallest value above rank lo.
  double b =
      hi == lo ? a : *std::min_element(values_.begin() + static_cast<long>(hi), values_.end());
  return a + (b - a) * (pos - static_cast<double>(lo));
}

}  // namespace hs
