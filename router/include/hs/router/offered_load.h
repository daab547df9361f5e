// The router's count of offered load (common/router_metrics.h, kOffered* and kBacklog*): what
// clients ask of the service, counted on arrival, before any instance is picked, so the
// scaler sees demand even when capacity is short and requests are refused or queue.
//  - Prompt tokens: a token-id prompt ("prompt": [ids] or [[ids], ...]) is counted exactly; text
//    (a prompt string or strings, chat messages' text) as bytes x a tokens-per-byte ratio
//    learned from the prefill responses' usage.prompt_tokens. The mean relative error of that
//    estimate, measured against the same responses, is exported beside it.
//  - Decode tokens: max_tokens (or max_completion_tokens) x the learned ratio of real output
//    to it; without either, the running mean of real output lengths. Nothing until a first
//    output was seen (max_tokens alone can be many times the real output).
// Not thread-safe: the router calls it under its own lock.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "hs/common/prometheus_text.h"

namespace hs::router {

class OfferedLoad {
 public:
  // One request's share, kept by the caller from arrival to its end.
  struct Ticket {
    double prompt_tokens = 0;  // the estimate counted
    double exact_tokens = 0;   // of which token ids
    double text_bytes = 0;     // 0 when the prompt was token ids (exact)
    double max_tokens = 0;     // 0 when the client set none
    bool in_backlog = false;
  };

  // Counts an arrival (a JSON object body) and puts it in the backlog.
  Ticket arrive(const nlohmann::json& body);
  // The same from its sizes (hs-sim's router, whose prompts are token ids): `text_bytes` of
  // text estimated, `max_tokens` 0 when the client set none.
  Ticket arrive(double exact_tokens, double text_bytes, double max_tokens);
  // Its prefill answered (`usage_prompt_tokens` < 0 when the answer had none) or gave up:
  // it leaves the backlog, and a text prompt's real length teaches the ratio.
  void prefilled(Ticket& t, double usage_prompt_tokens);
  // It finished with `output_tokens` generated (< 0 when unknown).
  void finished(const Ticket& t, double output_tokens);

  void write(prom::Writer& w) const;

  double requests() const { return requests_; }
  double prompt_tokens() const { return prompt_tokens_; }
  double decode_tokens() const { return decode_tokens_; }
  double backlog_requests() const { return backlog_requests_; }
  double tokens_per_byte() const { return tokens_per_byte_; }
  double estimate_error() const { return error_; }
  double backlog_prompt_tokens() const { return backlog_tokens_; }

 private:
  // Exponential moving averages: recent traffic weighs most, and one odd request little.
  static constexpr double kAlpha = 0.05;
  double requests_ = 0, prompt_tokens_ = 0, decode_tokens_ = 0;
  double backlog_tokens_ = 0, backlog_requests_ = 0;
  double tokens_per_byte_ = 0.25;  // ~4 bytes per token (English BPE) until measured
  double error_ = 0;
  bool error_known_ = false;
  double output_per_max_ = 1.0, mean_output_ = 0;
  bool output_known_ = false, ratio_known_ = false;
};

// Prompt size of a completions or chat body: token ids counted exactly (`*exact_tokens`),
// text as bytes (`*text_bytes`). Anything unrecognised counts as nothing.
void prompt_size(const nlohmann::json& body, double* exact_tokens, double* text_bytes);

}  // namespace hs::router
