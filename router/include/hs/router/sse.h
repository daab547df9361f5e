// Reads an OpenAI-style server-sent-event stream as it arrives: when each token-bearing chunk
// came and how many tokens it carried, the final usage object, and errors. Shared by the
// router (its TTFT/TBT) and the load generator.
//
// A chunk may carry several tokens (speculative decoding, vLLM's stream interval). Its token
// count comes from usage.completion_tokens when the stream carries usage in every chunk
// (stream_options.continuous_usage_stats, which the router asks decodes for), else one per
// chunk with text. Time between tokens is then the gap before a chunk divided by its tokens.
//
// With a ClientStream, feed() also returns what to forward to that client: whole events only,
// with the usage the client did not ask for removed (the per-chunk usage without
// continuous_usage_stats, the final usage-only chunk without include_usage).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hs/router/pd_protocol.h"

namespace hs::router {

class SseTokenClock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Chunk {
    TimePoint t;
    uint32_t tokens = 1;
  };

  explicit SseTokenClock(std::optional<ClientStream> client = std::nullopt,
                         std::function<TimePoint()> now = {});
  // Feeds raw bytes (events may span chunks). Returns the bytes to forward: with a client,
  // the complete events rewritten for it; without one, `chunk` itself.
  std::string feed(std::string_view chunk);
  const std::vector<Chunk>& chunks() const { return chunks_; }
  uint64_t tokens() const { return tokens_; }
  // Each later chunk's gap per token, with the number of tokens it stands for.
  std::vector<std::pair<double, uint32_t>> token_gaps_s() const;
  const nlohmann::json& usage() const { return usage_; }  // null until a usage event came
  const nlohmann::json& error() const { return error_; }  // an {"error": ...} event, if any
  bool done() const { return done_; }                     // saw "data: [DONE]"

 private:
  // Returns the event to forward (empty: drop it).
  std::string on_event(const std::string& ev);

  std::optional<ClientStream> client_;
  std::function<TimePoint()> now_;
  std::string buf_;
  std::vector<Chunk> chunks_;
  uint64_t tokens_ = 0, usage_tokens_ = 0;
  nlohmann::json usage_, error_;
  bool done_ = false;
};

}  // namespace hs::router
