// hs-engine-sim over real loopback HTTP: the vLLM API subset, the P/D KV handoff between two
// engines, and refusals of bad input.
#include "hs/launcher/engine_sim.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <thread>

#include "hs/common/http.h"
#include "hs/common/prometheus_text.h"

namespace hs::launcher {
namespace {

using json = nlohmann::json;

const workload::EngineProfile& profile() {
  const auto* p = workload::default_profiles().find("h100", "llama-8b");
  EXPECT_NE(p, nullptr);
  return *p;
}

EngineSimOptions options(Role role, double ttl_s = 120) {
  EngineSimOptions o;
  o.role = role;
  o.time_scale = 100;  // 100x the profile: milliseconds per request
  o.kv_ttl_s = ttl_s;
  if (role != Role::kBoth) o.side_channel_host = "127.0.0.1";
  return o;
}

std::unique_ptr<EngineSim> start(const EngineSimOptions& o) {
  auto e = EngineSim::start(o, profile());
  EXPECT_TRUE(e.ok()) << e.error().to_string();
  return std::move(*e);
}

std::unique_ptr<EngineSim> start(Role role, double ttl_s = 120) {
  return start(options(role, ttl_s));
}

http::ClientResponse post(const EngineSim& e, const std::string& path, const json& body,
                          const http::ClientOptions& co = {}) {
  auto r = http::request("127.0.0.1", e.port(), "POST", path, body.dump(), co);
  EXPECT_TRUE(r.ok()) << r.error().to_string();
  return *r;
}

// A streamed POST: its status and the whole event stream as received.
std::pair<int, std::string> post_stream(const EngineSim& e, const std::string& path,
                                        const json& body) {
  std::string all;
  auto r = http::request_stream("127.0.0.1", e.port(), "POST", path, body.dump(),
                                [&](std::string_view c) {
                                  all += c;
                                  return true;
                                });
  EXPECT_TRUE(r.ok()) << r.error().to_string();
  return {r.ok() ? r->status : 0, all};
}

prom::Scrape scrape(const EngineSim& e) {
  auto r = http::request("127.0.0.1", e.port(), "GET", "/metrics");
  EXPECT_TRUE(r.ok());
  auto s = prom::parse(r->body, "metrics");
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  return *s;
}

TEST(EngineSim, CompletionCountsTokensInUsageAndMetrics) {
  auto e = start(Role::kBoth);
  auto r = post(*e, "/v1/completions",
                {{"model", "llama"}, {"prompt", std::string(400, 'x')}, {"max_tokens", 7}});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["usage"]["prompt_tokens"], 100);
  EXPECT_EQ(j["usage"]["completion_tokens"], 7);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  auto m = scrape(*e);
  EXPECT_EQ(m.sum("vllm:generation_tokens_total"), 7);
  EXPECT_EQ(m.sum("vllm:prompt_tokens_total"), 100);
  EXPECT_EQ(m.sum("vllm:request_success_total"), 1);
  EXPECT_EQ(m.sum("vllm:time_to_first_token_seconds_count"), 1);
  EXPECT_EQ(m.types.at("vllm:time_to_first_token_seconds"), prom::MetricType::kHistogram);
  EXPECT_EQ(e->in_flight(), 0u);
}

TEST(EngineSim, PrefillThenDecodePullsTheKvFromThePrefillEngine) {
  auto p = start(Role::kPrefill);
  auto d = start(Role::kDecode);
  json req = {{"model", "llama"}, {"prompt", std::string(256, 'a')}, {"max_tokens", 5}};
  json pre = req;
  pre["max_tokens"] = 1;
  pre["kv_transfer_params"] = {{"do_remote_decode", true}, {"do_remote_prefill", false}};
  auto pr = post(*p, "/v1/completions", pre);
  ASSERT_EQ(pr.status, 200) << pr.body;
  json kvp = json::parse(pr.body)["kv_transfer_params"];
  EXPECT_EQ(kvp["do_remote_prefill"], true);
  // remote_host/port name the NIXL side channel, not the HTTP port (nixl_connector.py).
  EXPECT_EQ(kvp["remote_port"], p->side_channel_port());
  EXPECT_NE(p->side_channel_port(), p->port());
  EXPECT_EQ(kvp["remote_host"], "127.0.0.1");
  EXPECT_EQ(kvp["remote_engine_id"], p->engine_id());
  EXPECT_EQ(kvp["tp_size"], 1);
  EXPECT_TRUE(kvp["remote_request_id"].is_string());
  EXPECT_EQ(p->kv_held(), 1u);
  EXPECT_EQ(kvp["remote_block_ids"].size(), 4u);  // 64 tokens in 16-token blocks

  json dec = req;
  dec["kv_transfer_params"] = kvp;
  auto dr = post(*d, "/v1/completions", dec);
  ASSERT_EQ(dr.status, 200) << dr.body;
  EXPECT_EQ(json::parse(dr.body)["usage"]["completion_tokens"], 5);
  // The decode engine did no prefill work: the prompt's KV came from the prefill engine.
  EXPECT_EQ(scrape(*d).sum("vllm:prompt_tokens_total"), 0);
  EXPECT_EQ(scrape(*p).sum("vllm:prompt_tokens_total"), 64);
  auto rec = http::request("127.0.0.1", d->port(), "GET", "/hs/records");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(json::parse(rec->body)[0]["kv_from"], p->engine_id());
  EXPECT_EQ(p->kv_held(), 0u);  // read once, then freed

  // Blocks are handed over once: a second decode with the same parameters is refused.
  auto again = post(*d, "/v1/completions", dec);
  EXPECT_EQ(again.status, 400);
  EXPECT_NE(again.body.find("already read"), std::string::npos) << again.body;
}

TEST(EngineSim, RefusesKvFromTheWrongEngineOrPastItsLifetime) {
  auto p = start(Role::kPrefill, /*ttl_s=*/0.05);
  auto d = start(Role::kDecode);
  json pre = {{"prompt", "abcd"}, {"kv_transfer_params", {{"do_remote_decode", true}}}};
  json kvp = json::parse(post(*p, "/v1/completions", pre).body)["kv_transfer_params"];
  json wrong = kvp;
  wrong["remote_engine_id"] = "someone-else";
  auto w = post(*d, "/v1/completions", {{"prompt", "abcd"}, {"kv_transfer_params", wrong}});
  EXPECT_EQ(w.status, 400);
  EXPECT_NE(w.body.find("someone-else"), std::string::npos) << w.body;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (p->kv_held() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(p->kv_held(), 0u);  // expired after its TTL
  auto late = post(*d, "/v1/completions", {{"prompt", "abcd"}, {"kv_transfer_params", kvp}});
  EXPECT_EQ(late.status, 400) << late.body;
  auto missing = post(*d, "/v1/completions",
                      {{"prompt", "abcd"}, {"kv_transfer_params", {{"do_remote_prefill", true}}}});
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find("remote_engine_id"), std::string::npos) << missing.body;
  // A prompt of another length than the KV holds is a routing bug, not something to decode.
  json kvp2 = json::parse(post(*p, "/v1/completions", pre).body)["kv_transfer_params"];
  auto mismatch = post(*d, "/v1/completions",
                       {{"prompt", std::string(400, 'z')}, {"kv_transfer_params", kvp2}});
  EXPECT_EQ(mismatch.status, 400);
  EXPECT_NE(mismatch.body.find("tokens"), std::string::npos);
}

TEST(EngineSim, BadRequestsGetVllmStyleErrors) {
  auto e = start(Role::kBoth);
  auto raw = http::request("127.0.0.1", e->port(), "POST", "/v1/completions", "{not json");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->status, 400);
  EXPECT_EQ(post(*e, "/v1/completions", {{"model", "gpt-9"}, {"prompt", "x"}}).status, 404);
  EXPECT_EQ(post(*e, "/v1/completions", {{"prompt", "x"}, {"max_tokens", 0}}).status, 400);
  EXPECT_EQ(post(*e, "/v1/completions", {{"prompt", json::array({"a", "b"})}}).status, 400);
  // SamplingParams: min_tokens above max_tokens is refused (what a P/D prefill must not get).
  auto min = post(*e, "/v1/completions", {{"prompt", "x"}, {"max_tokens", 1}, {"min_tokens", 5}});
  EXPECT_EQ(min.status, 400);
  EXPECT_EQ(json::parse(min.body)["error"]["param"], "min_tokens") << min.body;
  EXPECT_EQ(post(*e, "/v1/chat/completions", {{"messages", "hi"}}).status, 400);
  auto big = post(*e, "/v1/completions", {{"prompt", json::array()}, {"max_tokens", 1}});
  EXPECT_EQ(big.status, 400);
  json ids = json::array();
  for (uint32_t i = 0; i < profile().max_context; ++i) ids.push_back(1);
  auto over = post(*e, "/v1/completions", {{"prompt", ids}, {"max_tokens", 10}});
  EXPECT_EQ(over.status, 400);
  EXPECT_NE(over.body.find("maximum context length"), std::string::npos);
  // None of that disturbed the engine.
  EXPECT_EQ(post(*e, "/v1/completions", {{"prompt", "fine"}, {"max_tokens", 2}}).status, 200);
}

