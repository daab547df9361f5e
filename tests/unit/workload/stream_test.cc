// Requests as streams: the same sequence the vector readers give, bounded reordering of trace
// rows, every ServeGen category, and (with ../shared/data) the first million requests of a
// real day equal to the composition of the vector composer this replaced.
#include "hs/workload/stream.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <fstream>

#include "hs/workload/load.h"
#include "hs/workload/servegen.h"

namespace hs::workload {
namespace {

const std::string kData = HS_TEST_DATA_DIR;
const std::string kShared = std::string(HS_SOURCE_DIR) + "/../shared/data";

bool exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

std::vector<Request> drain(RequestStream& s) {
  std::vector<Request> out;
  Request r;
  while (s.next(r)) out.push_back(r);
  EXPECT_FALSE(s.error()) << s.error()->to_string();
  return out;
}

// FNV-1a over (arrival, prompt, output) of the first `n` requests, in stream order. The
// pinned values come from the vector composer of commit 8dfcddb with its final sort made
// stable: that sort was std::sort, which left the order of exactly equal arrivals (about 0.7%
// of ServeGen's, Weibull gaps below a double's resolution) to the library; the streams define
// it as (arrival, client, generation order), which is what a stable sort gives.
uint64_t digest(const std::vector<Request>& v, size_t n) {
  n = std::min(n, v.size());
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const void* p, size_t len) {
    auto* b = static_cast<const unsigned char*>(p);
    for (size_t k = 0; k < len; ++k) h = (h ^ b[k]) * 1099511628211ull;
  };
  for (size_t i = 0; i < n; ++i) {
    mix(&v[i].arrival_s, 8);
    mix(&v[i].prompt_tokens, 4);
    mix(&v[i].output_tokens, 4);
  }
  return h;
}

TEST(RequestStream, TraceFilesStreamTheSortedScaledVector) {
  LoadOptions o;
  o.rate_scale = 2.5;
  o.start_s = 30;
  o.duration_s = 600;
  for (const char* f : {"/traces/azure2023_AzureLLMInferenceTrace_code.csv",
                        "/traces/mooncake_conversation_first1500.jsonl"}) {
    auto s = open_requests(kData + f, o);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    auto v = drain(**s);
    ASSERT_GT(v.size(), 100u) << f;
    for (size_t i = 1; i < v.size(); ++i) {
      ASSERT_LE(v[i - 1].arrival_s, v[i].arrival_s) << f << " at " << i;
      ASSERT_EQ(v[i].id, i);
    }
    EXPECT_LT(v.back().arrival_s, 600 + 3 * 0.137) << f;
  }
}

TEST(RequestStream, RowsSlightlyOutOfOrderAreSortedFarOutOfOrderIsAnError) {
  std::string p = testing::TempDir() + "/ooo.jsonl";
  {
    std::ofstream f(p);
    f << "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}\n"
      << "{\"timestamp\": 2000, \"input_length\": 2, \"output_length\": 1}\n"
      << "{\"timestamp\": 1000, \"input_length\": 3, \"output_length\": 1}\n";
  }
  auto s = open_requests(p, {});
  ASSERT_TRUE(s.ok());
  auto v = drain(**s);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[1].prompt_tokens, 3u);  // the 1000 ms row, put back in order
  LoadOptions tight;
  tight.reorder_rows = 1;
  auto t = open_requests(p, tight);
  ASSERT_TRUE(t.ok());
  Request r;
  while ((*t)->next(r)) {
  }
  ASSERT_TRUE((*t)->error());
  EXPECT_NE((*t)->error()->where.find("ooo.jsonl:3"), std::string::npos)
      << (*t)->error()->to_string();
  EXPECT_NE((*t)->error()->message.find("out of arrival order"), std::string::npos);
}

TEST(RequestStream, ABadRowEndsTheStreamNamingFileAndLine) {
  std::string p = testing::TempDir() + "/bad.csv";
  {
    std::ofstream f(p);
    f << "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9,10,2\n2023-11-16 "
         "18:17:04,x,2\n";
  }
  auto s = open_requests(p, {});
  ASSERT_TRUE(s.ok());
  // The reorder buffer reads ahead, so the error comes before row 2 is replayed: a replay
  // never runs on a trace that turns out to be bad a few rows later.
  Request r;
  EXPECT_FALSE((*s)->next(r));
  ASSERT_TRUE((*s)->error());
  EXPECT_EQ((*s)->error()->where, p + ":3");
  EXPECT_FALSE((*s)->next(r));
}

