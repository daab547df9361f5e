// The daemon's smaller parts: job tags, the Slurm view, registrations and the endpoint set,
// the engine metric mapping, the daemon configuration.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "hs/common/engine_metrics.h"
#include "hs/common/job_tag.h"
#include "hs/scaler/daemon_config.h"
#include "hs/scaler/engine_metrics.h"
#include "hs/scaler/pools.h"
#include "hs/scaler/registrations.h"

namespace hs::scaler {
namespace {

TEST(JobTag, RoundTripsAndRejectsWithTheField) {
  auto t = parse_job_tag("heteroscale/v1 service=chat role=decode group=g2 variant=h100-l40s");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->service, "chat");
  EXPECT_EQ(t->role, Role::kDecode);
  EXPECT_FALSE(t->drain_since_unix_s);
  JobTag d = *t;
  d.drain_since_unix_s = 1700000000;
  EXPECT_EQ(*parse_job_tag(d.to_string()), d);
  EXPECT_EQ(parse_job_tag("just a comment").error().code, ErrorCode::kNotFound);
  EXPECT_NE(
      parse_job_tag("heteroscale/v2 service=a").error().message.find("unsupported tag version"),
      std::string::npos);
  auto bad = [](const char* c) { return parse_job_tag(c).error().message; };
  EXPECT_EQ(bad("heteroscale/v1 service=a role=both group=g variant=v").rfind("role:", 0), 0u);
  EXPECT_EQ(bad("heteroscale/v1 service=a role=decode variant=v").rfind("group: required", 0), 0u);
  EXPECT_EQ(bad("heteroscale/v1 service=a/b role=decode group=g variant=v").rfind("service:", 0),
            0u);
  EXPECT_EQ(bad("heteroscale/v1 service=a service=b").rfind("service: given twice", 0), 0u);
  EXPECT_EQ(bad("heteroscale/v1 service=a role=decode group=g variant=v color=red")
                .rfind("color: unknown field", 0),
            0u);
  EXPECT_EQ(
      bad("heteroscale/v1 service=a role=decode group=g variant=v drain=-3").rfind("drain:", 0),
      0u);
}

// The tag shares the comment: site text before a bare tag, around a bracketed one, kept
// byte for byte when the tag is rewritten; two tags or an open bracket are errors.
TEST(JobTag, SharesTheCommentWithTheSitesText) {
  const std::string tag = "heteroscale/v1 service=chat role=decode group=g1 variant=v";
  JobTagSpan span;
  auto before = parse_job_tag("acct:42 proj=x " + tag, &span);
  ASSERT_TRUE(before.ok()) << before.error().to_string();
  EXPECT_EQ(before->group, "g1");
  EXPECT_EQ(span.begin, 15u);
  auto around = parse_job_tag("acct:42 [" + tag + "] set by job_submit");
  ASSERT_TRUE(around.ok()) << around.error().to_string();
  EXPECT_EQ(around->variant, "v");
  JobTag marked = *around;
  marked.drain_since_unix_s = 77;
  EXPECT_EQ(with_job_tag("acct:42 [" + tag + "] set by job_submit", marked),
            "acct:42 [" + tag + " drain=77] set by job_submit");
  EXPECT_EQ(with_job_tag("acct:42 " + tag + " drain=5", *before), "acct:42 " + tag);
  EXPECT_EQ(with_job_tag("acct:42", *before), "acct:42 [" + tag + "]");
  EXPECT_EQ(with_job_tag("", *before), tag);
  EXPECT_TRUE(looks_like_job_tag("x [" + tag + "] y"));
  EXPECT_FALSE(looks_like_job_tag("see https://x.org/heteroscale/docs"));
  EXPECT_EQ(parse_job_tag("see https://x.org/heteroscale/docs").error().code, ErrorCode::kNotFound);
  auto two = parse_job_tag(tag + " [" + tag + "]");
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.error().message, "tag: the comment holds two heteroscale tags");
  EXPECT_EQ(parse_job_tag("[" + tag + " drain=1").error().message,
            "tag: '[' without its closing ']'");
  // Text after a bare tag is the tag's: a typo stays an error naming the field.
  EXPECT_EQ(parse_job_tag(tag + " acct=42").error().message.rfind("acct: unknown field", 0), 0u);
}

