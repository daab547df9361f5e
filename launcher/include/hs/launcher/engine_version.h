// Engine releases hs-launch supports, named once: what changes between them is the argv and
// environment it builds (engine_command.h) and how the engine behaves on SIGTERM.
//  - vLLM 0.10.x: the NIXL side channel is a per-worker ZMQ listener on base_port + tp_rank
//    (0.10-era NixlConnectorWorker), so a TP instance needs a block of tp_size ports; SIGTERM
//    aborts in-flight requests.
//  - vLLM 0.11 - 0.17: one scheduler-side listener (base + dp_rank, nixl_connector.py
//    @ 002a1057); SIGTERM still aborts.
//  - vLLM >= 0.18: --shutdown-timeout S lets in-flight requests finish for S seconds after
//    SIGTERM (PRs #34730/#36666, released in 0.18 per llm-d#927).
// Anything older, or a major release after 0, is refused by name rather than guessed at.
#pragma once

#include <string>
#include <string_view>

#include "hs/common/error.h"

namespace hs::launcher {

struct EngineVersion {
  int major = 0, minor = 0, patch = 0;
  std::string text;  // as given or detected, e.g. "0.10.1.dev12+g0bcd3e"
};

// "0.10.1", "v0.11.0", "0.10.1.dev12+g0bcd3e", "0.18"; InvalidArgument otherwise.
Result<EngineVersion> parse_engine_version(std::string_view text);
// The version in `vllm --version` output (its last line that parses).
Result<EngineVersion> version_from_output(std::string_view output);

enum class VllmSeries {
  kWorkerSideChannel,     // 0.10.x
  kSchedulerSideChannel,  // 0.11 - 0.17
  kGracefulShutdown,      // >= 0.18
};
std::string_view to_string(VllmSeries s);
// InvalidArgument naming the version and the supported range for anything else.
Result<VllmSeries> vllm_series(const EngineVersion& v);

// True for a dotted IPv4 or an IPv6 address literal (no names, no brackets).
bool is_ip_literal(std::string_view host);

}  // namespace hs::launcher
