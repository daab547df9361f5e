#include "hs/router/offered_load.h"

#include <algorithm>
#include <cmath>

#include "hs/common/router_metrics.h"

namespace hs::router {

using json = nlohmann::json;
namespace rm = router_metrics;

namespace {

bool all_ints(const json& a) {
  return std::all_of(a.begin(), a.end(), [](const json& x) { return x.is_number_integer(); });
}

// Text of one chat message's content: a string, or parts of which the "text" ones count.
double content_bytes(const json& content) {
  if (content.is_string()) return static_cast<double>(content.get_ref<const std::string&>().size());
  double n = 0;
  if (content.is_array())
    for (const json& part : content)
      if (part.is_object() && part.contains("text") && part["text"].is_string())
        n += static_cast<double>(part["text"].get_ref<const std::string&>().size());
  return n;
}

double max_tokens_of(const json& body) {
  for (const char* k : {"max_completion_tokens", "max_tokens"})
    if (body.contains(k) && body[k].is_number() && body[k].get<double>() > 0)
      return body[k].get<double>();
  return 0;
}

}  // namespace

// The prompt forms of vLLM's CompletionRequest (prompt: str | list[str] | list[int] |
// list[list[int]]) and ChatCompletionRequest (messages[].content: str | list of parts).
void prompt_size(const json& body, double* exact_tokens, double* text_bytes) {
  *exact_tokens = 0;
  *text_bytes = 0;
  if (!body.is_object()) return;
  if (body.contains("prompt")) {
    const json& p = body["prompt"];
    if (p.is_string()) {
      *text_bytes = static_cast<double>(p.get_ref<const std::string&>().size());
    } else if (p.is_array() && all_ints(p)) {
      *exact_tokens = static_cast<double>(p.size());
    } else if (p.is_array()) {
      for (const json& x : p) {
        if (x.is_string())
          *text_bytes += static_cast<double>(x.get_ref<const std::string&>().size());
        else if (x.is_array() && all_ints(x))
          *exact_tokens += static_cast<double>(x.size());
      }
    }
  }
  if (body.contains("messages") && body["messages"].is_array())
    for (const json& m : body["messages"])
      if (m.is_object() && m.contains("content")) *text_bytes += content_bytes(m["content"]);
}

OfferedLoad::Ticket OfferedLoad::arrive(const json& body) {
  double exact = 0, bytes = 0;
  prompt_size(body, &exact, &bytes);
  return arrive(exact, bytes, max_tokens_of(body));
}

OfferedLoad::Ticket OfferedLoad::arrive(double exact_tokens, double text_bytes, double max_tokens) {
  Ticket t;
  t.exact_tokens = exact_tokens;
  t.text_bytes = text_bytes;
  t.prompt_tokens = exact_tokens + text_bytes * tokens_per_byte_;
  t.max_tokens = max_tokens;
  requests_ += 1;
  prompt_tokens_ += t.prompt_tokens;
  // Nothing is counted before a real output was seen: clients' max_tokens is often many times
  // the real output, and a router restarted under load would otherwise report a multiple of
  // the demand for a whole window, which the scaler would answer with a deficit-sized
  // scale-out. Served decode tokens/s sizes the pools meanwhile.
  if (t.max_tokens > 0 && ratio_known_)
    decode_tokens_ += t.max_tokens * std::min(1.0, output_per_max_);
  else if (output_known_)
    decode_tokens_ += t.max_tokens > 0 ? std::min(t.max_tokens, mean_output_) : mean_output_;
  t.in_backlog = true;
  backlog_tokens_ += t.prompt_tokens;
  backlog_requests_ += 1;
  return t;
}

void OfferedLoad::prefilled(Ticket& t, double usage_prompt_tokens) {
  if (t.in_backlog) {
    t.in_backlog = false;
    backlog_tokens_ = std::max(0.0, backlog_tokens_ - t.prompt_tokens);
    backlog_requests_ = std::max(0.0, backlog_requests_ - 1);
  }
  // Only an all-text prompt teaches the ratio (a mixed one would blur it).
  if (usage_prompt_tokens > 0 && t.text_bytes > 0 && t.exact_tokens == 0) {
    double err = std::fabs(t.prompt_tokens - usage_prompt_tokens) / usage_prompt_tokens;
    error_ = error_known_ ? (1 - kAlpha) * error_ + kAlpha * err : err;
    error_known_ = true;
    double ratio = usage_prompt_tokens / t.text_bytes;
    tokens_per_byte_ = (1 - kAlpha) * tokens_per_byte_ + kAlpha * ratio;
  }
}

void OfferedLoad::finished(const Ticket& t, double output_tokens) {
  if (output_tokens < 0) return;
  mean_output_ =
      output_known_ ? (1 - kAlpha) * mean_output_ + kAlpha * output_tokens : output_tokens;
  output_known_ = true;
  if (t.max_tokens > 0) {
    double r = std::min(1.0, output_tokens / t.max_tokens);
    output_per_max_ = ratio_known_ ? (1 - kAlpha) * output_per_max_ + kAlpha * r : r;
    ratio_known_ = true;
  }
}

void OfferedLoad::write(prom::Writer& w) const {
  auto one = [&](std::string_view name, prom::MetricType type, const char* help, double v) {
    w.family(name, type, help);
    w.sample(name, {}, v);
  };
  using T = prom::MetricType;
  one(rm::kOfferedRequests, T::kCounter, "Requests that arrived.", requests_);
  one(rm::kOfferedPromptTokens, T::kCounter,
      "Prompt tokens that arrived (token ids exactly, text estimated).", prompt_tokens_);
  one(rm::kOfferedDecodeTokens, T::kCounter, "Output tokens the arrivals will ask for (estimated).",
      decode_tokens_);
  one(rm::kBacklogPromptTokens, T::kGauge,
      "Prompt tokens of requests whose prefill has not answered.", backlog_tokens_);
  one(rm::kBacklogRequests, T::kGauge, "Requests whose prefill has not answered.",
      backlog_requests_);
  one(rm::kPromptTokensPerByte, T::kGauge, "Learned prompt tokens per byte of text.",
      tokens_per_byte_);
  one(rm::kPromptEstimateError, T::kGauge,
      "Mean relative error of text prompts' token estimates (0 until measured).", error_);
}

}  // namespace hs::router
