// heteroscaled's runtime parts, out of its main: the action executor, the Slurm link, the
// scraper and metrics store (against real loopback HTTP servers), the API over a published
// view, and the token file's rules. Slurm is a fake here; the integration tests use a real one.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "../common/dead_peer.h"
#include "hs/common/http.h"
#include "hs/scaler/action_executor.h"
#include "hs/scaler/daemon_api.h"
#include "hs/scaler/daemon_setup.h"
#include "hs/scaler/scraper.h"
#include "hs/scaler/sim_slurm.h"
#include "hs/scaler/slurm_link.h"

namespace hs::scaler {
namespace {

// Records every call; calls listed in `fail` fail with the given error.
class FakeSlurm final : public SlurmApi {
 public:
  std::vector<std::string> calls;
  std::map<std::string, Error> fail;  // "throttle 7" -> error
  bool reads_fail = false;
  std::vector<SlurmJob> jobs;

  Result<std::vector<SlurmJob>> load_jobs() override {
    calls.push_back("load_jobs");
    if (reads_fail) return unavailable("slurmctld down");
    return jobs;
  }
  Result<std::vector<SlurmNode>> load_nodes() override { return std::vector<SlurmNode>{}; }
  Result<SlurmJob> load_job(uint32_t id) override {
    calls.push_back("load_job " + std::to_string(id));
    SlurmJob j;
    j.job_id = id;
    j.comment = submitted_comment;
    return j;
  }
  std::string submitted_comment;
  Status set_throttle(uint32_t id, uint32_t n) override {
    return record("throttle " + std::to_string(id) + " " + std::to_string(n));
  }
  Status set_comment(uint32_t id, const std::string& c) override {
    return record("comment " + std::to_string(id) + " " + c);
  }
  Status cancel_task(const std::string& task) override { return record("cancel " + task); }
  Status cancel_array(uint32_t id) override { return record("cancel-array " + std::to_string(id)); }
  Result<uint32_t> submit(const SubmitSpec& s) override {
    Status st = record("submit " + s.name);
    if (!st.ok()) return st.error();
    submitted_comment = s.comment;
    return 900u;
  }
  Result<SlurmSiteConfig> load_site_config() override { return SlurmSiteConfig{}; }

