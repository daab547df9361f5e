#include "hs/router/pd_protocol.h"

#include <cstdint>
#include <cstdio>
#include <random>

namespace hs::router {

using json = nlohmann::json;

ClientStream client_stream(const json& body) {
  ClientStream c;
  if (!body.is_object()) return c;
  c.stream = body.value("stream", false) == true;
  if (body.contains("stream_options") && body["stream_options"].is_object()) {
    const json& so = body["stream_options"];
    c.include_usage = so.value("include_usage", false) == true;
    c.continuous_usage = so.value("continuous_usage_stats", false) == true;
  }
  return c;
}

json prefill_body(const json& client) {
  json pre = client;
  pre["max_tokens"] = 1;
  if (pre.contains("max_completion_tokens")) pre["max_completion_tokens"] = 1;
  pre["stream"] = false;
  pre.erase("stream_options");
  pre.erase("min_tokens");
  pre.erase("min_completion_tokens");
  pre["kv_transfer_params"] = {{"do_remote_decode", true},    {"do_remote_prefill", false},
                               {"remote_engine_id", nullptr}, {"remote_block_ids", nullptr},
                               {"remote_host", nullptr},      {"remote_port", nullptr}};
  return pre;
}

json decode_body(const json& client, const json& kv_params) {
  json dec = client;
  dec["kv_transfer_params"] = kv_params;
  if (client_stream(client).stream)
    dec["stream_options"] = {{"include_usage", true}, {"continuous_usage_stats", true}};
  return dec;
}

RequestIds::RequestIds() {
  std::random_device rd;
  uint64_t r = (uint64_t{rd()} << 32) ^ rd();
  char b[24];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(r));
  prefix_ = std::string("hsr-") + b + "-";
}

std::string RequestIds::next() { return prefix_ + std::to_string(++counter_); }

}  // namespace hs::router
