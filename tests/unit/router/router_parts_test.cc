// The router's and load generator's pure parts: endpoint files, SSE reading, prompt ids.
#include <gtest/gtest.h>

#include "../../../router/src/endpoint_table.h"
#include "hs/common/router_metrics.h"
#include "hs/router/endpoints.h"
#include "hs/router/loadgen.h"
#include "hs/router/offered_load.h"
#include "hs/router/pd_protocol.h"
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
  EXPECT_EQ(c.chunks().size(), 0u);  // event not complete yet
  c.feed(
      "\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\ndata: "
      "{\"choices\":[{\"text\":\"\"}]}\n\n");
  EXPECT_EQ(c.chunks().size(), 2u);  // empty text is not a token
  c.feed("data: {\"choices\":[],\"usage\":{\"completion_tokens\":2}}\n\ndata: [DONE]\n\n");
  EXPECT_EQ(c.usage()["completion_tokens"], 2);
  EXPECT_TRUE(c.done());
  EXPECT_TRUE(c.error().is_null());
}

TEST(SseTokenClock, TimesTokensNotChunksAndStripsUsageTheClientDidNotAskFor) {
  using TP = SseTokenClock::TimePoint;
  TP t0{};
  int tick = 0;
  // Each event arrives 40 ms after the previous one.
  auto now = [&] { return t0 + std::chrono::milliseconds(40 * ++tick); };
  ClientStream client;
  client.stream = true;  // asked for no usage at all
  SseTokenClock c(client, now);
  auto ev = [](int total) {
    return "data: {\"choices\":[{\"text\":\" x\"}],\"usage\":{\"completion_tokens\":" +
           std::to_string(total) + "}}\n\n";
  };
  std::string fwd = c.feed(ev(1) + ev(5));
  fwd += c.feed(ev(9) + "data: {\"choices\":[],\"usage\":{\"completion_tokens\":9}}\n\n");
  fwd += c.feed("data: [DONE]\n\n");
  EXPECT_EQ(c.tokens(), 9u);
  auto gaps = c.token_gaps_s();
  ASSERT_EQ(gaps.size(), 2u);
  EXPECT_DOUBLE_EQ(gaps[0].first, 0.010);  // 40 ms for 4 tokens
  EXPECT_EQ(gaps[0].second, 4u);
  EXPECT_EQ(fwd.find("usage"), std::string::npos) << fwd;  // stripped everywhere
  EXPECT_NE(fwd.find("[DONE]"), std::string::npos);
  // A client that asked for the final usage gets it, and nothing per chunk.
  client.include_usage = true;
  SseTokenClock k(client, now);
  std::string f2 = k.feed(ev(1) + "data: {\"choices\":[],\"usage\":{\"completion_tokens\":1}}\n\n");
  EXPECT_EQ(f2.find("usage"), f2.rfind("usage"));  // once: the final chunk
  EXPECT_NE(f2.find("\"choices\":[]"), std::string::npos);
}

TEST(PdProtocol, PrefillAsVllmsProxyBuildsItDecodeGetsTheWholeTransferParams) {
  nlohmann::json client = {{"prompt", "x"},
                           {"max_tokens", 50},
                           {"min_tokens", 50},
                           {"min_completion_tokens", 5},
                           {"max_completion_tokens", 50},
                           {"stream", true},
                           {"stream_options", {{"include_usage", true}}}};
  auto pre = prefill_body(client);
  EXPECT_EQ(pre["max_tokens"], 1);
  EXPECT_EQ(pre["max_completion_tokens"], 1);
  EXPECT_EQ(pre["stream"], false);
  EXPECT_FALSE(pre.contains("stream_options"));
  EXPECT_FALSE(pre.contains("min_tokens"));
  EXPECT_FALSE(pre.contains("min_completion_tokens"));
  EXPECT_EQ(pre["kv_transfer_params"]["do_remote_decode"], true);
  nlohmann::json kv = {{"do_remote_prefill", true},
                       {"remote_request_id", "r1"},
                       {"tp_size", 2},
                       {"future_field", 7}};
  auto dec = decode_body(client, kv);
  EXPECT_EQ(dec["kv_transfer_params"], kv);  // nothing picked out
  EXPECT_EQ(dec["min_tokens"], 50);          // honoured on the decode
  EXPECT_EQ(dec["stream_options"]["continuous_usage_stats"], true);
  EXPECT_EQ(client_stream(client).include_usage, true);
  EXPECT_EQ(client_stream(client).continuous_usage, false);
  RequestIds a, b;
  std::string x = a.next(), y = a.next(), z = b.next();
  EXPECT_NE(x, y);
  EXPECT_NE(x, z);  // two routers, two prefixes
}

