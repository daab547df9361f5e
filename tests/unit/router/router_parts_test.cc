// The router's and load generator's pure parts: endpoint files, SSE reading, prompt ids.
#include <gtest/gtest.h>

#include "hs/router/endpoints.h"
#include "hs/router/loadgen.h"
#include "hs/router/sse.h"

namespace hs::router {
namespace {

TEST(Endpoints, ParsesRolesGroupsAndDraining) {
  auto e = parse_endpoints(
      R"([{"url": "http://10.0.0.5:8100", "role": "prefill", "group": "g0"},
          {"url": "http://10.0.0.6:8200", "role": "decode", "group": "g0", "draining": true}])",
      "eps.json");
  ASSERT_TRUE(e.ok()) << e.error().to_string();
  ASSERT_EQ(e->size(), 2u);
  EXPECT_EQ((*e)[0].host, "10.0.0.5");
  EXPECT_EQ((*e)[0].port, 8100);
  EXPECT_EQ((*e)[0].role, Role::kPrefill);
  EXPECT_TRUE((*e)[1].draining);
}

TEST(Endpoints, ErrorsNameTheFileEntryAndField) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"{", "eps.json: not JSON"},
      {"{}", "expected a JSON list"},
      {R"([{"url": "http://h:1", "role": "cook", "group": "g"}])", "endpoint 0: field 'role'"},
      {R"([{"url": "ftp://h", "role": "decode", "group": "g"}])", "endpoint 0: field 'url'"},
      {R"([{"url": "http://h:1", "role": "decode"}])",
       "endpoint 0: field 'group' must be a string"},
      {R"([{"url": "http://h:1", "role": "decode", "group": ""}])", "field 'group' is empty"},
      {R"([{"url": "http://h:1", "role": "decode", "group": "g", "draining": "yes"}])",
       "field 'draining'"},
      {R"([{"url": "http://h:1", "role": "decode", "group": "g", "weight": 2}])",
       "unknown field 'weight'"},
      {R"([{"url": "http://h:1", "role": "decode", "group": "g"}, {"url": "http://h:1", "role": "prefill", "group": "g"}])",
       "endpoint 1: duplicate url"},
  };
  for (const auto& c : cases) {
    auto e = parse_endpoints(c.text, "eps.json");
    ASSERT_FALSE(e.ok()) << c.text;
    EXPECT_NE(e.error().to_string().find(c.want), std::string::npos) << e.error().to_string();
  }
}

TEST(SseTokenClock, EventsSplitAcrossChunksAndUsage) {
  SseTokenClock c;
  c.feed("data: {\"choices\":[{\"text\":\" a\"}]}\n");
  EXPECT_EQ(c.token_times().size(), 0u);  // event not complete yet
  c.feed(
      "\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\ndata: "
      "{\"choices\":[{\"text\":\"\"}]}\n\n");
  EXPECT_EQ(c.token_times().size(), 2u);  // empty text is not a token
  c.feed("data: {\"choices\":[],\"usage\":{\"completion_tokens\":2}}\n\ndata: [DONE]\n\n");
  EXPECT_EQ(c.usage()["completion_tokens"], 2);
  EXPECT_TRUE(c.done());
  EXPECT_TRUE(c.error().is_null());
}

TEST(Loadgen, PromptIdsShareMooncakeBlocksAndNothingElse) {
  workload::Request a, b, c;
  a.id = 1, b.id = 2, c.id = 3;
  a.prompt_tokens = 1100, b.prompt_tokens = 700, c.prompt_tokens = 700;
  a.hash_ids = {7, 8, 9};
  b.hash_ids = {7, 5};
  auto pa = prompt_token_ids(a), pb = prompt_token_ids(b), pc = prompt_token_ids(c);
  ASSERT_EQ(pa.size(), 1100u);
  ASSERT_EQ(pb.size(), 700u);
  EXPECT_TRUE(std::equal(pa.begin(), pa.begin() + 512, pb.begin()));               // block 7 shared
  EXPECT_FALSE(std::equal(pa.begin() + 512, pa.begin() + 700, pb.begin() + 512));  // 8 vs 5
  EXPECT_FALSE(std::equal(pc.begin(), pc.begin() + 512, pb.begin()));  // no hash ids: own
  EXPECT_EQ(prompt_token_ids(c), pc);                                  // deterministic
}

TEST(Loadgen, SummaryCountsTooLongApartAndGoodput) {
  std::vector<RequestRecord> r(3);
  r[0].outcome = Outcome::kOk, r[0].ttft_s = 0.5, r[0].tbt_mean_s = 0.02, r[0].e2e_s = 1,
  r[0].output_tokens = 10;
  r[1].outcome = Outcome::kOk, r[1].ttft_s = 5, r[1].tbt_mean_s = 0.02, r[1].e2e_s = 6,
  r[1].output_tokens = 4;
  r[2].outcome = Outcome::kTooLong;
  auto s = nlohmann::json::parse(summarize(r, LoadgenSlo{2, 0.1}, 10));
  EXPECT_EQ(s["outcomes"]["too_long"], 1);
  EXPECT_EQ(s["output_tokens"], 14);
  EXPECT_EQ(s["goodput_requests"], 1);
  EXPECT_DOUBLE_EQ(s["goodput_rps"], 0.1);
}

}  // namespace
}  // namespace hs::router
