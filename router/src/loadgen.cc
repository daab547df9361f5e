// hs-loadgen's replay: one event loop on the calling thread; a coroutine sends each request at
// its time and a coroutine per request reads its stream, so a replay holding thousands of
// requests in flight holds that many sockets, not threads.
// GCC 12 misreads Asio 1.74's coroutine frame allocator as a new/delete mismatch once these
// coroutines are inlined (see common/src/http_batch.cc); the pairing is Asio's own.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <utility>  // before Asio: its awaitable.hpp uses std::exchange

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <nlohmann/json.hpp>

#include "hs/common/clock.h"
#include "hs/common/http.h"
#include "hs/common/http_async.h"
#include "hs/router/loadgen.h"
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

namespace net = boost::asio;

// What one replay shares between its coroutines (all on one thread: no locks).
struct Replay {
  Replay(const LoadgenOptions& opts, http::Url url, const RecordSink& s, const LoadgenProgress& p)
      : o(opts), u(std::move(url)), sink(s), progress(p) {}
  const LoadgenOptions& o;
  http::Url u;
  const RecordSink& sink;
  const LoadgenProgress& progress;
  Steady::time_point t0 = Steady::now();
  http::AsyncClient client;
  size_t in_flight = 0, done = 0, failed = 0, sent = 0;
  bool all_sent = false;
  void report() const {
    if (progress) progress(sent, done, failed);
  }
};

// The record of one request from its stream (or its failure).
void settle(RequestRecord& rec, const Result<http::ClientResponse>& resp, const SseTokenClock& tc,
            const std::string& raw, Steady::time_point sent, Steady::time_point end) {
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

// Reads a streamed answer to its end: the status, with the body fed to `tc` (and its first
// 4 KiB kept for an error's record).
http::Task<Result<http::ClientResponse>> read_stream(http::AsyncClient& client, http::Call call,
                                                     SseTokenClock& tc, std::string& raw) {
  auto st = co_await client.open(std::move(call));
  if (!st.ok()) co_return st.error();
  http::ClientResponse head;
  head.status = st->status();
  for (;;) {
    auto piece = co_await st->next();
    if (!piece.ok()) co_return piece.error();
    if (piece->empty()) break;
    tc.feed(*piece);
    if (raw.size() < 4096) raw.append(piece->substr(0, 4096 - raw.size()));
  }
  co_return head;
}

net::awaitable<void> send_one(Replay& R, workload::Request r) {
  RequestRecord rec;
  rec.request_id = "lg-" + std::to_string(r.id);
  rec.prompt_tokens = r.prompt_tokens;
  rec.wanted_tokens = r.output_tokens;
  json body = {{"prompt", prompt_token_ids(r)},
               {"max_tokens", r.output_tokens},
               {"min_tokens", r.output_tokens},
               {"ignore_eos", true},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}}};
  if (!R.o.model.empty()) body["model"] = R.o.model;
  http::Call call{R.u.host, R.u.port, "POST", R.u.target + "/v1/completions", body.dump(), {}};
  call.options.timeout = std::chrono::milliseconds(static_cast<int64_t>(R.o.timeout_s * 1000));
  call.options.headers = {{"x-request-id", rec.request_id}, {"content-type", "application/json"}};
  SseTokenClock tc;
  std::string raw;
  Steady::time_point sent = Steady::now();
  rec.send_s = to_seconds(sent - R.t0);
  try {
    auto resp = co_await read_stream(R.client, std::move(call), tc, raw);
    settle(rec, resp, tc, raw, sent, Steady::now());
  } catch (const std::exception& e) {
    rec.error = std::string("request failed: ") + e.what();
  }
  R.sink(rec);
  R.failed += rec.outcome == Outcome::kFailed;
  ++R.done;
  --R.in_flight;
}

// Sends every request of the stream at its time, each on a coroutine of its own.
net::awaitable<void> send_all(Replay& R, workload::RequestStream& requests) {
  auto ex = co_await net::this_coro::executor;
  net::steady_timer at(ex);
  workload::Request r;
  while (requests.next(r)) {
    at.expires_at(R.t0 + std::chrono::duration_cast<Steady::duration>(
                             from_seconds(r.arrival_s / R.o.time_scale)));
    boost::system::error_code ec;
    co_await at.async_wait(net::redirect_error(net::use_awaitable, ec));
    ++R.in_flight;
    ++R.sent;
    net::co_spawn(ex, send_one(R, r), net::detached);
  }
  R.all_sent = true;
}

// Reports progress every 500 ms until every request sent has finished.
net::awaitable<void> report_every(Replay& R) {
  net::steady_timer tick(co_await net::this_coro::executor);
  while (!(R.all_sent && R.in_flight == 0)) {
    R.report();
    tick.expires_after(std::chrono::milliseconds(R.all_sent ? 200 : 500));
    boost::system::error_code ec;
    co_await tick.async_wait(net::redirect_error(net::use_awaitable, ec));
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
  net::io_context io(1);
  Replay R(o, *u, sink, progress);
  net::co_spawn(io, send_all(R, requests), net::detached);
  net::co_spawn(io, report_every(R), net::detached);
  io.run();  // until the last request has finished
  R.client.close();
  R.report();
  if (requests.error()) return *requests.error();
  return R.sent;
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