// The daemon's sbatch command line: only the options it owns; the environment by name.
TEST(Sbatch, ArgvCarriesOnlyTheDaemonsOptions) {
  SubmitSpec s;
  s.name = "hs-chat-decode-g2";
  s.array = "0-63%2";
  s.comment = "heteroscale/v1 service=chat role=decode group=g2 variant=v";
  s.constraint = "leaf2";
  s.tres_per_node = "gres:gpu:l40s:1";
  s.time_limit_min = 90;
  s.script_path = "/etc/hs/decode.sbatch";
  s.environment = {"PATH=/usr/bin", "HS_SCALER=http://a,b", "HS_SCALER=dup"};
  s.role = Role::kDecode;
  auto a = sbatch_argv(s, true);
  EXPECT_EQ(a, (std::vector<std::string>{
                   "sbatch", "--parsable", "--job-name=hs-chat-decode-g2", "--array=0-63%2",
                   "--comment=heteroscale/v1 service=chat role=decode group=g2 variant=v",
                   "--constraint=leaf2", "--gres=gpu:l40s:1", "--time=90",
                   "--export=PATH,HS_SCALER", "--hs-role=decode", "/etc/hs/decode.sbatch"}));
  EXPECT_EQ(sbatch_argv(s, false).size(), a.size() - 1);
  EXPECT_EQ(sbatch_env(s).size(), 3u);
  EXPECT_EQ(*parse_sbatch_output("1234\n"), 1234u);
  EXPECT_EQ(*parse_sbatch_output("sbatch: warning: x\n77;cluster1\n"), 77u);
  EXPECT_FALSE(parse_sbatch_output("Submitted batch job\n").ok());
}

SlurmJob job(uint32_t id, uint32_t array, std::optional<uint32_t> task, JobState st,
             std::string comment) {
  SlurmJob j;
  j.job_id = id;
  j.array_job_id = array;
  j.array_task_id = task;
  j.state = st;
  j.comment = std::move(comment);
  j.array_max_tasks = 3;
  return j;
}

TEST(Pools, GroupsArraysByServiceGroupRoleAndCountsTargets) {
  std::string p = "heteroscale/v1 service=chat role=prefill group=g1 variant=v";
  std::vector<SlurmJob> jobs = {
      job(10, 10, 0, JobState::kRunning, p),
      job(11, 10, 1, JobState::kRunning, p + " drain=5"),
      job(12, 10, 2, JobState::kFinished, p),
      job(10, 10, std::nullopt, JobState::kPending, p),
      job(20, 0, std::nullopt, JobState::kRunning, p),            // not an array
      job(30, 30, 0, JobState::kRunning, "heteroscale/v1 oops"),  // bad tag
      job(40, 40, 0, JobState::kRunning, "someone else's job"),
  };
  jobs[3].pending_tasks = "3-15";
  auto v = build_view(jobs);
  ASSERT_EQ(v.services.size(), 1u);
  const RolePool& rp = v.services["chat"]["g1"].prefill;
  ASSERT_EQ(rp.arrays.size(), 1u);
  EXPECT_EQ(rp.arrays[0].tasks.size(), 2u);  // the finished one is gone
  EXPECT_EQ(rp.running_serving(), 1u);
  EXPECT_EQ(rp.draining(), 1u);
  EXPECT_EQ(rp.pending(), 13u);
  EXPECT_EQ(rp.target(), 3u);  // throttle 3, enough to start
  EXPECT_EQ(v.problems.size(), 2u);
  ASSERT_NE(v.find_task("10_1"), nullptr);
  EXPECT_TRUE(v.find_task("10_1")->draining());
  // The index finds what the scan finds, and nothing for ids that are not "ARRAY_TASK".
  TaskIndex idx(v);
  EXPECT_EQ(idx.find("10_1"), v.find_task("10_1"));
  EXPECT_EQ(idx.find("10_0"), v.find_task("10_0"));
  ASSERT_NE(idx.find("10_0"), nullptr);
  for (const char* bad : {"10_9", "11_1", "10", "_1", "10_", "10_1x", "x_1", "99999999999_1"}) {
    EXPECT_EQ(idx.find(bad), nullptr) << bad;
    EXPECT_EQ(v.find_task(bad), nullptr) << bad;
  }
}

// Slurm shows an array's last pending index as the meta record with that task id, still
// pending (seen on the loopback cluster; tests/unit/scaler/slurm_conformance.cc): it counts
// as pending and is named in the list closing the pool cancels.
TEST(Pools, TheLastPendingIndexShownAsATaskIsPendingByName) {
  std::string p = "heteroscale/v1 service=chat role=prefill group=g1 variant=v";
  std::vector<SlurmJob> jobs = {job(11, 10, 0, JobState::kRunning, p),
                                job(10, 10, 3, JobState::kPending, p)};
  jobs[1].state_reason = "JobArrayTaskLimit";
  auto v = build_view(jobs);
  const PoolArray& a = v.services["chat"]["g1"].prefill.arrays.at(0);
  EXPECT_EQ(a.pending, 1u);
  EXPECT_EQ(a.pending_tasks, "3");
  EXPECT_EQ(a.pending_reason, "JobArrayTaskLimit");
  EXPECT_EQ(a.tasks.size(), 1u);
}

