#include "hs/workload/trace.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "hs/common/file.h"

namespace hs::workload {
namespace {

const std::string kData = std::string(HS_TEST_DATA_DIR);

TEST(Trace, AzureCodeTrace) {
  auto t = read_trace(kData + "/traces/azure2023_AzureLLMInferenceTrace_code.csv");
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_EQ(t->format, TraceFormat::kAzureCsv);
  ASSERT_EQ(t->requests.size(), 8819u);
  EXPECT_EQ(t->requests[0].prompt_tokens, 4808u);
  EXPECT_EQ(t->requests[0].output_tokens, 10u);
  EXPECT_DOUBLE_EQ(t->requests[0].arrival_s, 0.0);
  EXPECT_NEAR(t->requests[1].arrival_s, 0.052, 1e-6);  // 18:17:04.0319600 - 18:17:03.9799600
  EXPECT_NEAR(t->requests.back().arrival_s, 57 * 60 + 15.95, 1.0);
  EXPECT_EQ(t->bad_rows, 0u);
}

TEST(Trace, MooncakeConversation) {
  auto t = read_trace(kData + "/traces/mooncake_conversation_first1500.jsonl");
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  ASSERT_EQ(t->requests.size(), 1500u);
  EXPECT_EQ(t->requests[0].prompt_tokens, 6758u);
  EXPECT_EQ(t->requests[0].output_tokens, 500u);
  EXPECT_EQ(t->requests[0].hash_ids.size(), 14u);
  for (const auto& r : t->requests)  // one hash id per 512-token block
    EXPECT_EQ(r.hash_ids.size(), (r.prompt_tokens + 511) / 512) << r.id;
}

TEST(Trace, Timestamps) {
  EXPECT_DOUBLE_EQ(*parse_timestamp("1970-01-01 00:00:01"), 1.0);
  EXPECT_NEAR(*parse_timestamp("2023-11-16 18:17:03.9799600"), 1700158623.97996, 1e-4);
  EXPECT_NEAR(*parse_timestamp("2024-05-10 00:00:00.009930+00:00"), 1715299200.00993, 1e-4);
  EXPECT_NEAR(*parse_timestamp("2024-05-10 02:00:00+02:00"), 1715299200, 1e-6);
  for (const char* bad : {"", "2023-13-01 00:00:00", "2023-11-16", "2023-11-16 18:17",
                          "2023-11-16 18:17:03.", "yesterday"})
    EXPECT_FALSE(parse_timestamp(bad).ok()) << bad;
}

TEST(Trace, BadRowsNameFileAndLineOrAreCounted) {
  char tmpl[] = "/tmp/hs_trace_XXXXXX";
  std::string dir = mkdtemp(tmpl);
  struct Case {
    const char* file;
    const char* text;
    const char* where;
    const char* says;
  } cases[] = {
      {"a.csv",
       "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9,10,5\n2023-11-16 "
       "18:17:04,ten,5\n",
       ":3", "ContextTokens is not a token count"},
      {"b.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9,10\n", ":2",
       "expected 3 fields"},
      {"c.csv", "time,in,out\n", ":1", "not an Azure LLM trace"},
      {"d.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\nnoon,1,1\n", ":2",
       "expected a timestamp"},
      {"e.jsonl",
       "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1}\n{\"timestamp\": 1, "
       "\"input_length\": 5}\n",
       ":2", "missing or non-numeric \"output_length\""},
      {"f.jsonl", "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1, \"colour\": 1}\n",
       ":1", "unknown field \"colour\""},
      {"g.jsonl", "[1, 2]\n", ":1", "not a JSON object"},
      {"h.jsonl",
       "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1, \"hash_ids\": [1, -2]}\n",
       ":1", "hash_ids holds a non-integer"},
  };
  for (const auto& c : cases) {
    std::string p = dir + "/" + c.file;
    ASSERT_TRUE(write_file_atomic(p, c.text).ok());
    auto r = read_trace(p);
    ASSERT_FALSE(r.ok()) << c.file;
    std::string all = r.error().to_string();
    EXPECT_NE(all.find(p + c.where + ": " + c.says), std::string::npos) << all;
  }
  std::string p = dir + "/mixed.csv";
  ASSERT_TRUE(write_file_atomic(p,
                                "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 "
                                "18:17:03,10,5\nx,y\n2023-11-16 18:17:05,7,2\n")
                  .ok());
  TraceReadOptions skip;
  skip.skip_bad_rows = true;
  auto r = read_trace(p, skip);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->requests.size(), 2u);
  EXPECT_EQ(r->bad_rows, 1u);
  ASSERT_EQ(r->bad_row_examples.size(), 1u);
  EXPECT_NE(r->bad_row_examples[0].find(p + ":3: expected 3 fields"), std::string::npos);
  EXPECT_EQ(detect_format(dir + "/x.parquet").error().code, ErrorCode::kNotFound);
  (void)!system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace hs::workload