// A reader that keeps up gets one event per token; one that falls behind (a loaded machine)
// gets the tokens made meanwhile in one event, as vLLM merges DELTA outputs when the
// producer gets ahead of the consumer (vllm/v1/engine/output_processor.py,
// RequestOutputCollector.put). Both are asserted as what they are.
TEST(EngineSim, StreamsEveryTokenThenUsageAndDone) {
  auto e = start(Role::kBoth);
  json body = {{"messages", json::array({{{"role", "user"}, {"content", "hello there"}}})},
               {"max_tokens", 6},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}}};
  auto [status, all] = post_stream(*e, "/v1/chat/completions", body);
  EXPECT_EQ(status, 200);
  size_t events = 0, pos = 0;
  while ((pos = all.find("data: ", pos)) != std::string::npos) ++events, pos += 6;
  EXPECT_GE(events, 1u + 1 + 1);  // at least one token event, usage, [DONE]
  EXPECT_LE(events, 6u + 1 + 1);  // at most one per token
  EXPECT_NE(all.find("\"completion_tokens\":6"), std::string::npos);
  EXPECT_EQ(all.rfind("data: [DONE]\n\n"), all.size() - std::string("data: [DONE]\n\n").size());
}

TEST(EngineSim, DrainRefusesNewWorkAndFinishesInFlight) {
  auto e = start(Role::kBoth);
  std::thread t([&] {
    EXPECT_EQ(post(*e, "/v1/completions", {{"prompt", "x"}, {"max_tokens", 300}}).status, 200);
  });
  while (e->in_flight() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto d = http::request("127.0.0.1", e->port(), "POST", "/hs/drain", "");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(post(*e, "/v1/completions", {{"prompt", "x"}}).status, 503);
  t.join();
  EXPECT_EQ(e->in_flight(), 0u);
  auto st = http::request("127.0.0.1", e->port(), "GET", "/hs/status");
  EXPECT_EQ(json::parse(st->body)["draining"], true);
}

TEST(EngineSim, ChunksOfSeveralTokensCarryUsageWhenAskedForContinuousStats) {
  auto o = options(Role::kBoth);
  o.tokens_per_chunk = 4;
  auto e = start(o);
  json body = {{"prompt", "hello"},
               {"max_tokens", 9},
               {"stream", true},
               {"stream_options", {{"include_usage", true}, {"continuous_usage_stats", true}}}};
  auto [status, all] = post_stream(*e, "/v1/completions", body);
  ASSERT_EQ(status, 200);
  std::vector<uint32_t> totals;
  size_t pos = 0;
  while ((pos = all.find("data: {", pos)) != std::string::npos) {
    size_t end = all.find("\n\n", pos);
    json c = json::parse(all.substr(pos + 6, end - pos - 6));
    if (!c["choices"].empty()) totals.push_back(c["usage"]["completion_tokens"]);
    pos = end;
  }
  // The first token at once, then chunks of at least 4 (more when the reader fell behind),
  // the rest last: 1, 5, 9 when the reader keeps up.
  ASSERT_FALSE(totals.empty());
  EXPECT_EQ(totals.back(), 9u);
  for (size_t i = 1; i + 1 < totals.size(); ++i) EXPECT_GE(totals[i] - totals[i - 1], 4u);
  EXPECT_LE(totals.size(), 3u);
}

TEST(EngineSim, ApiKeyGuardsTheV1RoutesOnly) {
  auto o = options(Role::kBoth);
  o.api_key = "k-123";
  auto e = start(o);
  auto no = post(*e, "/v1/completions", {{"prompt", "x"}, {"max_tokens", 1}});
  EXPECT_EQ(no.status, 401);
  http::ClientOptions co;
  co.headers = {{"authorization", "Bearer k-123"}};
  EXPECT_EQ(post(*e, "/v1/completions", {{"prompt", "x"}, {"max_tokens", 1}}, co).status, 200);
  auto h = http::request("127.0.0.1", e->port(), "GET", "/health");
  EXPECT_EQ(h->status, 200);
}

TEST(EngineSim, ARequestIdAlreadyRunningIsRefused) {
  auto e = start(Role::kBoth);
  http::ClientOptions co;
  co.headers = {{"x-request-id", "same"}};
  std::thread t([&] {
    EXPECT_EQ(post(*e, "/v1/completions", {{"prompt", "x"}, {"max_tokens", 300}}, co).status, 200);
  });
  while (e->in_flight() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto dup = post(*e, "/v1/completions", {{"prompt", "x"}, {"max_tokens", 1}}, co);
  EXPECT_EQ(dup.status, 400);
  EXPECT_NE(dup.body.find("already running"), std::string::npos) << dup.body;
  t.join();
  EXPECT_EQ(post(*e, "/v1/completions", {{"prompt", "x"}, {"max_tokens", 1}}, co).status, 200);
}

TEST(EngineSim, WhileLoadingThePortIsBoundButNothingAnswers) {
  auto o = options(Role::kBoth);
  o.load_delay_s = 30;
  auto e = start(o);
  http::ClientOptions quick;
  quick.timeout = std::chrono::milliseconds(300);
  auto h = http::request("127.0.0.1", e->port(), "GET", "/health", "", quick);
  EXPECT_FALSE(h.ok());  // connected into the backlog, no answer: as vLLM while it loads
  e->stop();             // and stopping while loading is clean
}

TEST(EngineSim, RejectsANonPositiveTimeScale) {
  EngineSimOptions o;
  o.time_scale = 0;
  EXPECT_FALSE(EngineSim::start(o, profile()).ok());
}

}  // namespace
}  // namespace hs::launcher
