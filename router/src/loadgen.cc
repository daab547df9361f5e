#include "hs/router/loadgen.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "hs/common/clock.h"
#include "hs/common/http.h"
#include "hs/router/sse.h"

namespace hs::router {

using json = nlohmann::json;
using Steady = std::chrono::steady_clock;

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kTooLong:
      return "too_long";
    case Outcome::kRejected:
      return "rejected";
    case Outcome::kFailed:
      return "failed";
  }
  return "?";
}

namespace {

constexpr uint32_t kBlock = 512;
constexpr uint32_t kVocab = 32000;  // below every served model's vocabulary

// A stable pseudo-random token for (seed, position): shared prefixes need equal ids, distinct
// blocks different ones.
uint32_t token(uint64_t seed, uint32_t k) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + k * 0xBF58476D1CE4E5B9ull + 1;
  x ^= x >> 31;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 29;
  return static_cast<uint32_t>(x % (kVocab - 100)) + 100;
}

void send_one(const LoadgenOptions& o, const http::Url& u, const workload::Request& r,
              Steady::time_point t0, RequestRecord& rec) {
  json body = {{"prompt", prompt_token_ids(r)},
               {"max_tokens", r.output_tokens},
               {"min_tokens", r.output_tokens},
               {"ignore_eos", true},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}}};
  if (!o.model.empty()) body["model"] = o.model;
  http::ClientOptions co;
  co.timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000));
  co.headers = {{"x-request-id", rec.request_id}, {"content-type", "application/json"}};
  SseTokenClock tc;
  std::string raw;
  Steady::time_point sent = Steady::now();
  rec.send_s = to_seconds(sent - t0);
  auto resp = http::request_stream(
      u.host, u.port, "POST", u.target + "/v1/completions", body.dump(),
      [&](std::string_view c) {
        tc.feed(c);
        if (raw.size() < 4096) raw.append(c.substr(0, 4096 - raw.size()));
        return true;
      },
      co);
  Steady::time_point end = Steady::now();
  if (!resp.ok()) {
    rec.error = resp.error().to_string();
    return;
  }
  rec.status = resp->status;
  if (resp->status != 200) {
    rec.error = raw;
    bool too_long = raw.find("maximum context length") != std::string::npos;
    rec.outcome = too_long             ? Outcome::kTooLong
                  : resp->status < 500 ? Outcome::kRejected
                                       : Outcome::kFailed;
    return;
  }
  const auto& chunks = tc.chunks();
  if (!chunks.empty()) {
    rec.ttft_s = to_seconds(chunks.front().t - sent);
    double mx = 0;
    for (const auto& [gap, n] : tc.token_gaps_s()) mx = std::max(mx, gap);
    rec.tbt_max_s = chunks.size() > 1 ? mx : -1;
    // Per token: a chunk may carry several (usage.completion_tokens counts them).
    uint64_t tokens = tc.tokens();
    if (tc.usage().is_object() && tc.usage().contains("completion_tokens") &&
        tc.usage()["completion_tokens"].is_number_unsigned())
      tokens = std::max<uint64_t>(tokens, tc.usage()["completion_tokens"].get<uint64_t>());
    rec.tbt_mean_s =
        tokens > 1 ? to_seconds(chunks.back().t - chunks.front().t) / (tokens - 1) : -1;
  }
  rec.e2e_s = to_seconds(end - sent);
  if (tc.usage().is_object() && tc.usage().contains("completion_tokens"))
    rec.output_tokens = tc.usage()["completion_tokens"].get<uint32_t>();
  if (!tc.error().is_null()) {
    rec.error = tc.error().dump();
  } else if (!tc.done()) {
    rec.error = "stream ended without [DONE]";
  } else if (tc.usage().is_null()) {
    rec.error = "no usage event (does the endpoint honour stream_options.include_usage?)";
  } else {
    rec.outcome = Outcome::kOk;
  }
}

}  // namespace

std::vector<uint32_t> prompt_token_ids(const workload::Request& r) {
  std::vector<uint32_t> ids;
  ids.reserve(r.prompt_tokens);
  for (uint32_t k = 0; k < r.prompt_tokens; ++k) {
    uint32_t b = k / kBlock;
    // Blocks named by hash_ids are shared across requests; the rest are the request's own.
    uint64_t seed = b < r.hash_ids.size() ? r.hash_ids[b] : (uint64_t{1} << 40) + r.id * 100003 + b;
    ids.push_back(token(seed, k % kBlock));
  }
  return ids;
}

