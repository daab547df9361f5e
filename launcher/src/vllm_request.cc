#include "hs/launcher/vllm_request.h"

#include <cmath>
#include <cstdint>
#include <set>

namespace hs::launcher {

using json = nlohmann::json;

json VllmError::body() const {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", param.empty() ? json(nullptr) : json(param)},
            {"code", status}}}};
}

namespace {

// Top-level fields vLLM's request models declare (CompletionRequest, ChatCompletionRequest in
// vllm/entrypoints/openai/{completion,chat_completion}/protocol.py); anything else is logged
// and ignored there, and listed in VllmRequest::ignored_fields here.
const std::set<std::string>& common_fields() {
  static const std::set<std::string> f = {"model",
                                          "frequency_penalty",
                                          "logit_bias",
                                          "logprobs",
                                          "max_tokens",
                                          "n",
                                          "presence_penalty",
                                          "seed",
                                          "stop",
                                          "stream",
                                          "stream_options",
                                          "temperature",
                                          "top_p",
                                          "user",
                                          "best_of",
                                          "use_beam_search",
                                          "top_k",
                                          "min_p",
                                          "repetition_penalty",
                                          "length_penalty",
                                          "stop_token_ids",
                                          "include_stop_str_in_output",
                                          "ignore_eos",
                                          "min_tokens",
                                          "skip_special_tokens",
                                          "spaces_between_special_tokens",
                                          "truncate_prompt_tokens",
                                          "allowed_token_ids",
                                          "prompt_logprobs",
                                          "add_special_tokens",
                                          "response_format",
                                          "guided_json",
                                          "guided_regex",
                                          "guided_choice",
                                          "guided_grammar",
                                          "guided_decoding_backend",
                                          "guided_whitespace_pattern",
                                          "structured_outputs",
                                          "priority",
                                          "request_id",
                                          "logits_processors",
                                          "return_tokens_as_token_ids",
                                          "return_token_ids",
                                          "cache_salt",
                                          "kv_transfer_params",
                                          "vllm_xargs",
                                          "bad_words",
                                          "thinking_token_budget",
                                          "echo"};
  return f;
}
const std::set<std::string>& completion_fields() {
  static const std::set<std::string> f = {"prompt", "suffix", "prompt_embeds"};
  return f;
}
const std::set<std::string>& chat_fields() {
  static const std::set<std::string> f = {"messages",
                                          "top_logprobs",
                                          "max_completion_tokens",
                                          "tools",
                                          "tool_choice",
                                          "reasoning_effort",
                                          "include_reasoning",
                                          "parallel_tool_calls",
                                          "add_generation_prompt",
                                          "continue_final_message",
                                          "documents",
                                          "chat_template",
                                          "chat_template_kwargs",
                                          "mm_processor_kwargs",
                                          "metadata",
                                          "modalities",
                                          "store",
                                          "service_tier"};
  return f;
}

VllmError bad(std::string message, std::string param = {}) {
  return VllmError{400, "BadRequestError", std::move(message), std::move(param)};
}

std::string num(double v) {
  json j = v;
  return j.dump();
}

// A field that must be a JSON number (not a string, not a bool) when present.
std::optional<VllmError> number(const json& b, const char* k, double& out) {
  if (!b.contains(k) || b[k].is_null()) return std::nullopt;
  if (!b[k].is_number()) return bad(std::string(k) + " must be a number, got " + b[k].dump(), k);
  out = b[k].get<double>();
  return std::nullopt;
}
std::optional<VllmError> integer(const json& b, const char* k, int64_t& out) {
  if (!b.contains(k) || b[k].is_null()) return std::nullopt;
  if (!b[k].is_number_integer())
    return bad(std::string(k) + " must be an integer, got " + b[k].dump(), k);
  out = b[k].get<int64_t>();
  return std::nullopt;
}

// SamplingParams._verify_args and _verify_greedy_sampling, on the fields a client can send.
std::optional<VllmError> sampling_rules(const json& b, int64_t max_tokens) {
  int64_t n = 1;
  if (auto e = integer(b, "n", n)) return e;
  if (n < 1) return bad("n must be at least 1, got " + std::to_string(n) + ".", "n");
  double pp = 0, fp = 0, rp = 1, temp = 1, top_p = 1, min_p = 0;
  for (auto [k, v] : {std::pair{"presence_penalty", &pp}, std::pair{"frequency_penalty", &fp}}) {
    if (auto e = number(b, k, *v)) return e;
    if (!(*v >= -2.0 && *v <= 2.0))
      return bad(std::string(k) + " must be in [-2, 2], got " + num(*v) + ".", k);
  }
  if (auto e = number(b, "repetition_penalty", rp)) return e;
  if (!std::isfinite(rp) || rp <= 0)
    return bad("repetition_penalty must be greater than zero, got " + num(rp) + ".",
               "repetition_penalty");
  if (auto e = number(b, "temperature", temp)) return e;
  if (!std::isfinite(temp))
    return bad("temperature must be a finite number, got " + num(temp) + ".", "temperature");
  if (temp < 0)
    return bad("temperature must be non-negative, got " + num(temp) + ".", "temperature");
  if (temp > 2) return bad("temperature must be in [0, 2], got " + num(temp) + ".", "temperature");
  if (auto e = number(b, "top_p", top_p)) return e;
  if (!(top_p > 0 && top_p <= 1))
    return bad("top_p must be in (0, 1], got " + num(top_p) + ".", "top_p");
  if (b.contains("top_k") && !b["top_k"].is_null()) {
    if (!b["top_k"].is_number_integer())
      return bad("top_k must be an integer, got " + b["top_k"].dump(), "top_k");
    if (b["top_k"].get<int64_t>() < -1)
      return bad("top_k must be 0 (disable), or at least 1, got " + b["top_k"].dump() + ".",
                 "top_k");
  }
  if (auto e = number(b, "min_p", min_p)) return e;
  if (!(min_p >= 0 && min_p <= 1))
    return bad("min_p must be in [0, 1], got " + num(min_p) + ".", "min_p");
  int64_t min_tokens = 0;
  if (auto e = integer(b, "min_tokens", min_tokens)) return e;
  if (min_tokens < 0)
    return bad(
        "min_tokens must be greater than or equal to 0, got " + std::to_string(min_tokens) + ".",
        "min_tokens");
  if (min_tokens > max_tokens)
    return bad("min_tokens must be less than or equal to max_tokens=" + std::to_string(max_tokens) +
                   ", got " + std::to_string(min_tokens) + ".",
               "min_tokens");
  if (b.contains("stop") && !b["stop"].is_null()) {
    const json& s = b["stop"];
    bool ok = s.is_string() || s.is_array();
    if (s.is_array())
      for (const auto& x : s) ok = ok && x.is_string();
    if (!ok) return bad("stop must be a string or a list of strings", "stop");
    bool empty = s.is_string() ? s.get_ref<const std::string&>().empty() : false;
    if (s.is_array())
      for (const auto& x : s) empty = empty || x.get_ref<const std::string&>().empty();
    if (empty) return bad("stop cannot contain an empty string.", "stop");
  }
  if (b.contains("stop_token_ids") && !b["stop_token_ids"].is_null()) {
    const json& s = b["stop_token_ids"];
    bool ok = s.is_array();
    if (ok)
      for (const auto& x : s) ok = ok && x.is_number_integer();
    if (!ok)
      return bad("stop_token_ids must contain only integers, got " + s.dump() + ".",
                 "stop_token_ids");
  }
  if (temp < 1e-5 && n > 1)
    return bad("n must be 1 when using greedy sampling, got " + std::to_string(n) + ".", "n");
  if (n > 1) return bad("n > 1 is not simulated by hs-engine-sim (vLLM would accept it)", "n");
  return std::nullopt;
}

// Sample and prompt logprobs (processor.py _validate_logprobs; chat's top_logprobs validator).
std::optional<VllmError> logprob_rules(const json& b, bool chat, uint32_t max_logprobs) {
  auto too_many = [&](const char* what, int64_t n) {
    std::string w = what;
    return bad("Requested " + w + " logprobs of " + std::to_string(n) +
                   ", which is greater than max allowed: " + std::to_string(max_logprobs),
               w == "prompt" ? "prompt_logprobs"
               : chat        ? "top_logprobs"
                             : "logprobs");
  };
  if (chat) {
    bool lp = false;
    if (b.contains("logprobs") && !b["logprobs"].is_null()) {
      if (!b["logprobs"].is_boolean()) return bad("logprobs must be true or false", "logprobs");
      lp = b["logprobs"].get<bool>();
    }
    int64_t top = -2;
    if (auto e = integer(b, "top_logprobs", top)) return e;
    if (top != -2) {
      if (!lp)
        return bad("when using `top_logprobs`, `logprobs` must be set to true.", "top_logprobs");
      if (top < 0 && top != -1)
        return bad("`top_logprobs` must be a positive value.", "top_logprobs");
      if (top > static_cast<int64_t>(max_logprobs)) return too_many("sample", top);
    }
  } else {
    int64_t lp = 0;
    if (auto e = integer(b, "logprobs", lp)) return e;
    if (lp < 0 && lp != -1)
      return bad("logprobs must be non-negative or -1, got " + std::to_string(lp) + ".",
                 "logprobs");
    if (lp > static_cast<int64_t>(max_logprobs)) return too_many("sample", lp);
  }
  int64_t plp = 0;
  if (auto e = integer(b, "prompt_logprobs", plp)) return e;
  if (plp < 0 && plp != -1)
    return bad("prompt_logprobs must be non-negative or -1, got " + std::to_string(plp) + ".",
               "prompt_logprobs");
  if (plp > static_cast<int64_t>(max_logprobs)) return too_many("prompt", plp);
  return std::nullopt;
}

// The prompt's length in tokens (text is estimated at 4 bytes a token).
std::optional<VllmError> prompt_length(const json& b, bool chat, const VllmLimits& l,
                                       uint32_t& tokens) {
  size_t chars = 0;
  if (chat) {
    if (!b.contains("messages") || !b["messages"].is_array())
      return bad("messages: Field required (a list of messages)", "messages");
    if (b["messages"].empty()) return bad("messages must not be empty", "messages");
    for (const auto& m : b["messages"]) {
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
        return bad("each message needs a string role", "messages");
      if (!m.contains("content") || m["content"].is_null()) continue;  // e.g. tool calls
      const json& c = m["content"];
      if (c.is_string()) {
        chars += c.get_ref<const std::string&>().size();
      } else if (c.is_array()) {
        for (const auto& part : c) {
          if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
              !part["text"].is_string())
            return bad(
                "content parts other than {\"type\": \"text\"} are not simulated by "
                "hs-engine-sim",
                "messages");
          chars += part["text"].get_ref<const std::string&>().size();
        }
      } else {
        return bad("message content must be a string or a list of content parts", "messages");
      }
    }
    tokens = static_cast<uint32_t>(std::max<size_t>(1, (chars + 3) / 4));
    return std::nullopt;
  }
  if (!b.contains("prompt") || b["prompt"].is_null())
    return bad("prompt: Field required", "prompt");
  const json& p = b["prompt"];
  if (p.is_string()) {
    if (p.get_ref<const std::string&>().empty())
      return bad("The decoder prompt cannot be empty", "prompt");
    tokens = static_cast<uint32_t>(
        std::max<size_t>(1, (p.get_ref<const std::string&>().size() + 3) / 4));
    return std::nullopt;
  }
  if (!p.is_array() || p.empty())
    return bad("prompt must be a string or a non-empty list of token ids", "prompt");
  if (p[0].is_string() || p[0].is_array())
    return bad("batched prompts are not simulated by hs-engine-sim (vLLM would accept them)",
               "prompt");
  for (const auto& t : p) {
    if (!t.is_number_integer()) return bad("prompt token ids must be integers", "prompt");
    int64_t id = t.get<int64_t>();
    if (id < 0 || id >= static_cast<int64_t>(l.vocab_size))
      return bad("Token id " + std::to_string(id) + " is out of vocabulary", "prompt");
  }
  tokens = static_cast<uint32_t>(p.size());
  return std::nullopt;
}

}  // namespace

