// Submissions through the sbatch command, as a person makes them: the template's #SBATCH
// lines, SPANK options (pyxis's --container-image, our --hs-pin), cli_filter and SBATCH_*
// defaults are read by sbatch, not by slurm_submit_batch_job; the daemon passes only the
// options it owns.
#include <cstdint>
#include <set>

#include "hs/common/text.h"
#include "hs/scaler/slurm_api.h"

namespace hs::scaler {

std::vector<std::string> sbatch_argv(const SubmitSpec& s, bool with_role_option) {
  std::vector<std::string> a = {"sbatch", "--parsable"};
  auto opt = [&](const char* flag, const std::string& v) {
    if (!v.empty()) a.push_back(std::string(flag) + "=" + v);
  };
  opt("--job-name", s.name);
  opt("--array", s.array);
  opt("--comment", s.comment);
  opt("--partition", s.partition);
  opt("--qos", s.qos);
  opt("--account", s.account);
  opt("--reservation", s.reservation);
  opt("--constraint", s.constraint);
  // tres_per_node "gres:gpu:h100:1" (or 24.11's "gres/gpu:h100:1") is sbatch's --gres=gpu:h100:1.
  std::string gres = s.tres_per_node;
  for (const char* prefix : {"gres:", "gres/"})
    if (starts_with(gres, prefix)) gres = gres.substr(5);
  opt("--gres", gres);
  if (s.time_limit_min > 0) a.push_back("--time=" + std::to_string(s.time_limit_min));
  opt("--chdir", s.work_dir);
  opt("--output", s.std_out);
  if (!template_sets(s.script, "--signal")) opt("--signal", s.signal);
  std::string names;
  std::set<std::string> seen;
  for (const auto& kv : s.environment) {
    std::string k = kv.substr(0, kv.find('='));
    if (k.empty() || !seen.insert(k).second) continue;
    names += (names.empty() ? "" : ",") + k;
  }
  a.push_back("--export=" + (names.empty() ? std::string("NONE") : names));
  if (with_role_option) a.push_back("--hs-role=" + std::string(to_string(s.role)));
  if (!s.script_path.empty()) a.push_back(s.script_path);  // else the script comes on stdin
  return a;
}

std::vector<std::string> sbatch_env(const SubmitSpec& s) {
  std::vector<std::string> env;
  for (const auto& kv : s.environment)
    if (kv.find('=') != std::string::npos && kv.front() != '=') env.push_back(kv);
  return env;
}

Result<SlurmReads> parse_slurm_reads(std::string_view s) {
  if (s == "own") return SlurmReads::kOwn;
  if (s == "all") return SlurmReads::kAll;
  if (s == "full") return SlurmReads::kFull;
  return invalid_argument("expected own, all or full, got \"" + std::string(s) + "\"");
}

bool template_sets(std::string_view script, std::string_view option) {
  for (auto line : split(script, '\n')) {
    line = trim(line);
    if (!starts_with(line, "#SBATCH")) continue;
    for (auto word : split(line.substr(7), ' '))
      if (word == option || starts_with(word, std::string(option) + "=")) return true;
  }
  return false;
}

Result<uint32_t> parse_sbatch_output(const std::string& out) {
  std::string_view line = trim(out);
  if (auto nl = line.rfind('\n'); nl != std::string_view::npos) line = line.substr(nl + 1);
  line = line.substr(0, line.find(';'));
  auto id = parse_u64(trim(line));
  if (!id.ok() || *id == 0 || *id > 0xffffffffu)
    return failed_precondition(
        "sbatch --parsable printed no job id: \"" + out.substr(0, 200) + "\"", "sbatch");
  return static_cast<uint32_t>(*id);
}

}  // namespace hs::scaler
