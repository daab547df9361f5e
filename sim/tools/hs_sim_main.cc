// hs-sim: trace-driven simulation of heteroscale and its alternatives.
//   hs-sim compare --trace PATH --out DIR [--policies LIST] [--rate-scale X] [--duration S] ...
//   hs-sim run --trace PATH --policy NAME --out DIR ...
//   hs-sim calibrate --trace PATH [--prefill-gpu G] [--decode-gpu G] [--model M] [--ttft-slo S]
//   [--tbt-slo S]
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <random>
#include <sstream>

#include "hs/common/cli.h"
#include "hs/common/file.h"
#include "hs/scaler/policy.h"
#include "hs/sim/calibrate.h"
#include "hs/sim/replay.h"
#include "hs/sim/report.h"
#include "hs/sim/simulator.h"
#include "hs/workload/load.h"
#include "hs/workload/servegen.h"
#include "hs/workload/trace.h"

namespace po = boost::program_options;
using namespace hs;

namespace {

struct Common {
  std::string trace, out, service_file, cluster_file, profiles_file, model = "llama-8b";
  std::string lengths_from;
  std::string prefill_gpu = "h100", decode_gpu = "l40s";
  double rate_scale = 1, duration = 0, start = 0, tick = 15, ttft_slo = 2.0, tbt_slo = 0.1;
  double client_timeout = 600;
  double drain_timeout = 120;
  double ratio_band = 0;
  uint64_t seed = 1;
  bool zero_startup = false, progress = true;
};

// The shipped profiles, the derived ones (scaled from another GPU, no measurement) named.
std::string profiles_help() {
  std::string measured, derived;
  for (const auto& p : workload::default_profiles().profiles) {
    std::string& list = p.derived ? derived : measured;
    list += (list.empty() ? "" : ", ") + p.gpu + "/" + p.model;
  }
  return "engine profiles YAML (default: the shipped ones; measured: " + measured +
         "; DERIVED, scaled from another GPU and not measured: " + derived +
         "; docs/simulator.md checks them against published numbers)";
}

void add_common(po::options_description& o, Common& c) {
  o.add_options()("help,h", "show this help")(
      "trace", po::value(&c.trace)->value_name("PATH"),
      "workload: an Azure CSV (*.csv), a Mooncake JSONL (*.jsonl), or a ServeGen category folder")(
      "rate-scale", po::value(&c.rate_scale)->value_name("X"),
      "multiply the arrival rate (default 1)")(
      "duration", po::value(&c.duration)->value_name("S"),
      "simulate at most S seconds of arrivals (default: all)")(
      "start", po::value(&c.start)->value_name("S"),
      "ServeGen: start S seconds into the series (default 0)")(
      "lengths-from", po::value(&c.lengths_from)->value_name("DIR"),
      "ServeGen: take the pooled length distributions (per 6 h window) for clients without a "
      "dataset from another category, e.g. language/m-large for m-mid, which ships none")(
      "seed", po::value(&c.seed)->value_name("N"), "random seed (default 1)")(
      "service", po::value(&c.service_file)->value_name("FILE"),
      "service YAML (default: llama-8b on --prefill-gpu/--decode-gpu, calibrated for the "
      "workload)")("cluster", po::value(&c.cluster_file)->value_name("FILE"),
                   "cluster YAML (default: 4 leaves x (4 H100 + 4 L40S nodes), 2 spines)")(
      "profiles", po::value(&c.profiles_file)->value_name("FILE"), profiles_help().c_str())(
      "model", po::value(&c.model)->value_name("M"), "model of the profiles (default llama-8b)")(
      "prefill-gpu", po::value(&c.prefill_gpu)->value_name("G"),
      "default service's prefill GPU (default h100)")(
      "decode-gpu", po::value(&c.decode_gpu)->value_name("G"),
      "default service's decode GPU (default l40s)")(
      "ttft-slo", po::value(&c.ttft_slo)->value_name("S"),
      "default service's TTFT SLO, p99 (default 2.0)")(
      "tbt-slo", po::value(&c.tbt_slo)->value_name("S"),
      "default service's TBT SLO, p99 (default 0.1)")(
      "ratio-band", po::value(&c.ratio_band)->value_name("B"),
      "default service's ratio_band: prefill per unit may move by a factor of up to 1+B "
      "from the calibrated P:D (default 0, the fixed ratio)")(
      "tick", po::value(&c.tick)->value_name("S"), "autoscaler tick (default 15)")(
      "client-timeout", po::value(&c.client_timeout)->value_name("S"),
      "a client gives up on a request with no first token after S seconds and the engine "
      "drops it; counted as an SLO miss (default 600, the OpenAI SDK's; 0: never)")(
      "drain-timeout", po::value(&c.drain_timeout)->value_name("S"),
      "the daemon's drain_timeout_s: a drained instance still busy after S seconds is "
      "cancelled, its requests lost (default 120, the daemon's)")(
      "zero-startup", po::bool_switch(&c.zero_startup),
      "instances are ready the moment they are placed")("no-progress", "no progress bar on stderr");
}

// Parses the options; returns -1 to go on, or the exit code (0 after --help, 2 on an error).
int parse_options(const std::vector<std::string>& args, const po::options_description& o,
                  po::variables_map& vm) {
  return cli::parse(po::command_line_parser(args), o, vm, "hs-sim");
}

int fail(const Error& e) {
  std::fprintf(stderr, "hs-sim: %s\n", e.to_string().c_str());
  return 1;
}

struct Setup {
  workload::Workload workload;
  std::string format;
  uint64_t calibrated_on = 0;  // requests the default service was calibrated for
  scaler::ServiceConfig service;
  sim::Cluster cluster;
  workload::ProfileSet profiles;
};

Result<workload::Workload> open_workload(const Common& c) {
  workload::LoadOptions o;
  o.start_s = c.start;
  o.duration_s = c.duration;
  o.rate_scale = c.rate_scale;
  o.seed = c.seed;
  o.lengths_from = c.lengths_from;
  return workload::Workload::open(c.trace, o);
}

// One pass over the workload for the average lengths the default service is calibrated for.
Status average_lengths(const workload::Workload& w, double* in, double* out, uint64_t* n) {
  auto s = w.stream();
  if (!s.ok()) return s.error();
  double a = 0, b = 0;
  uint64_t k = 0;
  workload::Request r;
  while ((*s)->next(r)) a += r.prompt_tokens, b += r.output_tokens, ++k;
  if ((*s)->error()) return *(*s)->error();
  *in = k ? a / static_cast<double>(k) : 0;
  *out = k ? b / static_cast<double>(k) : 0;
  *n = k;
  return {};
}

Result<Setup> setup(const Common& c) {
  auto w = open_workload(c);
  if (!w.ok()) return w.error();
  {
    auto first = w->stream();
    if (!first.ok()) return first.error();
    workload::Request r;
    if (!(*first)->next(r)) {
      if ((*first)->error()) return *(*first)->error();
      return invalid_argument("the workload has no requests in the chosen span", c.trace);
    }
  }
  Setup s;
  s.workload = std::move(*w);
  s.format = std::string(workload::to_string(s.workload.format()));
  if (!c.profiles_file.empty()) {
    auto p = workload::load_profiles(c.profiles_file);
    if (!p.ok()) return p.error();
    s.profiles = *p;
  } else {
    s.profiles = workload::default_profiles();
  }
  auto spec = c.cluster_file.empty() ? Result<sim::ClusterSpec>(sim::default_cluster_spec())
                                     : sim::load_cluster(c.cluster_file);
  if (!spec.ok()) return spec.error();
  auto cl = sim::build_cluster(*spec);
  if (!cl.ok()) return cl.error();
  s.cluster = std::move(*cl);
  if (!c.service_file.empty()) {
    auto sc = scaler::load_services(c.service_file);
    if (!sc.ok()) return sc.error();
    if (sc->services.size() != 1)
      return invalid_argument(
          "hs-sim simulates one service; the file has " + std::to_string(sc->services.size()),
          c.service_file);
    s.service = sc->services[0];
    return s;
  }
  // The default service, calibrated for this workload's average lengths.
  sim::CalibrateInput ci;
  ci.prefill = s.profiles.find(c.prefill_gpu, c.model);
  ci.decode = s.profiles.find(c.decode_gpu, c.model);
  if (!ci.prefill || !ci.decode)
    return invalid_argument("no profile for " + c.prefill_gpu + "/" + c.decode_gpu + " and " +
                            c.model);
  uint64_t n = 0;
  if (auto st = average_lengths(s.workload, &ci.avg_prompt_tokens, &ci.avg_output_tokens, &n);
      !st.ok())
    return st.error();
  s.calibrated_on = n;
  ci.slo.ttft_s = c.ttft_slo;
  ci.slo.tbt_s = c.tbt_slo;
  auto cal = sim::calibrate(ci);
  if (!cal.ok()) return cal.error();
  scaler::ServiceConfig& sv = s.service;
  sv.name = "default";
  sv.variants = {{c.prefill_gpu + "-" + c.decode_gpu, c.prefill_gpu, c.decode_gpu, cal->ratio,
                  cal->decode_tps_per_instance, cal->prefill_tokens_per_s,
                  ci.prefill->tensor_parallel, ci.decode->tensor_parallel}};
  sv.slo = ci.slo;
  sv.ratio_band = c.ratio_band;
  uint32_t pg = 0, dg = 0;
  for (const auto& node : s.cluster.nodes) {
    if (node.gpu_type == c.prefill_gpu) pg += node.free_gpus;
    if (node.gpu_type == c.decode_gpu) dg += node.free_gpus;
  }
  uint32_t max_units =
      std::max<uint32_t>(1, std::min(pg / (cal->ratio.prefill * ci.prefill->tensor_parallel),
                                     dg / (cal->ratio.decode * ci.decode->tensor_parallel)));
  if (c.prefill_gpu == c.decode_gpu)
    max_units = std::max<uint32_t>(1, pg / (cal->ratio.prefill * ci.prefill->tensor_parallel +
                                            cal->ratio.decode * ci.decode->tensor_parallel));
  sv.min_prefill = cal->ratio.prefill;
  sv.min_decode = cal->ratio.decode;
  sv.max_prefill = max_units * cal->ratio.prefill;
  sv.max_decode = max_units * cal->ratio.decode;
  sv.affinity = scaler::Affinity::kLeaf;
  sv.where = "calibrated";
  std::fprintf(stderr, "hs-sim: calibrated default service (%llu requests): %s\n",
               static_cast<unsigned long long>(n), cal->explain.c_str());
  return s;
}

// The engine profiles the service runs on that no measurement backs.
std::vector<std::string> derived_profiles(const Setup& s, const std::string& model) {
  std::vector<std::string> out;
  for (const auto& v : s.service.variants)
    for (const std::string& gpu : {v.prefill_gpu, v.decode_gpu}) {
      const workload::EngineProfile* p = s.profiles.find(gpu, model);
      std::string name = gpu + "/" + model;
      if (p && p->derived && std::find(out.begin(), out.end(), name) == out.end())
        out.push_back(name);
    }
  return out;
}

int run_policies(const Common& c, std::vector<std::string> names) {
  auto s = setup(c);
  if (!s.ok()) return fail(s.error());
  sim::SimOptions o;
  o.tick_s = c.tick;
  o.zero_startup = c.zero_startup;
  o.model = c.model;
  o.keep_decisions = 200;
  o.client_timeout_s = c.client_timeout;
  o.drain_timeout_s = c.drain_timeout;
  if (c.duration > 0) o.max_duration_s = c.duration + o.drain_s;
  std::vector<sim::PolicyResult> results;
  auto os = s->workload.stream();
  if (!os.ok()) return fail(os.error());
  auto orc_r = sim::oracle(**os, s->service, s->profiles, o);
  if (!orc_r.ok()) return fail(orc_r.error());
  sim::PolicyResult orc = std::move(*orc_r);
  const workload::StreamReport report = (*os)->report();
  if (report.requests_with_pooled_lengths)
    std::fprintf(stderr,
                 "hs-sim: info: %llu of %llu requests took pooled lengths (clients without a "
                 "dataset): %s\n",
                 static_cast<unsigned long long>(report.requests_with_pooled_lengths),
                 static_cast<unsigned long long>(report.requests), report.lengths_source.c_str());
  std::vector<std::string> derived = derived_profiles(*s, c.model);
  for (const auto& d : derived)
    std::fprintf(stderr,
                 "hs-sim: note: profile %s is derived (scaled from another GPU, not measured)\n",
                 d.c_str());
  uint32_t peak = 0;
  for (const auto& p : orc.series)
    peak = std::max(peak, p.decode / s->service.preferred().ratio.decode);
  for (const auto& n : names) {
    std::unique_ptr<scaler::Policy> pol;
    if (n == "oracle") {
      results.push_back(orc);
      continue;
    }
    if (n == "oracle-split") {
      auto split_stream = s->workload.stream();
      if (!split_stream.ok()) return fail(split_stream.error());
      auto split = sim::oracle(**split_stream, s->service, s->profiles, o, sim::OracleMode::kSplit);
      if (!split.ok()) return fail(split.error());
      results.push_back(std::move(*split));
      continue;
    }
    if (n == "static-peak")
      pol = std::make_unique<scaler::StaticPolicy>(peak);
    else
      pol = scaler::make_policy(n);
    if (!pol)
      return fail(
          invalid_argument("unknown policy " + n +
                           " (heteroscale, paper, hpa-util, hpa-queue, llmd-slo, llmd-slo-role, "
                           "dynamo-load, static-peak, oracle, oracle-split)"));
    if (c.progress)
      std::fprintf(stderr, "hs-sim: %-12s simulating %zu requests...", n.c_str(), orc.requests);
    sim::SimOptions po = o;
    po.progress_end_s = orc.simulated_s;
    // Warm start: every policy begins where the oracle is at the first tick (the scaler was
    // already running); static peak at the peak.
    uint32_t first =
        orc.series.empty() ? 0 : orc.series.front().decode / s->service.preferred().ratio.decode;
    po.initial_units = std::clamp(n == "static-peak" ? peak : first, s->service.min_units(),
                                  s->service.max_units());
    if (c.progress && isatty(2)) {
      std::string label = n;
      po.progress = [label](double f) {
        int w = 40, k = static_cast<int>(f * w);
        std::fprintf(stderr, "\rhs-sim: %-12s [%s%s] %3.0f%%", label.c_str(),
                     std::string(k, '#').c_str(), std::string(w - k, ' ').c_str(), f * 100);
      };
    }
    auto stream = s->workload.stream();
    if (!stream.ok()) return fail(stream.error());
    auto r = sim::simulate(**stream, s->service, s->cluster, s->profiles, *pol, po);
    if (po.progress) std::fprintf(stderr, "\r%70s\rhs-sim: %-12s", "", n.c_str());
    if (!r.ok()) return fail(r.error());
    r->policy = n;
    if (c.progress)
      std::fprintf(stderr,
                   " %.1f s wall, %.0f simulated req/s, %.1f GPU-h, SLO %.3f, %zu abandoned\n",
                   r->wall_s, r->wall_s > 0 ? r->requests / r->wall_s : 0, r->gpu_hours,
                   r->slo_both, r->abandoned);
    results.push_back(std::move(*r));
  }
  sim::RunInfo info;
  info.workload = c.trace;
  info.format = s->format;
  info.rate_scale = c.rate_scale;
  info.duration_s = c.duration;
  info.seed = c.seed;
  info.service = s->service.name + " (" + s->service.preferred().name + " " +
                 std::to_string(s->service.preferred().ratio.prefill) + ":" +
                 std::to_string(s->service.preferred().ratio.decode) + ", " +
                 std::to_string(static_cast<int>(s->service.preferred().decode_tps_per_instance)) +
                 " tok/s per decode)";
  info.model = c.model;
  info.requests = orc.requests;
  info.stream = report;
  info.derived_profiles = derived;
  std::vector<std::string> notes;
  auto st = sim::write_outputs(c.out, info, results, &notes);
  if (!st.ok()) return fail(st.error());
  for (const auto& n : notes) std::fprintf(stderr, "hs-sim: note: %s\n", n.c_str());
  std::string decisions;
  for (const auto& r : results)
    for (const auto& d : r.decisions) decisions += r.policy + " " + d + "\n";
  (void)write_file_atomic(c.out + "/decisions.log", decisions);
  std::printf("%-12s %10s %10s %8s %8s %8s %8s %8s %7s\n", "policy", "GPU-h", "vs oracle",
              "TTFTp99", "TBTp99", "SLO", "SLOfeas", "actions", "busy");
  double oh = orc.gpu_hours;
  for (const auto& r : results) {
    bool bound = sim::is_oracle(r.policy);
    std::printf("%-12s %10.2f %10.2f %8.3f %8.4f %8.3f %8.3f %8zu %7.2f\n", r.policy.c_str(),
                r.gpu_hours, oh > 0 ? r.gpu_hours / oh : 0, r.ttft_p99_s, r.tbt_p99_s,
                bound ? 1.0 : r.slo_both, bound ? 1.0 : r.slo_both_feasible, r.scaling_actions,
                r.gpu_busy_fraction);
  }
  if (!results.empty() && !sim::is_oracle(results.front().policy))
    std::printf("infeasible requests: %zu of %zu (docs/simulator.md, Feasibility)\n",
                results.front().infeasible_requests,
                results.front().requests + results.front().rejected);
  for (const auto& d : derived)
    std::printf("profile %s is derived, not measured (see docs/simulator.md)\n", d.c_str());
  if (report.requests_with_pooled_lengths)
    std::printf("lengths: %llu of %llu requests drew pooled lengths, from %s\n",
                static_cast<unsigned long long>(report.requests_with_pooled_lengths),
                static_cast<unsigned long long>(report.requests), report.lengths_source.c_str());
  std::printf("outputs in %s (summary.json, timeseries.csv, plot-*.png, decisions.log)\n",
              c.out.c_str());
  return 0;
}

int cmd_compare(const std::vector<std::string>& args, bool single) {
  Common c;
  std::string policies =
                  "heteroscale,paper,hpa-util,hpa-queue,llmd-slo,llmd-slo-role,dynamo-load,"
                  "static-peak,oracle,oracle-split",
              policy;
  po::options_description o(
      single
          ? "Usage: hs-sim run --trace PATH --policy NAME --out DIR [options]\n\nOptions"
          : "Usage: hs-sim compare --trace PATH --out DIR [--policies LIST] [options]\n\n"
            "Runs every policy on the same workload, seed and cluster, and writes summary.json,\n"
            "timeseries.csv and plot-<policy>.png to DIR.\n\nOptions");
  add_common(o, c);
  o.add_options()("out", po::value(&c.out)->value_name("DIR"), "output directory");
  if (single)
    o.add_options()("policy", po::value(&policy)->value_name("NAME"),
                    "heteroscale, paper, hpa-util, hpa-queue or static-peak");
  else
    o.add_options()(
        "policies", po::value(&policies)->value_name("LIST"),
        "comma list (default all: heteroscale,paper,hpa-util,hpa-queue,llmd-slo,llmd-slo-role,"
        "dynamo-load,static-peak,oracle,oracle-split)");
  po::variables_map vm;
  if (int rc = parse_options(args, o, vm); rc >= 0) return rc;
  if (c.trace.empty() || c.out.empty()) {
    std::fprintf(stderr, "hs-sim: --trace and --out are required\n");
    return 2;
  }
  if (c.rate_scale <= 0 || c.duration < 0 || c.tick <= 0 || c.client_timeout < 0 ||
      c.drain_timeout <= 0) {
    std::fprintf(stderr,
                 "hs-sim: --rate-scale, --tick and --drain-timeout must be positive, --duration "
                 "and --client-timeout non-negative\n");
    return 2;
  }
  if (!(c.ratio_band >= 0 && c.ratio_band <= 10)) {
    std::fprintf(stderr, "hs-sim: --ratio-band must be in [0, 10], got %g\n", c.ratio_band);
    return 2;
  }
  c.progress = !vm.count("no-progress");
  std::vector<std::string> names;
  std::stringstream ss(single ? policy : policies);
  for (std::string n; std::getline(ss, n, ',');)
    if (!n.empty()) names.push_back(n);
  if (names.empty()) {
    std::fprintf(stderr, "hs-sim: no policy given\n");
    return 2;
  }
  return run_policies(c, names);
}

int cmd_calibrate(const std::vector<std::string>& args) {
  Common c;
  po::options_description o(
      "Usage: hs-sim calibrate --trace PATH [--prefill-gpu G] [--decode-gpu G] [--model M] "
      "[--ttft-slo S] [--tbt-slo S]\n\n"
      "Finds the per-decode-instance tokens/s target and the P:D ratio that serve the most\n"
      "requests within the SLO for the profiles and the workload's lengths, and prints them\n"
      "as a service variant.\n\nOptions");
  add_common(o, c);
  po::variables_map vm;
  if (int rc = parse_options(args, o, vm); rc >= 0) return rc;
  if (c.trace.empty()) {
    std::fprintf(stderr, "hs-sim: --trace is required (its lengths are calibrated for)\n");
    return 2;
  }
  c.service_file.clear();
  auto s = setup(c);
  if (!s.ok()) return fail(s.error());
  const auto& v = s->service.preferred();
  std::printf(
      "# calibrated by hs-sim for %s (%zu requests), model %s, SLO TTFT %.3f s / TBT %.3f s p99\n",
      c.trace.c_str(), static_cast<size_t>(s->calibrated_on), c.model.c_str(), c.ttft_slo,
      c.tbt_slo);
  std::printf(
      "variants:\n  - name: %s\n    prefill_gpu: %s\n    decode_gpu: %s\n    ratio: \"%u:%u\"\n    "
      "decode_tps_per_instance: %.0f\n    prefill_tps_per_instance: %.0f\n"
      "    prefill_gpus: %u\n    decode_gpus: %u\n",
      v.name.c_str(), v.prefill_gpu.c_str(), v.decode_gpu.c_str(), v.ratio.prefill, v.ratio.decode,
      v.decode_tps_per_instance, v.prefill_tps_per_instance, v.prefill_gpus, v.decode_gpus);
  return 0;
}

// Feeds a heteroscaled --record directory to the Controller again: 0 when every tick's
// actions come out identical, 1 (with the first difference) otherwise.
int cmd_replay(const std::vector<std::string>& args) {
  po::options_description o(
      "Usage: hs-sim replay DIR\n\nReplays `heteroscaled --record DIR` through the Controller "
      "and compares the actions, tick for tick.\n\nOptions");
  std::string dir;
  o.add_options()("help,h", "this help")("dir", po::value(&dir), "the recording");
  po::positional_options_description pos;
  pos.add("dir", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(o).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "hs-sim replay: %s\n", e.what());
    return 2;
  }
  if (vm.count("help")) return std::cout << o << "\n", 0;
  if (dir.empty()) {
    std::fprintf(stderr, "hs-sim replay: DIR is required\n");
    return 2;
  }
  auto rec = scaler::load_recording(dir);
  if (!rec.ok()) return fail(rec.error());
  auto r = sim::replay(*rec);
  if (!r.ok()) return fail(r.error());
  if (r->identical) {
    std::printf("replayed %zu ticks, %zu actions: identical\n", r->ticks, r->actions);
    return 0;
  }
  std::printf("tick %zu differs (of %zu)\nrecorded:\n", r->first_difference, r->ticks);
  for (const auto& a : r->recorded) std::printf("  %s\n", a.c_str());
  std::printf("replayed:\n");
  for (const auto& a : r->replayed) std::printf("  %s\n", a.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* usage =
      "Usage: hs-sim compare|run|calibrate|replay [options]   (hs-sim COMMAND --help for each)\n"
      "  compare    every policy on one workload: summary.json, timeseries.csv, plots\n"
      "  run        one policy\n"
      "  calibrate  per-instance decode target and P:D ratio for a profile and workload\n"
      "  replay     a heteroscaled --record directory through the Controller, actions compared\n";
  try {
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
      std::fputs(usage, args.empty() ? stderr : stdout);
      return args.empty() ? 2 : 0;
    }
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (args[0] == "compare") return cmd_compare(rest, false);
    if (args[0] == "run") return cmd_compare(rest, true);
    if (args[0] == "calibrate") return cmd_calibrate(rest);
    if (args[0] == "replay") return cmd_replay(rest);
    std::fprintf(stderr, "hs-sim: unknown command %s\n%s", args[0].c_str(), usage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hs-sim: internal error: %s\n", e.what());
    return 3;
  }
}