Result<size_t> replay(const LoadgenOptions& o, workload::RequestStream& requests,
                      const RecordSink& sink, const LoadgenProgress& progress) {
  auto u = http::parse_url(o.url);
  if (!u.ok()) return u.error().with_context("--url");
  if (u->target == "/") u->target.clear();
  if (!(o.time_scale > 0)) return invalid_argument("time scale must be positive", "--time-scale");
  // One thread per request in flight (the HTTP client is synchronous); each detaches, hands
  // its record to the sink and signals under the lock, so nothing is held once it is done.
  std::mutex mu;
  std::condition_variable cv;
  size_t in_flight = 0, done = 0, failed = 0, sent = 0;
  Steady::time_point t0 = Steady::now();
  auto report = [&] {
    if (!progress) return;
    std::lock_guard<std::mutex> l(mu);
    progress(sent, done, failed);
  };
  Steady::time_point next_report = t0;
  workload::Request r;
  while (requests.next(r)) {
    auto at = t0 + from_seconds(r.arrival_s / o.time_scale);
    while (Steady::now() < at) {
      std::this_thread::sleep_until(std::min(at, next_report));
      if (Steady::now() >= next_report) {
        report();
        next_report += std::chrono::milliseconds(500);
      }
    }
    {
      std::lock_guard<std::mutex> l(mu);
      ++in_flight;
      ++sent;
    }
    std::thread([&, r] {
      RequestRecord rec;
      rec.request_id = "lg-" + std::to_string(r.id);
      rec.prompt_tokens = r.prompt_tokens;
      rec.wanted_tokens = r.output_tokens;
      send_one(o, *u, r, t0, rec);
      std::lock_guard<std::mutex> l(mu);
      sink(rec);
      failed += rec.outcome == Outcome::kFailed;
      ++done;
      --in_flight;
      cv.notify_all();
    }).detach();
  }
  for (;;) {
    std::unique_lock<std::mutex> l(mu);
    if (cv.wait_for(l, std::chrono::milliseconds(200), [&] { return in_flight == 0; })) break;
    if (progress) progress(sent, done, failed);
  }
  report();
  if (requests.error()) return *requests.error();
  return sent;
}

void LoadgenSummary::add(const RequestRecord& r, const LoadgenSlo& slo) {
  ++requests_;
  ++outcomes_[std::string(to_string(r.outcome))];
  if (r.outcome != Outcome::kOk) return;
  ++ok_;
  out_tokens_ += r.output_tokens;
  ttft_.add(r.ttft_s);
  if (r.tbt_mean_s >= 0) tbt_.add(r.tbt_mean_s);
  e2e_.add(r.e2e_s);
  if (r.ttft_s <= slo.ttft_s && r.tbt_mean_s <= slo.tbt_s) ++good_;
}

std::string LoadgenSummary::json(const LoadgenSlo& slo, double wall_s) {
  auto pct = [](Quantiles& q) {
    return nlohmann::json{
        {"p50", q.interpolated(0.5)}, {"p90", q.interpolated(0.9)}, {"p99", q.interpolated(0.99)}};
  };
  bool exact = ttft_.exact() && tbt_.exact() && e2e_.exact();
  nlohmann::json s = {
      {"requests", requests_},
      {"outcomes", outcomes_},
      {"output_tokens", out_tokens_},
      {"wall_s", wall_s},
      {"ttft_s", pct(ttft_)},
      {"tbt_mean_s", pct(tbt_)},
      {"e2e_s", pct(e2e_)},
      {"percentiles", exact ? "exact" : "sketch (relative error <= 0.5%)"},
      {"slo", {{"ttft_s", slo.ttft_s}, {"tbt_mean_s", slo.tbt_s}}},
      {"goodput_requests", good_},
      {"goodput_fraction", requests_ == 0 ? 0.0 : static_cast<double>(good_) / requests_},
      {"goodput_rps", wall_s > 0 ? good_ / wall_s : 0.0}};
  return s.dump(2) + "\n";
}

std::string summarize(const std::vector<RequestRecord>& records, const LoadgenSlo& slo,
                      double wall_s) {
  LoadgenSummary s;
  for (const auto& r : records) s.add(r, slo);
  return s.json(slo, wall_s);
}

std::string records_csv_header() {
  return "request_id,send_s,ttft_s,tbt_mean_s,tbt_max_s,e2e_s,prompt_tokens,wanted_tokens,output_"
         "tokens,status,outcome\n";
}

std::string record_csv_line(const RequestRecord& r) {
  char line[512];
  std::snprintf(line, sizeof line, "%s,%.6f,%.6f,%.6f,%.6f,%.6f,%u,%u,%u,%d,%s\n",
                r.request_id.c_str(), r.send_s, r.ttft_s, r.tbt_mean_s, r.tbt_max_s, r.e2e_s,
                r.prompt_tokens, r.wanted_tokens, r.output_tokens, r.status,
                std::string(to_string(r.outcome)).c_str());
  return line;
}

}  // namespace hs::router
