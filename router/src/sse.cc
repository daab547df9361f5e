#include "hs/router/sse.h"

namespace hs::router {

namespace {

bool nonempty_string(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() &&
         !j[key].get_ref<const std::string&>().empty();
}

}  // namespace

void SseTokenClock::feed(std::string_view chunk) {
  buf_.append(chunk);
  size_t end;
  while ((end = buf_.find("\n\n")) != std::string::npos) {
    std::string ev = buf_.substr(0, end);
    buf_.erase(0, end + 2);
    if (ev.rfind("data: ", 0) != 0) continue;
    if (ev == "data: [DONE]") {
      done_ = true;
      continue;
    }
    auto j = nlohmann::json::parse(ev.substr(6), nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    if (j.contains("error")) error_ = j["error"];
    if (j.contains("usage") && j["usage"].is_object()) usage_ = j["usage"];
    if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) continue;
    const auto& c = j["choices"][0];
    if (nonempty_string(c, "text") ||
        (c.contains("delta") && nonempty_string(c["delta"], "content")))
      tokens_.push_back(std::chrono::steady_clock::now());
  }
}

}  // namespace hs::router