 private:
  Status record(std::string call) {
    calls.push_back(call);
    if (auto it = fail.find(call); it != fail.end()) return it->second;
    return {};
  }
};

Action throttle(uint32_t id, uint32_t n) {
  Action a;
  a.kind = Action::Kind::kThrottle;
  a.job_id = id;
  a.value = n;
  return a;
}

Action cancel(const std::string& task) {
  Action a;
  a.kind = Action::Kind::kCancelTask;
  a.task = task;
  return a;
}

Logger quiet() { return Logger("test", LogLevel::kOff, null_sink()); }

TEST(ActionExecutor, StopsAtTheFirstFailureAndCountsByKindAndOutcome) {
  FakeSlurm slurm;
  slurm.fail["throttle 8 1"] = unavailable("slurmctld busy");
  ManualClock clock;
  std::vector<std::string> after;
  ActionExecutor ex(slurm, clock, quiet(), [&](const Action& a) { after.push_back(a.describe()); });
  std::vector<Action> batch = {throttle(7, 2), throttle(8, 1), cancel("8_3"), cancel("8_4")};
  BatchResult r = ex.run(batch);
  ASSERT_EQ(r.done.size(), 2u);
  EXPECT_TRUE(r.done[0].status.ok());
  EXPECT_FALSE(r.done[1].status.ok());
  EXPECT_EQ(r.dropped, 2u);
  EXPECT_EQ(slurm.calls, (std::vector<std::string>{"throttle 7 2", "throttle 8 1"}));
  EXPECT_EQ(after.size(), 1u) << "the hook runs only after actions that took effect";
  EXPECT_EQ(ex.counts().at("throttle ok"), 1u);
  EXPECT_EQ(ex.counts().at("throttle error"), 1u);
  EXPECT_EQ(ex.counts().count("cancel ok"), 0u);
}

TEST(ActionExecutor, CancellingATaskThatEndedMeetsTheGoal) {
  FakeSlurm slurm;
  slurm.fail["cancel 8_3"] = not_found("Job/step already completing or completed");
  ManualClock clock;
  ActionExecutor ex(slurm, clock, quiet());
  std::vector<Action> batch = {cancel("8_3"), cancel("8_4")};
  BatchResult r = ex.run(batch);
  ASSERT_EQ(r.done.size(), 2u);
  EXPECT_TRUE(r.done[0].status.ok());
  EXPECT_EQ(r.dropped, 0u);
  EXPECT_EQ(slurm.calls.back(), "cancel 8_4");
}

TEST(ActionExecutor, ASubmitReportsTheNewArray) {
  FakeSlurm slurm;
  ManualClock clock;
  ActionExecutor ex(slurm, clock, quiet());
  Action a;
  a.kind = Action::Kind::kSubmit;
  a.submit.name = "hs-chat-decode";
  std::vector<Action> batch = {a};
  BatchResult r = ex.run(batch);
  ASSERT_EQ(r.done.size(), 1u);
  EXPECT_EQ(r.done[0].submitted_array, 900u);
}

// A site's job_submit plugin rewriting comments at submission (simulated by SimSlurm's hook):
// text added around the tag is fine; a tag removed is detected, and the array cancelled.
TEST(ActionExecutor, ASubmissionWhoseTagDidNotSurviveIsCancelled) {
  auto run_with = [](std::function<std::string(const std::string&)> job_submit) {
    SimSlurmOptions o;
    o.job_submit_comment = std::move(job_submit);
    auto sim = std::make_unique<SimSlurm>(
        std::vector<SimNode>{{"node1", "h100", 4, {"leaf1", "h100"}}}, 1000, o);
    ManualClock clock;
    ActionExecutor ex(*sim, clock, quiet());
    Action a;
    a.kind = Action::Kind::kSubmit;
    a.submit.name = "hs-chat-decode-g2";
    a.submit.script = "#!/bin/bash\n";
    a.submit.array = "0-3%1";
    a.submit.tres_per_node = "gres:gpu:h100:1";
    a.submit.comment = "heteroscale/v1 service=chat role=decode group=g2 variant=v";
    std::vector<Action> batch = {a};
    BatchResult r = ex.run(batch);
    return std::pair{std::move(sim), std::move(r.done.at(0).status)};
  };
  auto [kept, ok] = run_with([](const std::string& c) { return "acct:7 " + c; });
  EXPECT_TRUE(ok.ok()) << ok.error().to_string();
  auto [stripped, bad] = run_with([](const std::string&) { return std::string("acct:7"); });
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("the heteroscale tag is missing, most likely rewritten by "
                                     "the site's job_submit plugin"),
            std::string::npos)
      << bad.error().message;
  EXPECT_NE(bad.error().message.find("cancelled, not left unmanaged"), std::string::npos);
  EXPECT_EQ(bad.error().where, "submit hs-chat-decode-g2");
  auto jobs = stripped->load_jobs();
  ASSERT_FALSE(jobs->empty());
  for (const auto& j : *jobs) EXPECT_EQ(j.state, JobState::kFinished);
}

TEST(SlurmLink, ATickDecidesOnlyOnAReadMadeAfterItsBatch) {
  FakeSlurm slurm;
  ManualClock clock;
  SlurmLink link(slurm, clock, quiet(), [] { return int64_t{1700000000}; });
  EXPECT_EQ(link.take(std::chrono::seconds(30)).decide_on, nullptr) << "nothing read yet";
  link.step();
  auto t = link.take(std::chrono::seconds(30));
  ASSERT_NE(t.decide_on, nullptr);
  EXPECT_EQ(t.decide_on->seq, 1u);
  EXPECT_EQ(t.decide_on->read_at_unix_s, 1700000000);

  link.submit({throttle(7, 3)});
  t = link.take(std::chrono::seconds(30));
  EXPECT_EQ(t.decide_on, nullptr) << "a batch is in flight";
  EXPECT_NE(t.latest, nullptr) << "the endpoint feed still has the last view";
  link.step();
  t = link.take(std::chrono::seconds(30));
  ASSERT_NE(t.decide_on, nullptr);
  EXPECT_EQ(t.decide_on->seq, 2u);
  EXPECT_EQ(slurm.calls, (std::vector<std::string>{"load_jobs", "throttle 7 3", "load_jobs"}));
  EXPECT_EQ(link.action_counts().at("throttle ok"), 1u);

  clock.advance(std::chrono::seconds(31));
  EXPECT_EQ(link.take(std::chrono::seconds(30)).decide_on, nullptr) << "stale";
}

TEST(SlurmLink, AnOutageHoldsTheTickAndAReadAfterItEndsTheBatch) {
  FakeSlurm slurm;
  ManualClock clock;
  SlurmLink link(slurm, clock, quiet(), [] { return int64_t{0}; });
  link.step();
  slurm.reads_fail = true;
  link.submit({throttle(7, 3)});
  link.step();  // the batch runs, the read after it fails
  clock.advance(std::chrono::seconds(4));
  auto t = link.take(std::chrono::seconds(30));
  EXPECT_EQ(t.decide_on, nullptr);
  ASSERT_NE(t.latest, nullptr);
  EXPECT_EQ(t.latest->seq, 1u);
  EXPECT_NE(t.error.find("slurmctld down"), std::string::npos);
  EXPECT_EQ(to_seconds(t.down_for), 4);
  slurm.reads_fail = false;
  link.step();
  t = link.take(std::chrono::seconds(30));
  ASSERT_NE(t.decide_on, nullptr) << "the first good read after the batch";
  EXPECT_EQ(t.decide_on->seq, 2u);
  EXPECT_TRUE(t.error.empty());
}

TEST(SlurmLink, RunStopsWhenAsked) {
  FakeSlurm slurm;
  SteadyClock clock;
  SlurmLink link(slurm, clock, quiet(), [] { return int64_t{0}; });
  link.set_read_period(std::chrono::hours(1));
  std::thread th([&] { link.run(); });
  link.stop();
  th.join();  // returns although the period is an hour
  SUCCEED();
}

// A loopback server answering /metrics with `body`, counting the connections it accepted.
struct MetricsServer {
  std::string body;
  int status = 200;
  std::unique_ptr<http::Server> server;
  explicit MetricsServer(std::string b, int st = 200) : body(std::move(b)), status(st) {
    auto s = http::Server::start({}, [this](const http::Request&) {
      return http::Response{status, "text/plain", body, {}, {}};
    });
    EXPECT_TRUE(s.ok());
    server = std::move(*s);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }
};

std::string vllm_metrics(double generated, double running) {
  return "vllm:num_requests_running{model_name=\"m\",engine=\"0\"} " + std::to_string(running) +
         "\nvllm:num_requests_waiting{model_name=\"m\",engine=\"0\"} 0\n"
         "vllm:kv_cache_usage_perc{model_name=\"m\",engine=\"0\"} 0.1\n"
         "vllm:prompt_tokens_total{model_name=\"m\",engine=\"0\"} 100\n"
         "vllm:generation_tokens_total{model_name=\"m\",engine=\"0\"} " +
         std::to_string(generated) + "\n";
}

Registration reg(const std::string& url, const std::string& task, Role role) {
  Registration r;
  r.url = url;
  r.service = "chat";
  r.group = "g1";
  r.role = role;
  r.job_id = "7";
  r.array_task_id = task;
  return r;
}

TEST(Scraper, KeepsOneConnectionPerTargetAcrossRounds) {
  MetricsServer a(vllm_metrics(10, 1)), b(vllm_metrics(20, 2)), broken("oops", 500);
  std::vector<Registration> regs = {reg(a.url(), "0", Role::kDecode),
                                    reg(b.url(), "1", Role::kDecode),
                                    reg(broken.url(), "2", Role::kPrefill)};
  DaemonConfig cfg;
  auto targets = scrape_targets(regs, cfg);
  ASSERT_EQ(targets.size(), 3u);
  Scraper s(2);
  for (int round = 0; round < 3; ++round) {
    auto res = s.scrape(targets, std::chrono::milliseconds(5000));
    ASSERT_EQ(res.size(), 3u);
    EXPECT_TRUE(res[0].body.ok());
    EXPECT_TRUE(res[1].body.ok());
    ASSERT_FALSE(res[2].body.ok());
    EXPECT_NE(res[2].body.error().to_string().find("HTTP 500"), std::string::npos);
  }
  // The two healthy engines' connections live across rounds; our server closes a connection
  // after an error status (http.cc), so the broken one is reopened each round.
  EXPECT_EQ(s.connects(), 2u + 3u);
  targets.pop_back();
  s.scrape(targets, std::chrono::milliseconds(5000));
  EXPECT_EQ(s.connects(), 5u) << "the healthy ones reused, the dropped target not reopened";
}

TEST(Scraper, AnUnreachableOrBadTargetIsThatTargetsErrorOnly) {
  MetricsServer a(vllm_metrics(10, 1));
  std::vector<ScrapeTarget> targets(3);
  targets[0].url = a.url();
  targets[1].url = "http://127.0.0.1:1";  // nothing listens on port 1
  targets[2].url = "not a url";
  Scraper s;
  auto res = s.scrape(targets, std::chrono::milliseconds(5000));
  EXPECT_TRUE(res[0].body.ok());
  EXPECT_FALSE(res[1].body.ok());
  EXPECT_FALSE(res[2].body.ok());
}

TEST(Scraper, DeadTargetsCostTheirDeadlineNotTheRound) {
  // 32 that drop SYNs (a dead node) and 32 that accept and never answer (a hung engine).
  MetricsServer a(vllm_metrics(10, 1));
  std::vector<test::DeadPeer> dead;
  std::vector<ScrapeTarget> targets(1);
  targets[0].url = a.url();
  for (int i = 0; i < 64; ++i) {
    dead.push_back(test::listen_dead(/*drop_syns=*/i < 32));
    ScrapeTarget t;
    t.url = "http://127.0.0.1:" + std::to_string(dead.back().port);
    targets.push_back(t);
  }
  Scraper s;  // 32 at once
  const auto deadline = std::chrono::milliseconds(300);
  auto t0 = std::chrono::steady_clock::now();
  auto res = s.scrape(targets, deadline);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(res.size(), targets.size());
  EXPECT_TRUE(res[0].body.ok()) << res[0].body.error().to_string();
  for (size_t i = 1; i < res.size(); ++i) {
    ASSERT_FALSE(res[i].body.ok()) << targets[i].url;
    EXPECT_NE(res[i].body.error().to_string().find(std::to_string(dead[i - 1].port)),
              std::string::npos)
        << res[i].body.error().to_string();
  }
  // One after another, 64 dead targets would cost 19.2 s; 32 at once, two deadlines. The
  // bound is half the serial cost, far above that, so a loaded machine still passes.
  EXPECT_LT(took, 64 * deadline / 2);
}

TEST(MetricsStore, WindowsFollowRegistrationsAndAge) {
  MetricsStore store(quiet());
  auto r0 = reg("http://a:1", "0", Role::kDecode), r1 = reg("http://b:1", "1", Role::kPrefill);
  std::vector<Registration> regs = {r0, r1};
  DaemonConfig cfg;
  auto targets = scrape_targets(regs, cfg);
  auto round = [&](double gen) {
    std::vector<ScrapeResult> out;
    for (const auto& t : targets) out.push_back({t, vllm_metrics(gen, 3)});
    return out;
  };
  TimePoint t0{};
  Duration keep = std::chrono::seconds(60);
  store.add_round(round(10), regs, keep, t0);
  store.add_round(round(20), regs, keep, t0 + std::chrono::seconds(30));
  auto m = store.add_round(round(30), regs, keep, t0 + std::chrono::seconds(61));
  const ServiceMetrics& sm = m->at("chat");
  ASSERT_EQ(sm.window.instances.size(), 2u);
  EXPECT_EQ(sm.window.instances[0].samples.size(), 2u) << "the sample older than 60 s is gone";
  EXPECT_EQ(sm.window.instances[0].samples.back().generation_tokens, 30);
  EXPECT_EQ(sm.engine_in_flight.at("http://a:1"), 3);

  regs.pop_back();  // the prefill deregistered
  targets.pop_back();
  m = store.add_round(round(40), regs, keep, t0 + std::chrono::seconds(62));
  ASSERT_EQ(m->at("chat").window.instances.size(), 1u);
  EXPECT_EQ(m->at("chat").window.instances[0].id, "7_0");
}

TEST(MetricsStore, AFailedOrMalformedScrapeAddsNoSample) {
  MetricsStore store(quiet());
  std::vector<Registration> regs = {reg("http://a:1", "0", Role::kDecode)};
  DaemonConfig cfg;
  auto t = scrape_targets(regs, cfg)[0];
  std::vector<ScrapeResult> bad = {{t, Result<std::string>(unavailable("timed out"))},
                                   {t, std::string("vllm:num_requests_running{ 1\n")}};
  auto m = store.add_round(bad, regs, std::chrono::seconds(60), TimePoint{});
  EXPECT_TRUE(m->at("chat").window.instances.empty());
}

http::Request req(std::string method, std::string target, std::string body = "",
                  std::string peer = "127.0.0.1:5555") {
  http::Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  r.peer = std::move(peer);
  return r;
}

TEST(DaemonApi, ServesThePublishedViewAndExplainsOneService) {
  Registrations regs;
  ManualClock clock;
  DaemonApi api(regs, clock, quiet(), "");
  EXPECT_EQ(api.handle(req("GET", "/healthz")).status, 200);
  auto v = std::make_shared<DaemonView>();
  v->status["chat"].hold_reason = "warming up";
  v->slurm = "ok";
  v->ticks = 12;
  api.publish(v);
  auto st = api.handle(req("GET", "/hs/status"));
  EXPECT_EQ(st.status, 200);
  EXPECT_NE(st.body.find("warming up"), std::string::npos);
  EXPECT_EQ(api.handle(req("GET", "/hs/explain?service=chat")).status, 200);
  EXPECT_EQ(api.handle(req("GET", "/hs/explain?service=other")).status, 404);
  EXPECT_EQ(api.handle(req("GET", "/hs/explain")).status, 404);
  EXPECT_EQ(api.handle(req("GET", "/nope")).status, 404);
  auto m = api.handle(req("GET", "/metrics"));
  EXPECT_NE(m.body.find("hs_scaler_ticks_total 12"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("hs_scaler_slurm_up 1"), std::string::npos);
  EXPECT_EQ(api.handle(req("DELETE", "/hs/pause")).status, 405);
}

TEST(DaemonApi, MutationsNeedLoopbackOrTheTokenAndAPauseShowsAtOnce) {
  Registrations regs;
  ManualClock clock;
  DaemonApi open(regs, clock, quiet(), "");
  EXPECT_EQ(open.handle(req("POST", "/hs/pause", "", "10.1.2.3:999")).status, 403);
  EXPECT_EQ(open.handle(req("POST", "/hs/pause")).status, 200);
  EXPECT_TRUE(open.pause_requested());
  EXPECT_NE(open.handle(req("GET", "/hs/status")).body.find("\"paused\": true"), std::string::npos)
      << "before the tick applies it";
  EXPECT_EQ(open.handle(req("POST", "/hs/resume")).status, 200);
  EXPECT_FALSE(open.pause_requested());

  DaemonApi locked(regs, clock, quiet(), "0123456789abcdef");
  EXPECT_EQ(locked.handle(req("POST", "/hs/pause")).status, 403) << "loopback is not enough";
  auto r = req("POST", "/hs/pause", "", "10.1.2.3:999");
  r.headers["authorization"] = "Bearer 0123456789abcdef";
  EXPECT_EQ(locked.handle(r).status, 200);
}

TEST(DaemonApi, RegistrationsAreStrictAndHeartbeatsNeedOne) {
  Registrations regs;
  ManualClock clock;
  DaemonApi api(regs, clock, quiet(), "");
  EXPECT_EQ(api.handle(req("POST", "/hs/register", "{")).status, 400);
  EXPECT_EQ(api.handle(req("POST", "/hs/heartbeat", R"({"url":"http://h:1"})")).status, 404);
  EXPECT_EQ(api.handle(req("POST", "/hs/heartbeat", R"({"link":"x"})")).status, 400);
  const char* body =
      R"({"url":"http://h:1","role":"decode","service":"chat","group":"g1","job_id":"7","array_task_id":"0"})";
  EXPECT_EQ(api.handle(req("POST", "/hs/register", body)).status, 200);
  EXPECT_EQ(api.handle(req("POST", "/hs/heartbeat", R"({"url":"http://h:1"})")).status, 200);
  EXPECT_EQ(regs.snapshot().size(), 1u);
  EXPECT_EQ(api.handle(req("POST", "/hs/deregister", R"({"url":"http://h:1"})")).status, 200);
  EXPECT_TRUE(regs.snapshot().empty());
}

TEST(DaemonSetup, TheTokenFileIsPrivateAndLongEnough) {
  auto dir = std::filesystem::temp_directory_path() / ("hs-token-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text, mode_t mode) {
    auto p = (dir / name).string();
    std::ofstream(p) << text;
    chmod(p.c_str(), mode);
    return p;
  };
  EXPECT_TRUE(load_token("").ok());
  EXPECT_EQ(load_token(write("open", "0123456789abcdef\n", 0644)).error().code,
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(load_token(write("short", "abc\n", 0600)).error().code, ErrorCode::kInvalidArgument);
  auto good = load_token(write("good", "  0123456789abcdef\n", 0600));
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, "0123456789abcdef");
  EXPECT_EQ(load_token((dir / "missing").string()).error().code, ErrorCode::kNotFound);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hs::scaler
