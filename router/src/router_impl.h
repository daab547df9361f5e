// Router::Impl: hs-router's state and the members that use it. router.cc holds its life
// cycle, the endpoint follower, the health prober and the light routes; completions.cc the
// request path (prefill, decode, relay), coroutines on the server's loop. Internal.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "endpoint_table.h"
#include "hs/common/http.h"
#include "hs/common/http_async.h"
#include "hs/common/logger.h"
#include "hs/common/prometheus_text.h"
#include "hs/router/offered_load.h"
#include "hs/router/router.h"
#include "hs/router/sse.h"

namespace hs::router {

using json = nlohmann::json;

struct Router::Impl {
  explicit Impl(const RouterOptions& opts) : o(opts), table(log, opts.unhealthy_after) {}
  // The server's loop holds sockets of `engines` and coroutine frames that refer to the fields
  // below: stop it, drop the idle sockets while their loop exists, then destroy the loop.
  ~Impl() {
    if (server) server->stop();
    engines.close();
    server.reset();
  }
  RouterOptions o;
  Logger log{"router", LogLevel::kInfo, stderr_sink()};
  EndpointTable table;
  RequestIds request_ids;
  // Kept-alive connections to the engines (a fresh TCP connection per call cost more than the
  // call on loopback), for the completion coroutines. Declared before the server, so that the
  // server (and the coroutine frames its loop holds) goes first.
  http::AsyncClient engines;
  std::unique_ptr<http::Server> server;
  mutable std::mutex mu;  // the fields below, and the follower's and prober's wake-up
  std::condition_variable cv;
  bool stopping = false;
  std::filesystem::file_time_type mtime{};
  std::thread follower, prober;
  Steady::time_point started = Steady::now();
  std::string last_scaler_body;
  bool scaler_failing = false;
  // metrics, under mu
  std::map<std::string, uint64_t> outcomes;  // "ok", "client_error", "failed", "client_gone"
  uint64_t retries = 0;
  std::map<std::string, prom::Histogram> ttft, tbt, e2e;  // per deployment group
  OfferedLoad offered;  // the service's demand as clients ask it (offered_load.h)
  std::deque<json> records;

  // Re-reads the endpoints file when it changed (or polls heteroscaled's endpoint set); a bad
  // new version keeps the old set, and so does an unreachable daemon.
  void reload(bool force);

  // Gives an engine call's instance back and says what its failure means. A deadline (the
  // connect, or the answer) leaves it a busy fallback: its accept queue may be full under a
  // burst; a refusal or a reset fails it. A failure on the router's own resources (out of file
  // descriptors under a burst) says nothing about the engine. Every engine call goes through
  // AsyncClient, whose errors step_error words (http::timed_out, http::local_failure).
  void release(const Endpoint& ep, const Result<http::ClientResponse>& r) {
    table.release(ep, r.ok() || http::local_failure(r.error()),
                  !r.ok() && http::timed_out(r.error()));
  }

  http::ClientOptions engine_call(std::chrono::milliseconds timeout,
                                  const std::string& rid = {}) const {
    http::ClientOptions co;
    co.timeout = timeout;
    co.connect_timeout = o.connect_timeout;
    if (!rid.empty()) co.headers.emplace_back("x-request-id", rid);
    co.headers.emplace_back("content-type", "application/json");
    if (!o.engine_api_key.empty())
      co.headers.emplace_back("authorization", "Bearer " + o.engine_api_key);
    return co;
  }

  // The models of instances that just passed their first check, cached so /v1/models answers
  // during a health blip.
  void fetch_models(const std::vector<Endpoint>& eps);

  // Probes every due instance at once (request_all): N dead peers cost one timeout, not N.
  void check_health(bool all_due);

  // Two threads, so that a hung daemon (the endpoint set's source) delays no health check and
  // a round of probes delays no endpoint update; neither is on the request path.
  void follow();

  void probe();

  struct Prefilled {
    Endpoint prefill;
    json kv_params;
    double prompt_tokens = -1;  // the prefill's usage.prompt_tokens, if it had one
  };
  // Runs the prefill half on an instance not in `tried`. On a client error (4xx) `reply` holds
  // the engine's answer to pass back; on no capacity or a failure, an error response.
  http::Task<std::optional<Prefilled>> prefill(const json& body, const std::string& path,
                                               const std::string& rid, std::set<std::string>& tried,
                                               int& attempts, http::Response& reply);

  void note_retry() {
    std::lock_guard<std::mutex> lk(mu);
    ++retries;
  }

  struct Outcome {
    std::string rid, client_rid, group, outcome, prefill, decode;
    Steady::time_point start;
    int attempts = 0;
    OfferedLoad::Ticket ticket;
    double output_tokens = -1;  // a non-streamed answer's usage.completion_tokens
  };
  void finish(const Outcome& x, const SseTokenClock* tc);

  // A coroutine on the connection's strand: it holds no thread while the engines work.
  http::Task<http::AsyncResponse> completions(http::Request req);

  http::Task<void> stream_decode(json body, std::string path, Outcome x, Prefilled pf,
                                 std::set<std::string> tried_p, http::ChunkSink* w);

  // Starts a request over from the prefill (in another group once this one is tried); false
  // (with the reply) when that fails too.
  http::Task<bool> restart(const json& body, const std::string& path, Outcome& x, Prefilled& pf,
                           std::set<std::string>& tried_p, http::Response& reply);

  // An error for the client: the reply itself, or (streaming, `w` set) an SSE error event.
  static http::Task<http::Response> answer_error(http::ChunkSink* w, int code, std::string message,
                                                 std::string type);

  // The decode half of a request, for both modes: a decode instance of the prefill's group;
  // before the first token, a failure (or a group without a usable decode) starts over once
  // from the prefill in another group. With `w` the decode's events are streamed to the
  // client and errors become an SSE error event; without it the reply is returned.
  http::Task<http::Response> decode(json body, std::string path, Outcome x, Prefilled pf,
                                    std::set<std::string> tried_p, http::ChunkSink* w);

  // Streams a decode's events to the client as they arrive, each written before the next is
  // read: a slow client slows the read from the engine instead of buffering a generation.
  // The status and headers come back; a broken stream is an error (forwarded tells if any
  // token had reached the client, so whether a retry is still possible).
  http::Task<Result<http::ClientResponse>> relay(http::Call call, SseTokenClock& tc,
                                                 http::ChunkSink& w, bool& forwarded,
                                                 bool& client_gone);

  std::string metrics_text();

  http::Response models_response();

  static bool is_completion(const http::Request& req) {
    const std::string p = req.path();
    return req.method == "POST" && (p == "/v1/completions" || p == "/v1/chat/completions");
  }

  // Everything but the completions (is_completion): light and synchronous, on the pool.
  http::Response handle(const http::Request& req);
};

}  // namespace hs::router