TEST(RequestStream, ServeGenStreamEqualsTheVectorComposition) {
  auto s = open_requests(kData + "/servegen-mini", {});
  ASSERT_TRUE(s.ok());
  auto v = drain(**s);
  auto l = load_requests(kData + "/servegen-mini", {});
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(v.size(), l->requests.size());
  EXPECT_EQ(digest(v, v.size()), digest(l->requests, l->requests.size()));
  EXPECT_GT((*s)->report().requests_with_pooled_lengths, 0u);  // chunk-5 has no dataset
  // The composition the vector composer made before streams existed (same seed, same draws).
  EXPECT_EQ(digest(v, v.size()), 0x2b9ef3a749c84344ull);
}

TEST(RequestStream, FirstMillionOfARealDayAsBeforeStreams) {
  const std::string m_large = kShared + "/diurnal/servegen/language/m-large";
  if (!exists(m_large)) GTEST_SKIP() << "needs ../shared/data";
  // Digests of the vector composer (commit 8dfcddb, stable final sort), seed 1, one day.
  for (auto [scale, want] :
       {std::pair{1.0, 0xd1af68ccdaa42b81ull}, std::pair{0.2, 0x4392b2060e9ef023ull}}) {
    LoadOptions o;
    o.rate_scale = scale;
    o.duration_s = 86400;
    auto s = open_requests(m_large, o);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    std::vector<Request> v;
    Request r;
    while (v.size() < 1000000 && (*s)->next(r)) v.push_back(r);
    ASSERT_EQ(v.size(), 1000000u);
    EXPECT_EQ(digest(v, v.size()), want) << "rate scale " << scale;
  }
}

TEST(RequestStream, EveryServeGenCategoryComposes) {
  const std::string sg = kShared + "/diurnal/servegen";
  if (!exists(sg)) GTEST_SKIP() << "needs ../shared/data";
  LoadOptions hour;
  hour.duration_s = 3600;
  // Multimodal: prompts carry each image's tokens from the dataset.
  auto mm = load_requests(sg + "/multimodal/mm-image", hour);
  ASSERT_TRUE(mm.ok()) << mm.error().to_string();
  ASSERT_GT(mm->requests.size(), 1000u);
  EXPECT_GT(mm->report.multimodal_tokens, 0u);
  uint64_t with_images = 0;
  for (const auto& r : mm->requests) {
    with_images += r.multimodal_tokens > 0;
    EXPECT_GE(r.prompt_tokens, r.multimodal_tokens);
  }
  EXPECT_GT(with_images, mm->requests.size() / 2);
  // Reasoning: a share of each output is reasoning, never more than the output.
  auto r1 = load_requests(sg + "/reason/deepseek-r1", hour);
  ASSERT_TRUE(r1.ok()) << r1.error().to_string();
  EXPECT_GT(r1->report.reasoning_tokens, 0u);
  for (const auto& r : r1->requests) EXPECT_LE(r.reasoning_tokens, r.output_tokens);
  // m-mid has no length distributions: refused without --lengths-from, composed with it.
  auto bare = load_requests(sg + "/language/m-mid", hour);
  ASSERT_FALSE(bare.ok());
  EXPECT_NE(bare.error().message.find("--lengths-from"), std::string::npos)
      << bare.error().to_string();
  LoadOptions from = hour;
  from.lengths_from = sg + "/language/m-large";
  from.rate_scale = 0.05;
  auto mid = load_requests(sg + "/language/m-mid", from);
  ASSERT_TRUE(mid.ok()) << mid.error().to_string();
  EXPECT_EQ(mid->report.requests_with_pooled_lengths, mid->requests.size());
  EXPECT_NE(mid->report.lengths_source.find("m-large"), std::string::npos);
}

}  // namespace
}  // namespace hs::workload
