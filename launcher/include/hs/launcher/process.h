// Starting and watching the engine process without a shell, and the ports it needs.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hs/common/error.h"

namespace hs::launcher {

// A TCP port the kernel says is free now (another process could take it before the engine
// binds, the same race torch's and vLLM's own get_open_port have; the engine then fails to
// start and its status is reported).
Result<uint16_t> free_port();
// `n` consecutive free ports (vLLM 0.10.x binds base + tp_rank for every TP rank).
Result<uint16_t> free_port_block(uint32_t n);

// Runs argv (looked up in PATH) with stdin from /dev/null and returns its stdout and stderr
// together; Unavailable if it cannot start, exits non-zero or runs past `timeout` (then it is
// killed).
Result<std::string> run_capture(const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout);

// Starts argv with the current environment plus `env` (overriding), stdout joined to stderr,
// no signals blocked. Returns the pid.
Result<pid_t> spawn(const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env);

// The exit status as a shell would report it (128 + signal when killed).
int exit_code(int wait_status);

}  // namespace hs::launcher