TEST(Registrations, RejectBadBodiesNamingTheField) {
  Registrations r;
  TimePoint t{};
  EXPECT_EQ(r.upsert_json("{", t).error().where, "body");
  EXPECT_EQ(
      r.upsert_json(
           R"({"url":"http://h:1","role":"decode","service":"chat","group":"g1","job_id":"7"})", t)
          .error()
          .where,
      "array_task_id");
  EXPECT_EQ(
      r.upsert_json(
           R"({"url":"ftp://x","role":"decode","service":"chat","group":"g1","job_id":"7","array_task_id":"0"})",
           t)
          .error()
          .where,
      "url");
  EXPECT_TRUE(
      r.upsert_json(
           R"({"url":"http://h:1","role":"decode","service":"chat","group":"g1","job_id":"7","array_task_id":"0"})",
           t)
          .ok());
  EXPECT_EQ(r.heartbeat("http://h:2", t).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(r.heartbeat("http://h:1", t).ok());
}

TEST(ServedEndpoints, RatioGatesNewcomersButNeverRemovesServingOnes) {
  auto reg = [](std::string url, Role role, int n) {
    Registration r;
    r.url = url;
    r.role = role;
    r.service = "chat";
    r.group = "g1";
    r.job_id = "1";
    r.array_task_id = std::to_string(n);
    r.registered = r.last_heartbeat = TimePoint{} + std::chrono::seconds(n);
    return r;
  };
  // 1:1 ratio; three prefills ready, no decode yet: the first prefill enters (first of its
  // role), a second too (one unit ahead is tolerated), the third waits.
  std::vector<Registration> regs = {reg("http://p:1", Role::kPrefill, 1),
                                    reg("http://p:2", Role::kPrefill, 2),
                                    reg("http://p:3", Role::kPrefill, 3)};
  EndpointInputs in;
  in.registrations = &regs;
  in.now = TimePoint{} + std::chrono::seconds(5);
  auto eps = served_endpoints(in);
  EXPECT_EQ(eps.size(), 1u);  // 1 P vs 0 D: the second would be two units ahead
  regs.push_back(reg("http://d:1", Role::kDecode, 4));
  eps = served_endpoints(in);
  EXPECT_EQ(eps.size(), 3u);  // d1 enters, then p2 (2 vs 1 within one unit)
  // Already published instances stay even when the ratio is off; heartbeats age out.
  in.published = {"http://p:1", "http://p:2", "http://p:3"};
  regs.pop_back();
  eps = served_endpoints(in);
  EXPECT_EQ(eps.size(), 3u);
  in.now += std::chrono::seconds(60);
  EXPECT_TRUE(served_endpoints(in).empty());
}

TEST(EngineMetrics, VllmAndSglangNamesMapToOneSample) {
  auto v = prom::parse(
      "vllm:generation_tokens_total{model_name=\"m\"} "
      "10\nvllm:num_requests_running{model_name=\"m\"} 2\n"
      "vllm:num_requests_waiting{model_name=\"m\"} 3\n",
      "v");
  auto s = prom::parse(
      "sglang:generation_tokens_total{model_name=\"m\"} 7\nsglang:num_running_reqs 1\n"
      "sglang:num_queue_reqs 4\n",
      "s");
  auto a = instance_sample(*v, TimePoint{});
  auto b = instance_sample(*s, TimePoint{});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->generation_tokens, 10);
  EXPECT_EQ(a->waiting, 3);
  EXPECT_EQ(b->generation_tokens, 7);
  EXPECT_EQ(b->running, 1);
  EXPECT_EQ(b->waiting, 4);
  EXPECT_EQ(instance_sample(*prom::parse("up 1\n", "x"), TimePoint{}).error().code,
            ErrorCode::kNotFound);
}

// The daemon parses engines with parse_only(sample_names()): it must read what a whole
// parse reads, for both engines' shapes (labels, data-parallel ranks, P/D queues), while
// a histogram it does not read may be broken.
TEST(EngineMetrics, ReadingFromTheNamedSamplesOnlyEqualsTheWholeScrape) {
  const std::string vllm =
      "# HELP vllm:num_requests_running Number of requests.\n"
      "# TYPE vllm:num_requests_running gauge\n"
      "vllm:num_requests_running{model_name=\"m\",engine=\"0\"} 2\n"
      "vllm:num_requests_waiting{model_name=\"m\",engine=\"0\"} 3\n"
      "vllm:kv_cache_usage_perc{model_name=\"m\",engine=\"0\"} 0.25\n"
      "vllm:kv_cache_usage_perc{model_name=\"m\",engine=\"1\"} 0.5\n"
      "vllm:prompt_tokens_total{model_name=\"m\",engine=\"0\"} 900\n"
      "vllm:generation_tokens_total{model_name=\"m\",engine=\"0\"} 100\n"
      "vllm:prefix_cache_hits_total{model_name=\"m\",engine=\"0\"} 300\n"
      "vllm:time_to_first_token_seconds_bucket{model_name=\"m\",le=\"0.1\"} 4\n"
      "vllm:time_to_first_token_seconds_count{model_name=\"m\"} 4\n";
  const std::string sglang =
      "sglang:num_running_reqs{dp_rank=\"0\",tp_rank=\"0\"} 2\n"
      "sglang:num_running_reqs{dp_rank=\"0\",tp_rank=\"1\"} 2\n"
      "sglang:num_running_reqs{dp_rank=\"1\",tp_rank=\"0\"} 5\n"
      "sglang:num_queue_reqs{dp_rank=\"0\"} 1\n"
      "sglang:num_decode_transfer_queue_reqs{dp_rank=\"0\"} 2\n"
      "sglang:realtime_tokens_total{mode=\"decode\",dp_rank=\"0\"} 70\n"
      "sglang:realtime_tokens_total{mode=\"prefill_compute\",dp_rank=\"0\"} 40\n"
      "sglang:prompt_tokens_total 90\n"
      "sglang:cached_tokens_total 50\n"
      "sglang:token_usage{dp_rank=\"0\"} 0.3\n";
  for (const std::string& text : {vllm, sglang}) {
    auto whole = prom::parse(text, "t");
    auto only = prom::parse_only(text, "t", engine_metrics::sample_names());
    ASSERT_TRUE(whole.ok() && only.ok()) << text;
    auto a = engine_metrics::read(*whole), b = engine_metrics::read(*only);
    ASSERT_TRUE(a.ok() && b.ok());
    for (auto f :
         {&engine_metrics::Reading::generation_tokens, &engine_metrics::Reading::prompt_tokens,
          &engine_metrics::Reading::prompt_tokens_cached,
          &engine_metrics::Reading::prompt_tokens_computed, &engine_metrics::Reading::running,
          &engine_metrics::Reading::waiting, &engine_metrics::Reading::kv_usage}) {
      EXPECT_FALSE(std::isnan((*a).*f)) << text;
      EXPECT_EQ((*a).*f, (*b).*f) << text;
    }
    if (text == vllm) {
      EXPECT_LT(only->samples.size(), whole->samples.size());
    }
  }
  // A broken line of a histogram the daemon does not read is skipped; a broken read one fails.
  auto skipped = prom::parse_only(vllm + "vllm:e2e_request_latency_seconds_bucket{le=0.3} 1\n", "t",
                                  engine_metrics::sample_names());
  EXPECT_TRUE(skipped.ok());
  auto failed = prom::parse_only(vllm + "vllm:num_requests_waiting{ 1\n", "t",
                                 engine_metrics::sample_names());
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().where.find("t:12:"), std::string::npos) << failed.error().to_string();
}

TEST(DaemonConfig, EveryErrorWithFileLineAndField) {
  auto r = parse_daemon_config(R"(services:
  - name: chat
    variants: [{name: v, prefill_gpu: a, decode_gpu: b, ratio: "1:1", decode_tps_per_instance: 10}]
    bounds: {min_prefill: 1, max_prefill: 2, min_decode: 1, max_decode: 2}
daemon:
  listen: nowhere
  tick_s: 0.01
  routers: {chat: ["ftp://x"], other: []}
  colour: blue
  templates:
    chat: {prefill_script: /nonexistent/p.sbatch}
)",
                               "d.yaml");
  ASSERT_FALSE(r.ok());
  std::string all = r.error().to_string();
  for (const char* want :
       {"d.yaml:6:11: daemon.listen: expected HOST:PORT", "daemon.tick_s: must be at least 0.1",
        "daemon.routers.chat[0]: expected http://host:port", "daemon.routers.other: no service",
        "d.yaml:9:3: daemon.colour: unknown key", "daemon.templates.chat.decode_script: required",
        "cannot read /nonexistent/p.sbatch"})
    EXPECT_NE(all.find(want), std::string::npos) << want << "\n" << all;
}

}  // namespace
}  // namespace hs::scaler
