// Reads an OpenAI-style server-sent-event stream as it arrives: when each token-bearing event
// came, and the final usage object. Shared by the router (its TTFT/TBT) and the load generator.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace hs::router {

class SseTokenClock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // Feeds raw bytes (events may span chunks); stamps token events with steady_clock::now().
  void feed(std::string_view chunk);
  const std::vector<TimePoint>& token_times() const { return tokens_; }
  const nlohmann::json& usage() const { return usage_; }  // null until a usage event came
  const nlohmann::json& error() const { return error_; }  // an {"error": ...} event, if any
  bool done() const { return done_; }                     // saw "data: [DONE]"

 private:
  std::string buf_;
  std::vector<TimePoint> tokens_;
  nlohmann::json usage_, error_;
  bool done_ = false;
};

}  // namespace hs::router
