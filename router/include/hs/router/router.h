// hs-router: the OpenAI-compatible front door of a P/D-disaggregated service. Per request it
// picks the prefill instance with the fewest outstanding requests, runs vLLM's NixlConnector
// hand-off (pd_protocol.h) on the decode instance with the fewest outstanding requests *of
// the same deployment group*, and streams the tokens back. SGLang's bootstrap-room protocol
// is not routed yet (docs/serving-path.md).
//
// /health is liveness; /ready answers 200 only once some group has a healthy prefill and
// decode (or a healthy `both` engine). New instances get requests only after a passing health
// check; one that fails its first check is re-probed every 100 ms for 10 s. Health checks run
// at once for every instance (a dead one costs one probe timeout, however many there are), on
// a thread of their own beside the one following the endpoint set.
//
// A request that fails before its first token is retried once on other instances. Instances
// that fail a health check or a connection get no requests until a health check passes;
// draining instances get no new requests. Its /metrics give requests, errors, in-flight per
// instance, and TTFT/TBT/E2E histograms per deployment group (the scaler's latency signals).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/router/endpoints.h"

namespace hs::router {

struct RouterOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string endpoints_file;  // re-read when its modification time changes
  // Or: heteroscaled's endpoint set, e.g. "http://127.0.0.1:8470/hs/endpoints?service=chat",
  // polled every health interval.
  std::string scaler_url;
  std::chrono::milliseconds health_interval{1000};
  // Health checks that time out in a row before a healthy instance gets no more requests; a
  // refused connection or an error answer needs one. An engine answers /health late while a
  // burst arrives (vLLM serves it on the event loop that streams every token).
  int unhealthy_after = 2;
  std::chrono::milliseconds upstream_timeout{600000};
  // Bounds an engine call's connect: a node that drops SYNs costs this, then the request is
  // retried elsewhere (the default is Envoy's connect_timeout).
  std::chrono::milliseconds connect_timeout{5000};
  // Attempts per request before its first token (prefill and decode together): one retry.
  int max_attempts = 2;
  // Event-loop threads of its HTTP server (0: one per core): they carry every connection and
  // the completions (coroutines); the light routes run on a small pool beside them.
  size_t threads = 0;
  // Sent to engines as "Authorization: Bearer KEY" (vLLM started with an API key).
  std::string engine_api_key;
};

class Router {
 public:
  // Fails when the endpoints file is unreadable or bad at start (later bad versions are
  // logged and the last good set is kept).
  static Result<std::unique_ptr<Router>> start(const RouterOptions& options);
  ~Router();
  uint16_t port() const;
  void stop();
  // SIGTERM's stop: no new connections; requests in flight (streams included) finish for up
  // to `bound`; returns how many were cut at the bound (also logged).
  size_t drain(std::chrono::milliseconds bound);

  struct Impl;
  // For start(): Impl is opaque outside the library, so nothing else can call this.
  explicit Router(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace hs::router
