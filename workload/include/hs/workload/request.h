// One LLM request as a trace or a composer describes it.
#pragma once

#include <cstdint>
#include <vector>

namespace hs::workload {

struct Request {
  uint64_t id = 0;
  double arrival_s = 0;  // seconds from the start of the stream
  uint32_t prompt_tokens = 0;
  uint32_t output_tokens = 0;
  // Mooncake: one id per 512-token prefix block; equal ids are shared prefixes.
  std::vector<uint32_t> hash_ids;
  uint32_t reasoning_tokens = 0;   // of output_tokens, the reasoning part (ServeGen reason)
  uint32_t multimodal_tokens = 0;  // of prompt_tokens, image/audio/video (ServeGen multimodal)
};

}  // namespace hs::workload
