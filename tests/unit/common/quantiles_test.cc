// Quantiles: exact order statistics up to the cap, the sketch's stated error after it.
#include "hs/common/quantiles.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace hs {
namespace {

TEST(Quantiles, ExactBelowTheCapIsTheOrderStatistic) {
  Quantiles q;
  std::vector<double> v;
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> d(0, 2);
  for (int i = 0; i < 10001; ++i) v.push_back(d(rng)), q.add(v.back());
  std::sort(v.begin(), v.end());
  EXPECT_TRUE(q.exact());
  EXPECT_EQ(q.quantile(0.5), v[5000]);
  EXPECT_EQ(q.quantile(0.99), v[static_cast<size_t>(0.99 * 10000)]);
  EXPECT_EQ(q.quantile(0), v.front());
  EXPECT_EQ(q.quantile(1), v.back());
}

TEST(Quantiles, InterpolatedIsNumpysPercentile) {
  Quantiles q;
  for (double x : {4.0, 1.0, 3.0, 2.0}) q.add(x);
  // numpy.percentile([1, 2, 3, 4], 90) = 3.7
  EXPECT_DOUBLE_EQ(q.interpolated(0.9), 3.7);
  EXPECT_DOUBLE_EQ(q.interpolated(0.5), 2.5);
  Quantiles empty;
  EXPECT_TRUE(std::isnan(empty.interpolated(0.5)));
  EXPECT_EQ(empty.quantile(0.5), 0);
}

TEST(Quantiles, PastTheCapTheSketchIsWithinItsRelativeError) {
  Quantiles q(/*exact_cap=*/1000);
  std::vector<double> v;
  std::mt19937_64 rng(5);
  std::lognormal_distribution<double> d(-3, 1.5);
  for (int i = 0; i < 200000; ++i) {
    double x = i % 50 == 0 ? 0.0 : d(rng);  // zeros (one-token outputs' TBT) too
    v.push_back(x);
    q.add(x);
  }
  EXPECT_FALSE(q.exact());
  std::sort(v.begin(), v.end());
  for (double p : {0.01, 0.5, 0.9, 0.99, 0.999}) {
    double want = v[static_cast<size_t>(p * (v.size() - 1))];
    double got = q.quantile(p);
    if (want == 0)
      EXPECT_EQ(got, 0) << p;
    else
      EXPECT_LE(std::abs(got - want) / want, Quantiles::kRelativeError + 1e-12) << p;
  }
}

}  // namespace
}  // namespace hs
