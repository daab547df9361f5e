// What vLLM's OpenAI server accepts in a /v1/completions or /v1/chat/completions body, and the
// status and error body it answers otherwise. hs-engine-sim applies these rules so that a
// request real vLLM would refuse is refused in tests too. Each rule names the vLLM source read:
//  - vllm/sampling_params.py @ 00388f65, SamplingParams._verify_args: n >= 1; presence and
//    frequency penalty in [-2, 2]; repetition_penalty finite and > 0; temperature finite in
//    [0, 2]; top_p in (0, 1]; top_k >= -1 and an integer; min_p in [0, 1]; max_tokens >= 1;
//    min_tokens >= 0 and <= max_tokens; logprobs >= 0 or -1; stop strings non-empty;
//    stop_token_ids integers; _verify_greedy_sampling: n must be 1 when temperature is 0.
//  - vllm/v1/engine/processor.py @ 01055a4b, _validate_logprobs: at most max_logprobs (the
//    engine's --max-logprobs, default 20) sample or prompt logprobs.
//  - vllm/entrypoints/openai protocol (ChatCompletionRequest/CompletionRequest validators):
//    stream_options only with stream=true; chat top_logprobs needs logprobs=true and is in
//    [0, max_logprobs]; the context check "This model's maximum context length is ...".
//  - serving_engine _check_model: an unknown model is 404 "The model `X` does not exist.".
//  - OpenAIBaseModel (extra="allow" with a logged warning): unknown fields are accepted and
//    ignored; they are reported back in `ignored_fields`.
//  - ErrorResponse / ErrorInfo (engine/protocol.py): {"error": {"message", "type", "param",
//    "code"}} with code = the HTTP status, type "BadRequestError" (400) or "NotFoundError"
//    (404), since vLLM 0.10.1 (PR #22099).
// Deliberately stricter than vLLM, and said so in the message: n > 1 and batched prompts are
// not simulated; numbers given as strings (which pydantic's lax mode would coerce) are refused.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace hs::launcher {

// The engine's limits a request is checked against.
struct VllmLimits {
  std::string served_model;
  uint32_t max_model_len = 32768;
  uint32_t max_logprobs = 20;    // vLLM's --max-logprobs default
  uint32_t vocab_size = 128256;  // Llama 3's; token ids must be below it
};

// A request vLLM would run, reduced to what the simulated engine needs.
struct VllmRequest {
  bool chat = false;
  uint32_t prompt_tokens = 0;
  uint32_t max_tokens = 16;  // vLLM's default for completions; the simulator's for chat too
  uint32_t min_tokens = 0;
  bool stream = false;
  bool include_usage = false;               // stream_options.include_usage
  bool continuous_usage = false;            // stream_options.continuous_usage_stats
  nlohmann::json kv_transfer_params;        // null when absent
  std::vector<std::string> ignored_fields;  // unknown top-level fields, as vLLM logs them
};

struct VllmError {
  int status = 400;
  std::string type = "BadRequestError";
  std::string message;
  std::string param;  // the offending field, or empty
  // {"error": {"message", "type", "param", "code"}} as vLLM >= 0.10.1 sends it.
  nlohmann::json body() const;
};

using VllmParse = std::variant<VllmRequest, VllmError>;

// Validates a request body. `chat` selects /v1/chat/completions' schema.
VllmParse parse_vllm_request(const nlohmann::json& body, bool chat, const VllmLimits& limits);

}  // namespace hs::launcher