TEST(OfferedLoad, TokenIdsExactTextLearnedBacklogUntilPrefilled) {
  double ids = 0, bytes = 0;
  prompt_size({{"prompt", {1, 2, 3}}}, &ids, &bytes);
  EXPECT_EQ(ids, 3);
  prompt_size({{"prompt", {{1, 2}, {3, 4, 5}}}}, &ids, &bytes);
  EXPECT_EQ(ids, 5);
  prompt_size({{"prompt", {"abcd", "ef"}}}, &ids, &bytes);
  EXPECT_EQ(ids, 0);
  EXPECT_EQ(bytes, 6);
  nlohmann::json chat = {
      {"messages",
       {{{"role", "user"}, {"content", "hello"}},
        {{"role", "user"},
         {"content", {{{"type", "text"}, {"text", "abc"}}, {{"type", "image_url"}}}}}}}};
  prompt_size(chat, &ids, &bytes);
  EXPECT_EQ(bytes, 8);

  OfferedLoad o;
  auto a = o.arrive({{"prompt", {1, 2, 3, 4}}, {"max_tokens", 100}});
  EXPECT_EQ(o.prompt_tokens(), 4);
  EXPECT_EQ(o.decode_tokens(), 0);  // no output seen yet: max_tokens alone is not trusted
  EXPECT_EQ(o.backlog_prompt_tokens(), 4);
  o.prefilled(a, 4);
  o.prefilled(a, 4);  // once only
  EXPECT_EQ(o.backlog_prompt_tokens(), 0);
  EXPECT_EQ(o.backlog_requests(), 0);
  o.finished(a, 25);  // a quarter of max_tokens
  o.arrive({{"prompt", {1}}, {"max_tokens", 100}});
  EXPECT_EQ(o.decode_tokens(), 25);
  o.arrive({{"prompt", {1}}});  // no max_tokens: the mean real output
  EXPECT_EQ(o.decode_tokens(), 50);

  // Text at 0.5 tokens per byte: the estimate moves from 4 bytes per token towards it and
  // its error is measured against each prefill's usage.prompt_tokens.
  for (int i = 0; i < 200; ++i) {
    auto t = o.arrive({{"prompt", std::string(100, 'x')}});
    o.prefilled(t, 50);
  }
  EXPECT_NEAR(o.tokens_per_byte(), 0.5, 0.01);
  EXPECT_LT(o.estimate_error(), 0.02);
  prom::Writer w;
  o.write(w);
  auto s = prom::parse(w.text(), "router");
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->find(router_metrics::kOfferedRequests)[0]->value, 203);
}

TEST(EndpointTable, NewInstancesWaitForAPassingCheckAndReadinessNeedsAGroup) {
  Logger log("t", LogLevel::kError, stderr_sink());
  EndpointTable t(log);
  Steady::time_point now{};
  auto ep = [](const char* url, Role r, const char* g) {
    Endpoint e;
    e.url = url;
    e.host = "127.0.0.1";
    e.port = 1;
    e.role = r;
    e.group = g;
    return e;
  };
  t.apply({ep("http://p", Role::kPrefill, "g1"), ep("http://d", Role::kDecode, "g2")}, now);
  EXPECT_FALSE(t.pick(Role::kDecode, "", {}).ok);       // not checked yet
  EXPECT_EQ(t.to_probe(now, false).size(), 2u);         // fast re-probes
  EXPECT_TRUE(t.record_health("http://p", true, now));  // models wanted
  t.record_health("http://d", true, now);
  EXPECT_FALSE(t.ready());  // prefill and decode in different groups
  t.apply({ep("http://p", Role::kPrefill, "g1"), ep("http://d", Role::kDecode, "g2"),
           ep("http://d1", Role::kDecode, "g1")},
          now);
  t.record_health("http://d1", false, now);
  EXPECT_FALSE(t.ready());
  EXPECT_EQ(t.to_probe(now + std::chrono::seconds(1), false).size(), 1u);  // d1, fast
  EXPECT_TRUE(t.to_probe(now + std::chrono::seconds(11), false).empty());  // fast window over
  t.record_health("http://d1", true, now + std::chrono::seconds(1));
  EXPECT_TRUE(t.ready());
  t.set_models("http://d1", {"llama"});
  EXPECT_EQ(t.models(), std::vector<std::string>{"llama"});
}

TEST(EndpointTable, TimeoutsInARowFailAHealthyInstanceARefusalAtOnce) {
  Logger log("t", LogLevel::kError, stderr_sink());
  EndpointTable t(log, 2);
  Steady::time_point now{};
  Endpoint d;
  d.url = "http://d";
  d.host = "127.0.0.1";
  d.port = 1;
  d.role = Role::kBoth;
  d.group = "g";
  t.apply({d}, now);
  t.record_health(d.url, true, now);
  ASSERT_TRUE(t.ready());
  t.record_health(d.url, false, now, "timed out", /*timed_out=*/true);
  EXPECT_TRUE(t.ready());  // one late answer: a busy engine, still usable
  t.record_health(d.url, true, now);
  t.record_health(d.url, false, now, "timed out", true);
  EXPECT_TRUE(t.ready());  // the pass in between reset the count
  t.record_health(d.url, false, now, "timed out", true);
  EXPECT_FALSE(t.ready());  // two in a row
  Picked slow = t.pick(Role::kDecode, "", {});
  EXPECT_TRUE(slow.ok);  // but busy, not refusing: the fallback while nothing is healthy
  t.release(slow.ep, true);
  t.record_health(d.url, true, now);
  EXPECT_TRUE(t.ready());
  t.record_health(d.url, false, now, "connection refused", /*timed_out=*/false);
  EXPECT_FALSE(t.ready());                         // a refusal: at once
  EXPECT_FALSE(t.pick(Role::kDecode, "", {}).ok);  // and no fallback to a refusing one
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
