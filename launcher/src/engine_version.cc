#include "hs/launcher/engine_version.h"

#include <arpa/inet.h>

#include "hs/common/text.h"

namespace hs::launcher {

Result<EngineVersion> parse_engine_version(std::string_view text) {
  std::string_view s = trim(text);
  if (!s.empty() && (s[0] == 'v' || s[0] == 'V')) s.remove_prefix(1);
  auto digit = [&](size_t i) { return i < s.size() && s[i] >= '0' && s[i] <= '9'; };
  int nums[3] = {0, 0, 0};
  int count = 0;
  size_t i = 0;
  while (count < 3) {
    size_t start = i;
    while (digit(i)) ++i;
    if (i == start || i - start > 6) break;
    nums[count++] = std::stoi(std::string(s.substr(start, i - start)));
    if (count < 3 && i < s.size() && s[i] == '.' && digit(i + 1)) {
      ++i;
      continue;
    }
    break;
  }
  // At least major.minor; what follows (".dev12+g...", "rc1", "+cu124") is the build.
  bool suffix_ok =
      i == s.size() || s[i] == '.' || s[i] == '+' || s[i] == '-' || (s[i] >= 'a' && s[i] <= 'z');
  if (count < 2 || !suffix_ok)
    return invalid_argument("expected a version like 0.10.1, got " + quote(text));
  EngineVersion v;
  v.major = nums[0];
  v.minor = nums[1];
  v.patch = nums[2];
  v.text = std::string(trim(text));
  return v;
}

Result<EngineVersion> version_from_output(std::string_view output) {
  auto lines = split(output, '\n');
  for (size_t n = lines.size(); n-- > 0;) {
    auto words = split_whitespace(lines[n]);
    for (size_t w = words.size(); w-- > 0;) {
      auto v = parse_engine_version(words[w]);
      if (v.ok()) return v;
    }
  }
  return invalid_argument("no version number in the output " + quote(output));
}

std::string_view to_string(VllmSeries s) {
  switch (s) {
    case VllmSeries::kWorkerSideChannel:
      return "0.10.x (a side-channel port per TP rank; SIGTERM aborts)";
    case VllmSeries::kSchedulerSideChannel:
      return "0.11-0.17 (scheduler-side listener; SIGTERM aborts)";
    case VllmSeries::kGracefulShutdown:
      return ">= 0.18 (--shutdown-timeout)";
  }
  return "?";
}

Result<VllmSeries> vllm_series(const EngineVersion& v) {
  if (v.major == 0 && v.minor == 10) return VllmSeries::kWorkerSideChannel;
  if (v.major == 0 && v.minor >= 11 && v.minor <= 17) return VllmSeries::kSchedulerSideChannel;
  if (v.major == 0 && v.minor >= 18) return VllmSeries::kGracefulShutdown;
  return invalid_argument("vLLM " + v.text +
                              " is not a supported release (supported: 0.10.x, 0.11-0.17, 0.18 and "
                              "later 0.x); pass --engine-version to state another one only after "
                              "checking its NixlConnector flags",
                          "--engine-version");
}

bool is_ip_literal(std::string_view host) {
  std::string h(host);
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

}  // namespace hs::launcher
