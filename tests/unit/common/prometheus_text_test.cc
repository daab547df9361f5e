#include "hs/common/prometheus_text.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace hs::prom {
namespace {

// A vLLM-shaped scrape (names from shared/data/metrics, vLLM v0.6-0.8).
const char* kVllm = R"(# HELP vllm:num_requests_running Number of requests currently running on GPU.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="llama"} 12.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="llama"} 3.0
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{model_name="llama"} 123456.0
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{le="0.1",model_name="llama"} 5.0
vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="llama"} 9.0
vllm:time_to_first_token_seconds_sum{model_name="llama"} 2.5
vllm:time_to_first_token_seconds_count{model_name="llama"} 9.0
weird_but_legal{a="x\"y\\z\nw",b=""} NaN 1700000000000
)";

TEST(PrometheusText, ParsesVllmShapes) {
  auto s = parse(kVllm, "scrape");
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->types.at("vllm:generation_tokens_total"), MetricType::kCounter);
  EXPECT_EQ(s->types.at("vllm:time_to_first_token_seconds"), MetricType::kHistogram);
  EXPECT_DOUBLE_EQ(s->sum("vllm:num_requests_waiting"), 3.0);
  EXPECT_DOUBLE_EQ(s->sum("vllm:generation_tokens_total", {{"model_name", "llama"}}), 123456.0);
  EXPECT_TRUE(std::isnan(s->sum("vllm:generation_tokens_total", {{"model_name", "other"}})));
  auto inf = s->find("vllm:time_to_first_token_seconds_bucket", {{"le", "+Inf"}});
  ASSERT_EQ(inf.size(), 1u);
  EXPECT_EQ(inf[0]->value, 9.0);
  auto w = s->find("weird_but_legal");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(*w[0]->label("a"), "x\"y\\z\nw");
  EXPECT_TRUE(std::isnan(w[0]->value));
  EXPECT_EQ(*w[0]->timestamp_ms, 1700000000000);
  EXPECT_EQ(s->help.at("vllm:num_requests_running"),
            "Number of requests currently running on GPU.");
}

TEST(PrometheusText, RejectsWithLineAndColumn) {
  struct Case {
    const char* text;
    const char* where;
    const char* says;
  } cases[] = {
      {"9bad 1\n", "m:1:1", "bad metric name"},
      {"ok 1\nx{a=\"b} 1\n", "m:2:", "unterminated label value"},
      {"x{a=b} 1\n", "m:1:5", "label value must be quoted"},
      {"x{1a=\"b\"} 1\n", "m:1:3", "bad label name"},
      {"x{a=\"b\",a=\"c\"} 1\n", "m:1:", "label \"a\" given twice"},
      {"x{a=\"\\t\"} 1\n", "m:1:", "bad escape"},
      {"x 1.2.3\n", "m:1:", "bad sample value"},
      {"x\n", "m:1:", "has no value"},
      {"x 1 2 3\n", "m:1:", "unexpected text"},
      {"x 1 soon\n", "m:1:", "bad timestamp"},
      {"# TYPE x flux\n", "m:1:1", "unknown metric type"},
      {"# TYPE x gauge\n# TYPE x gauge\n", "m:2:", "given twice"},
      {"x 1\n# TYPE x gauge\n", "m:2:", "after its samples"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.text, "m");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.error().where.find(c.where), std::string::npos)
        << c.text << " -> " << r.error().to_string();
    EXPECT_NE(r.error().message.find(c.says), std::string::npos)
        << c.text << " -> " << r.error().to_string();
  }
  EXPECT_FALSE(parse(std::string(100, 'x'), "m", 10).ok());
}

TEST(PrometheusText, WriterRoundTrips) {
  Writer w;
  w.family("hs_router_requests_total", MetricType::kCounter, "Requests.\nTwo lines.");
  w.sample("hs_router_requests_total", {{"group", "g1"}, {"note", "a\"b"}}, 42);
  w.family("hs_ttft_seconds", MetricType::kHistogram, "TTFT");
  w.histogram("hs_ttft_seconds", {{"group", "g1"}}, {0.1, 0.5}, {3, 7}, 2.75, 9);
  w.family("hs_weird", MetricType::kGauge, "values");
  w.sample("hs_weird", {}, 0.1 + 0.2);
  w.sample("hs_weird", {{"k", "inf"}}, INFINITY);
  auto s = parse(w.text(), "w");
  ASSERT_TRUE(s.ok()) << s.error().to_string() << "\n" << w.text();
  EXPECT_EQ(*s->find("hs_router_requests_total")[0]->label("note"), "a\"b");
  EXPECT_EQ(s->find("hs_ttft_seconds_bucket").size(), 3u);
  EXPECT_EQ(s->sum("hs_ttft_seconds_bucket", {{"le", "+Inf"}}), 9);
  EXPECT_EQ(s->sum("hs_ttft_seconds_sum"), 2.75);
  EXPECT_EQ(s->find("hs_weird")[0]->value, 0.1 + 0.2);  // shortest round-trip decimal
  EXPECT_TRUE(std::isinf(s->find("hs_weird", {{"k", "inf"}})[0]->value));
  EXPECT_EQ(s->help.at("hs_router_requests_total"), "Requests. Two lines.");
}

TEST(Histogram, CumulativeBucketsRoundTripThroughTheWriter) {
  Histogram h({0.1, 1.0});
  for (double v : {0.05, 0.1, 0.5, 3.0}) h.observe(v);
  EXPECT_EQ(h.cumulative, (std::vector<uint64_t>{2, 3}));
  Writer w;
  w.family("x_seconds", MetricType::kHistogram, "x");
  w.histogram("x_seconds", {{"group", "g0"}}, h.bounds, h.cumulative, h.sum, h.count);
  auto s = parse(w.text(), "t");
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->sum("x_seconds_bucket", {{"le", "+Inf"}}), 4);
  EXPECT_DOUBLE_EQ(s->sum("x_seconds_sum"), 3.65);
  EXPECT_TRUE(std::is_sorted(vllm_ttft_buckets().begin(), vllm_ttft_buckets().end()));
}

}  // namespace
}  // namespace hs::prom
