// hs-engine-sim: a simulated LLM engine that speaks the subset of vLLM's HTTP API that
// heteroscale's router, load generator and scaler use, with vLLM's metric names, and vLLM's
// NixlConnector P/D protocol (as its own test proxy drives it, vllm-project/vllm @ e0099301,
// tests/v1/kv_connector/nixl_integration/toy_proxy_server.py):
//  - a prefill request carries kv_transfer_params {"do_remote_decode": true, ...},
//    max_tokens 1, stream false; the prefill instance computes the prompt (time from the
//    GPU's profile), keeps the KV blocks and answers with kv_transfer_params
//    {"do_remote_prefill": true, "remote_engine_id", "remote_block_ids", "remote_host",
//    "remote_port"};
//  - the decode request carries those parameters; the decode instance really pulls the blocks
//    from that prefill instance (POST /hs/kv/pull on its HTTP port), taking the transfer time
//    from the profile's KV bytes per token, and refuses unknown or expired blocks (400).
// Timing: prefill batches FCFS, decode continuous batching, both from the profile, divided by
// --time-scale. Endpoints: /v1/completions, /v1/chat/completions (stream or not), /v1/models,
// /health, /metrics, and heteroscale's /hs/drain, /hs/status, /hs/records, /hs/kv/pull.
#pragma once

#include <memory>
#include <string>

#include "hs/common/error.h"
#include "hs/common/role.h"
#include "hs/workload/profile.h"

namespace hs::launcher {

struct EngineSimOptions {
  Role role = Role::kBoth;
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port
  std::string served_model = "llama";
  std::string engine_id;        // default: "<host>:<port>"
  double time_scale = 1.0;      // > 1 runs faster than the profile
  double kv_gbytes_per_s = 25;  // KV pull bandwidth (one 200 Gb/s link)
  double kv_ttl_s = 120;        // prefilled blocks not pulled by then are dropped
  uint32_t prefill_batch_tokens = 8192;
};

class EngineSim {
 public:
  static Result<std::unique_ptr<EngineSim>> start(const EngineSimOptions& options,
                                                  const workload::EngineProfile& profile);
  ~EngineSim();
  uint16_t port() const;
  const std::string& engine_id() const;
  // Stops taking new requests (503); in-flight ones finish; prefilled blocks stay pullable.
  void drain();
  // Requests queued or running (a drain waits for this to reach 0).
  size_t in_flight() const;
  // Stops everything now (in-flight streams end).
  void stop();

  struct Impl;
  // For start(): Impl is opaque outside the library, so nothing else can call this.
  explicit EngineSim(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace hs::launcher
