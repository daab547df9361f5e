// hs-engine-sim: a simulated LLM engine that speaks the subset of vLLM's HTTP API that
// heteroscale's router, load generator and scaler use, with vLLM's metric names
// (common/engine_metrics.h), vLLM's request validation (vllm_request.h) and vLLM's
// NixlConnector P/D protocol as its own test proxy drives it (vllm-project/vllm @ 030ea52e,
// tests/v1/kv_connector/nixl_integration/toy_proxy_server.py) with the version-2 transfer
// parameters of nixl_connector.py @ 002a1057:
//  - a prefill request carries kv_transfer_params {"do_remote_decode": true, ...},
//    max_tokens 1, stream false; the engine computes the prompt (time from the GPU's profile),
//    keeps the KV blocks and answers with kv_transfer_params {"do_remote_prefill": true,
//    "remote_engine_id", "remote_request_id", "remote_block_ids", "remote_host",
//    "remote_port", "tp_size"}, where remote_host/remote_port are its NIXL side channel;
//  - the decode request carries those parameters; the decode engine really pulls the blocks
//    from that side channel (an HTTP listener bound to exactly VLLM_NIXL_SIDE_CHANNEL_HOST,
//    an IP address, as vLLM's ZMQ listener is), taking the transfer time from the profile's KV
//    bytes per token; unknown, expired (VLLM_NIXL_ABORT_REQUEST_TIMEOUT, default 480 s),
//    already read or mismatched blocks are refused.
// Timing: prefill batches FCFS, decode continuous batching, both from the profile, divided by
// --time-scale. Endpoints: /v1/completions, /v1/chat/completions (stream or not), /v1/models,
// /health, /metrics, and heteroscale's /hs/drain, /hs/status, /hs/records.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "hs/common/error.h"
#include "hs/common/role.h"
#include "hs/launcher/vllm_request.h"
#include "hs/workload/profile.h"

namespace hs::launcher {

struct EngineSimOptions {
  Role role = Role::kBoth;
  std::string host = "127.0.0.1";  // HTTP listen address
  uint16_t port = 0;               // 0: any free port
  std::string served_model = "llama";
  std::string engine_id;        // default: "<side channel or listen host>:<port>"
  double time_scale = 1.0;      // > 1 runs faster than the profile
  double kv_gbytes_per_s = 25;  // KV pull bandwidth (one 200 Gb/s link)
  double kv_ttl_s = 480;        // vLLM's VLLM_NIXL_ABORT_REQUEST_TIMEOUT default
  uint32_t prefill_batch_tokens = 8192;
  // The NIXL side channel (prefill and decode roles only). The host must be an IP address:
  // libzmq up to 4.3.4 (Debian 12's) does not resolve names on bind ("No such device").
  std::string side_channel_host;
  uint16_t side_channel_port = 0;  // 0: any free port (a simulator convenience)
  uint32_t tensor_parallel = 1;
  // vLLM 0.10.x: every TP rank listens on side_channel_port + rank.
  bool side_channel_per_rank = false;
  uint32_t tokens_per_chunk = 1;  // tokens per streamed chunk (speculative decoding, intervals)
  // Seconds after start during which the port is bound but nothing is served (vLLM binds its
  // socket before the model loads): connections wait, /health does not answer.
  double load_delay_s = 0;
  std::string api_key;  // VLLM_API_KEY: /v1 routes then need "Authorization: Bearer KEY"
  uint32_t max_logprobs = 20;
  uint32_t vocab_size = 128256;
};

class EngineSim {
 public:
  static Result<std::unique_ptr<EngineSim>> start(const EngineSimOptions& options,
                                                  const workload::EngineProfile& profile);
  ~EngineSim();
  uint16_t port() const;
  uint16_t side_channel_port() const;  // 0 without a side channel
  const std::string& engine_id() const;
  // Stops taking new requests (503); in-flight ones finish; prefilled blocks stay readable.
  void drain();
  // Requests queued or running (a drain waits for this to reach 0).
  size_t in_flight() const;
  // Prefilled KV entries no decode has read yet (a prefill's drain waits for these too).
  size_t kv_held() const;
  // Stops everything now: in-flight streams are cut (vLLM < 0.18 on SIGTERM).
  void stop();

  struct Impl;
  // For start(): Impl is opaque outside the library, so nothing else can call this.
  explicit EngineSim(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace hs::launcher
