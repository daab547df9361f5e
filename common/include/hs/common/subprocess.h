// Runs a command to completion: argv without a shell (PATH lookup for argv[0]), the caller's
// environment, optional text on stdin, stdout and stderr captured apart (each up to 1 MiB),
// killed at the deadline. For short tools (sbatch, vllm --version), not for servers.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "hs/common/error.h"

namespace hs {

struct CommandResult {
  int exit_code = 0;  // 128 + signal when killed by one
  std::string out, err;
};

// Unavailable when it cannot start or does not finish in time; a non-zero exit is a result.
// `env`: "K=V" entries that replace or add to the caller's environment for the command.
Result<CommandResult> run_command(const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout, const std::string& input = "",
                                  const std::vector<std::string>& env = {});

}  // namespace hs
