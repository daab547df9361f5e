#include "hs/router/sse.h"

#include <cstdint>

namespace hs::router {

namespace {

bool nonempty_string(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() &&
         !j[key].get_ref<const std::string&>().empty();
}

}  // namespace

SseTokenClock::SseTokenClock(std::optional<ClientStream> client, std::function<TimePoint()> now)
    : client_(client), now_(std::move(now)) {
  if (!now_) now_ = [] { return std::chrono::steady_clock::now(); };
}

std::string SseTokenClock::feed(std::string_view chunk) {
  buf_.append(chunk);
  std::string out;
  size_t end;
  while ((end = buf_.find("\n\n")) != std::string::npos) {
    std::string ev = buf_.substr(0, end);
    buf_.erase(0, end + 2);
    std::string fwd = on_event(ev);
    if (client_ && !fwd.empty()) out += fwd + "\n\n";
  }
  return client_ ? out : std::string(chunk);
}

std::string SseTokenClock::on_event(const std::string& ev) {
  if (ev.rfind("data: ", 0) != 0) return ev;
  if (ev == "data: [DONE]") {
    done_ = true;
    return ev;
  }
  auto j = nlohmann::json::parse(ev.substr(6), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return ev;
  if (j.contains("error")) error_ = j["error"];
  bool has_usage = j.contains("usage") && j["usage"].is_object();
  bool has_choices = j.contains("choices") && j["choices"].is_array() && !j["choices"].empty();
  uint32_t tokens = 0;
  if (has_choices) {
    const auto& c = j["choices"][0];
    bool text = nonempty_string(c, "text") ||
                (c.contains("delta") && nonempty_string(c["delta"], "content"));
    if (text) {
      tokens = 1;
      if (has_usage && j["usage"].contains("completion_tokens") &&
          j["usage"]["completion_tokens"].is_number_unsigned()) {
        uint64_t total = j["usage"]["completion_tokens"].get<uint64_t>();
        tokens = total > usage_tokens_ ? static_cast<uint32_t>(total - usage_tokens_) : 1;
        usage_tokens_ = total;
      }
      chunks_.push_back({now_(), tokens});
      tokens_ += tokens;
    }
  }
  if (has_usage) usage_ = j["usage"];
  if (!client_) return ev;
  // Rewrite for the client: the final usage-only chunk only if it asked for usage; usage in
  // content chunks only if it asked for continuous usage.
  if (has_usage && !has_choices) return client_->include_usage ? ev : std::string();
  if (has_usage && !client_->continuous_usage) {
    j.erase("usage");
    return "data: " + j.dump();
  }
  return ev;
}

std::vector<std::pair<double, uint32_t>> SseTokenClock::token_gaps_s() const {
  std::vector<std::pair<double, uint32_t>> out;
  for (size_t i = 1; i < chunks_.size(); ++i) {
    double gap = std::chrono::duration<double>(chunks_[i].t - chunks_[i - 1].t).count();
    uint32_t n = std::max<uint32_t>(1, chunks_[i].tokens);
    out.emplace_back(gap / n, n);
  }
  return out;
}

}  // namespace hs::router
