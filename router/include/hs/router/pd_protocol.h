// vLLM's NixlConnector P/D hand-off, the requests exactly as vLLM's own proxy builds them
// (vllm-project/vllm @ 030ea52e, tests/v1/kv_connector/nixl_integration/toy_proxy_server.py):
//  - the prefill gets the client's body with max_tokens 1 (and max_completion_tokens 1 when the
//    client sent it), stream false, no stream_options, and no min_tokens or
//    min_completion_tokens ("These args are not supported for P": vLLM's SamplingParams refuses
//    min_tokens > max_tokens), plus kv_transfer_params {"do_remote_decode": true,
//    "do_remote_prefill": false, "remote_*": null};
//  - the decode gets the client's body unchanged plus the prefill's whole kv_transfer_params
//    (version 2 adds remote_request_id and tp_size; nothing is picked out of it);
//  - both halves carry the same fresh X-Request-Id (vLLM refuses a request id already running:
//    a client's own id would collide between clients) and, when configured,
//    Authorization: Bearer KEY.
// Streamed decodes are asked for usage in every chunk (stream_options continuous_usage_stats)
// so the router can time each token, not each chunk; usage the client did not ask for is
// stripped from what it receives (sse.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace hs::router {

// What the client asked of the stream.
struct ClientStream {
  bool stream = false;
  bool include_usage = false;     // stream_options.include_usage
  bool continuous_usage = false;  // stream_options.continuous_usage_stats
};
ClientStream client_stream(const nlohmann::json& body);

nlohmann::json prefill_body(const nlohmann::json& client_body);
nlohmann::json decode_body(const nlohmann::json& client_body, const nlohmann::json& kv_params);

// Request ids: a random per-process prefix and a counter, unique across routers in practice.
class RequestIds {
 public:
  RequestIds();
  std::string next();

 private:
  std::string prefix_;
  std::atomic<uint64_t> counter_{0};
};

}  // namespace hs::router
