#include "hs/sim/report.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "hs/common/file.h"

extern char** environ;

namespace hs::sim {

std::string summary_json(const RunInfo& info, const std::vector<PolicyResult>& results) {
  nlohmann::ordered_json j;
  j["run"] = {
      {"workload", info.workload},     {"format", info.format},    {"rate_scale", info.rate_scale},
      {"duration_s", info.duration_s}, {"seed", info.seed},        {"service", info.service},
      {"model", info.model},           {"requests", info.requests}};
  if (info.format == "servegen") {
    j["run"]["lengths"] = {
        {"source", info.stream.lengths_source},
        {"requests_with_pooled_lengths", info.stream.requests_with_pooled_lengths}};
    j["run"]["reasoning_tokens"] = info.stream.reasoning_tokens;
    j["run"]["multimodal_tokens"] = info.stream.multimodal_tokens;
  }
  j["run"]["derived_profiles"] = info.derived_profiles;
  double oracle_h = 0, split_h = 0;
  for (const auto& r : results) {
    if (r.policy == "oracle") oracle_h = r.gpu_hours;
    if (r.policy == "oracle-split") split_h = r.gpu_hours;
  }
  nlohmann::ordered_json ps = nlohmann::ordered_json::object();
  for (const auto& r : results) {
    nlohmann::ordered_json p;
    p["gpu_hours"] = r.gpu_hours;
    p["gpu_hours_by_role"] = r.gpu_hours_by_role;
    p["gpu_hours_by_type"] = r.gpu_hours_by_type;
    if (oracle_h > 0) p["gpu_hours_vs_oracle"] = r.gpu_hours / oracle_h;
    if (split_h > 0) p["gpu_hours_vs_oracle_split"] = r.gpu_hours / split_h;
    if (!is_oracle(r.policy)) {
      p["gpu_busy_fraction"] = r.gpu_busy_fraction;
      p["ttft_p50_s"] = r.ttft_p50_s;
      p["ttft_p99_s"] = r.ttft_p99_s;
      p["tbt_p50_s"] = r.tbt_p50_s;
      p["tbt_p99_s"] = r.tbt_p99_s;
      p["slo_attainment"] = {{"ttft", r.slo_ttft}, {"tbt", r.slo_tbt}, {"both", r.slo_both}};
      p["slo_attainment_feasible"] = {{"ttft", r.slo_ttft_feasible},
                                      {"tbt", r.slo_tbt_feasible},
                                      {"both", r.slo_both_feasible}};
      p["infeasible_requests"] = r.infeasible_requests;
      char sketch[64];
      std::snprintf(sketch, sizeof sketch, "sketch (relative error <= %g%%)",
                    kPercentileRelativeError * 100);
      p["percentiles"] = r.percentiles_exact ? "exact" : sketch;
      p["max_in_flight"] = r.max_in_flight;
      p["scaling_actions"] = r.scaling_actions;
      p["slurm_actions"] = r.slurm_actions;
      p["slurm_action_failures"] = r.slurm_action_failures;
      p["lost"] = r.lost;
      p["scale_ins"] = {{"total", r.scale_ins.total},
                        {"under_breached_tier", r.scale_ins.under_breach},
                        {"with_requests_waiting", r.scale_ins.with_waiting},
                        {"refused_by_safety", r.scale_ins.refused}};
      p["completed"] = r.completed;
      p["unfinished"] = r.unfinished;
      p["abandoned"] = r.abandoned;
      p["rejected_too_long"] = r.rejected;
      p["cross_group_transfers"] = r.cross_group_transfers;
      p["wall_s"] = r.wall_s;
      p["simulated_requests_per_wall_s"] = r.wall_s > 0 ? r.requests / r.wall_s : 0;
    }
    p["requests"] = r.requests;
    ps[r.policy] = p;
  }
  j["policies"] = ps;
  return j.dump(2) + "\n";
}

namespace {

// Runs gnuplot with a script on stdin; no shell involved.
Status run_gnuplot(const std::string& script) {
  int fds[2];
  if (pipe(fds) != 0) return unavailable("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  char arg0[] = "gnuplot";
  char* argv[] = {arg0, nullptr};
  pid_t pid;
  int rc = posix_spawnp(&pid, "gnuplot", &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[0]);
  if (rc != 0) {
    close(fds[1]);
    return unavailable("gnuplot not found (apt-get install gnuplot-nox): plots skipped");
  }
  ssize_t w = write(fds[1], script.data(), script.size());
  close(fds[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (w != static_cast<ssize_t>(script.size()) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return unavailable("gnuplot failed");
  return ok_status();
}

}  // namespace

Status write_outputs(const std::string& dir, const RunInfo& info,
                     const std::vector<PolicyResult>& results, std::vector<std::string>* notes) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return unavailable("cannot create the output directory", dir);
  HS_RETURN_IF_ERROR(write_file_atomic(dir + "/summary.json", summary_json(info, results)));
  std::string csv =
      "policy,t_s,arrivals_per_s,decode_tps,prefill,decode,ready_prefill,ready_decode,ttft_p99_s,"
      "tbt_p99_s,decision\n";
  char line[256];
  for (const auto& r : results)
    for (const auto& p : r.series) {
      std::snprintf(line, sizeof line, "%s,%.0f,%.3f,%.1f,%u,%u,%u,%u,%.4f,%.5f,%s\n",
                    r.policy.c_str(), p.t, p.arrivals_per_s, p.decode_tps, p.prefill, p.decode,
                    p.ready_prefill, p.ready_decode, p.ttft_p99_s, p.tbt_p99_s, p.decision.c_str());
      csv += line;
    }
  HS_RETURN_IF_ERROR(write_file_atomic(dir + "/timeseries.csv", csv));
  for (const auto& r : results) {
    if (is_oracle(r.policy)) continue;
    std::string data = dir + "/series-" + r.policy + ".dat";
    std::string d = "# t_h arrivals_per_s prefill decode ttft_p99_s tbt_p99_s\n";
    for (const auto& p : r.series) {
      std::snprintf(line, sizeof line, "%.4f %.3f %u %u %.4f %.5f\n", p.t / 3600, p.arrivals_per_s,
                    p.prefill, p.decode, p.ttft_p99_s, p.tbt_p99_s);
      d += line;
    }
    HS_RETURN_IF_ERROR(write_file_atomic(data, d));
    std::string png = dir + "/plot-" + r.policy + ".png";
    std::string script =
        "set terminal pngcairo noenhanced size 1200,900 font ',10'\nset output '" + png +
        "'\nset multiplot layout 3,1 title '" + r.policy + " on " + info.workload +
        "'\nset grid\nset xlabel 'hours'\nset ylabel 'requests/s'\nplot '" + data +
        "' using 1:2 with lines title 'load'\nset ylabel 'instances'\nplot '" + data +
        "' using 1:3 with steps title 'prefill', '' using 1:4 with steps title 'decode'\n"
        "set ylabel 'seconds'\nset logscale y\nplot '" +
        data +
        "' using 1:($5>0?$5:1/0) with lines title 'TTFT p99', '' using 1:($6>0?$6:1/0) with lines "
        "title 'TBT p99'\n"
        "unset multiplot\n";
    auto st = run_gnuplot(script);
    if (!st.ok()) {
      if (notes) notes->push_back(st.error().message);
      break;
    }
  }
  return ok_status();
}

}  // namespace hs::sim
