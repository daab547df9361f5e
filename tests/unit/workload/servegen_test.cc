#include "hs/workload/servegen.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

namespace hs::workload {
namespace {

const std::string kMini = std::string(HS_TEST_DATA_DIR) + "/servegen-mini";

TEST(ServeGen, PythonPmfLiterals) {
  auto p = parse_python_pmf("{224: 0.25, 225: 0.75}");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->values, (std::vector<uint32_t>{224, 225}));
  EXPECT_DOUBLE_EQ(p->mean(), 224.75);
  EXPECT_TRUE(parse_python_pmf("{}")->values.empty());
  for (const char* bad : {"", "[1]", "{1 0.5}", "{a: 0.5}", "{1: -0.5}", "{1: x}"})
    EXPECT_FALSE(parse_python_pmf(bad).ok()) << bad;
}

TEST(ServeGen, ReadsRatesAndGzipOrPlainLengths) {
  auto c = read_servegen(kMini);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  ASSERT_EQ(c->clients.size(), 3u);
  EXPECT_EQ(c->clients[0].id, "chunk-0");
  EXPECT_EQ(c->clients[0].rates.size(), 18u);
  EXPECT_EQ(c->clients[0].rates[0].dist, RateWindow::Dist::kWeibull);
  EXPECT_NEAR(c->clients[0].rates[0].rate, 1.3316666666666668, 1e-12);
  EXPECT_EQ(c->clients[0].lengths.size(), 1u);  // from the .gz
  EXPECT_EQ(c->clients[1].lengths.size(), 1u);  // from plain JSON
  EXPECT_EQ(c->clients_without_lengths, 1u);
  EXPECT_DOUBLE_EQ(c->span_s, 18 * 600.0);
  EXPECT_EQ(read_servegen("/nonexistent").error().code, ErrorCode::kNotFound);
}

TEST(ServeGen, ComposeIsSeededAndFollowsRatesAndLengths) {
  auto c = read_servegen(kMini);
  ASSERT_TRUE(c.ok());
  ComposeOptions o;
  o.duration_s = 18 * 600;
  o.rate_scale = 4;
  ComposeReport rep;
  auto a = compose(*c, o, &rep);
  auto b = compose(*c, o, nullptr);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), b->size());
  for (size_t i = 0; i < a->size(); i += 97) EXPECT_EQ((*a)[i].arrival_s, (*b)[i].arrival_s);
  double expected = 0;
  for (const auto& cl : c->clients)
    for (const auto& w : cl.rates) expected += w.rate * 600 * o.rate_scale;
  EXPECT_NEAR(static_cast<double>(a->size()), expected, 0.1 * expected)
      << "arrivals follow the windows' rates";
  EXPECT_GT(rep.requests_with_pooled_lengths, 0u);  // chunk-5 has no dataset
  double in = 0;
  size_t n = 0;
  for (const auto& r : *a) {
    if (r.arrival_s < 0 || r.arrival_s >= o.duration_s) ADD_FAILURE() << r.arrival_s;
    in += r.prompt_tokens;
    ++n;
  }
  double pmf_mean = c->clients[0].lengths[0].input.mean();
  EXPECT_GT(in / n, 0.3 * pmf_mean);
  EXPECT_LT(in / n, 3 * pmf_mean);
  o.seed = 2;
  auto d = compose(*c, o, nullptr);
  EXPECT_NE(d->front().arrival_s, a->front().arrival_s) << "another seed, another stream";
}

}  // namespace
}  // namespace hs::workload