VllmParse parse_vllm_request(const json& b, bool chat, const VllmLimits& l) {
  if (!b.is_object()) return bad("request body is not a JSON object");
  if (b.contains("model") && !b["model"].is_null()) {
    if (!b["model"].is_string()) return bad("model must be a string", "model");
    const std::string& m = b["model"].get_ref<const std::string&>();
    if (m != l.served_model)
      return VllmError{404, "NotFoundError", "The model `" + m + "` does not exist.", "model"};
  }
  VllmRequest r;
  r.chat = chat;
  for (const auto& [k, v] : b.items())
    if (!common_fields().count(k) && !(chat ? chat_fields() : completion_fields()).count(k))
      r.ignored_fields.push_back(k);
  if (auto e = prompt_length(b, chat, l, r.prompt_tokens)) return *e;
  // Chat takes max_completion_tokens over the deprecated max_tokens.
  const char* mt =
      chat && b.contains("max_completion_tokens") && !b["max_completion_tokens"].is_null()
          ? "max_completion_tokens"
          : "max_tokens";
  int64_t max_tokens = 16;
  if (auto e = integer(b, mt, max_tokens)) return *e;
  if (max_tokens < 1)
    return bad("max_tokens must be at least 1, got " + std::to_string(max_tokens) + ".", mt);
  if (auto e = sampling_rules(b, max_tokens)) return *e;
  if (auto e = logprob_rules(b, chat, l.max_logprobs)) return *e;
  if (b.contains("stream") && !b["stream"].is_null() && !b["stream"].is_boolean())
    return bad("stream must be true or false", "stream");
  r.stream = b.value("stream", false);
  if (b.contains("stream_options") && !b["stream_options"].is_null()) {
    if (!r.stream)
      return bad("Stream options can only be defined when `stream=True`.", "stream_options");
    const json& so = b["stream_options"];
    if (!so.is_object()) return bad("stream_options must be an object", "stream_options");
    for (const char* k : {"include_usage", "continuous_usage_stats"})
      if (so.contains(k) && !so[k].is_null() && !so[k].is_boolean())
        return bad(std::string("stream_options.") + k + " must be true or false", "stream_options");
    r.include_usage = so.value("include_usage", false);
    r.continuous_usage = so.value("continuous_usage_stats", false);
  }
  uint64_t total = uint64_t{r.prompt_tokens} + static_cast<uint64_t>(max_tokens);
  if (total > l.max_model_len)
    return bad("This model's maximum context length is " + std::to_string(l.max_model_len) +
                   " tokens. However, you requested " + std::to_string(total) + " tokens (" +
                   std::to_string(r.prompt_tokens) + " in the messages, " +
                   std::to_string(max_tokens) +
                   " in the completion). Please reduce the length of the messages or completion.",
               chat ? "messages" : "prompt");
  r.max_tokens = static_cast<uint32_t>(max_tokens);
  int64_t min_tokens = 0;
  (void)integer(b, "min_tokens", min_tokens);
  r.min_tokens = static_cast<uint32_t>(min_tokens);
  if (b.contains("kv_transfer_params") && !b["kv_transfer_params"].is_null()) {
    if (!b["kv_transfer_params"].is_object())
      return bad("kv_transfer_params must be an object", "kv_transfer_params");
    r.kv_transfer_params = b["kv_transfer_params"];
  }
  return r;
}

}  // namespace hs::launcher
