// hs-loadgen: see hs/router/loadgen.h. Writes DIR/requests.csv and DIR/summary.json.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "hs/common/cli.h"
#include "hs/common/file.h"
#include "hs/router/loadgen.h"
#include "hs/workload/load.h"

namespace po = boost::program_options;
using namespace hs;

namespace {

int fail(const std::string& m, int rc) {
  std::fprintf(stderr, "hs-loadgen: %s\n", m.c_str());
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  std::string trace, out_dir;
  workload::LoadOptions lo;
  router::LoadgenOptions o;
  router::LoadgenSlo slo;
  po::options_description d("hs-loadgen --trace FILE --url URL --out DIR [options]");
  d.add_options()("help,h", "this help")("trace", po::value(&trace)->value_name("PATH"),
                                         "Azure CSV, Mooncake JSONL or a ServeGen folder")(
      "url", po::value(&o.url)->value_name("URL"), "endpoint base, e.g. http://127.0.0.1:8000")(
      "out", po::value(&out_dir)->value_name("DIR"), "where requests.csv and summary.json go")(
      "model", po::value(&o.model)->value_name("NAME"), "model name to send (default: none)")(
      "time-scale", po::value(&o.time_scale)->value_name("K"), "replay K times faster (default 1)")(
      "start", po::value(&lo.start_s)->value_name("S"), "skip the trace's first S seconds")(
      "duration", po::value(&lo.duration_s)->value_name("S"),
      "trace seconds to replay (default all)")("rate-scale",
                                               po::value(&lo.rate_scale)->value_name("X"),
                                               "request rate multiplier (default 1)")(
      "seed", po::value(&lo.seed)->value_name("N"), "seed for rate scaling (default 1)")(
      "ttft-slo", po::value(&slo.ttft_s)->value_name("S"), "goodput TTFT SLO (default 2)")(
      "tbt-slo", po::value(&slo.tbt_s)->value_name("S"), "goodput mean-TBT SLO (default 0.1)")(
      "timeout", po::value(&o.timeout_s)->value_name("S"), "per-request timeout (default 600)")(
      "no-progress", "no progress line on stderr");
  po::variables_map vm;
  if (int rc = cli::parse(po::command_line_parser(argc, argv), d, vm, "hs-loadgen"); rc >= 0)
    return rc;
  if (trace.empty() || o.url.empty() || out_dir.empty())
    return fail("--trace, --url and --out are required", 2);
  if (!(o.time_scale > 0)) return fail("--time-scale must be positive", 2);
  auto loaded = workload::load_requests(trace, lo);
  if (!loaded.ok()) return fail(loaded.error().to_string(), 1);
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return fail("cannot create " + out_dir + ": " + ec.message(), 1);
  bool bar = !vm.count("no-progress") && isatty(2);
  size_t n = loaded->requests.size();
  auto progress = [&](size_t sent, size_t done, size_t failed) {
    if (bar)
      std::fprintf(stderr, "\rhs-loadgen: sent %zu/%zu  done %zu  failed %zu   ", sent, n, done,
                   failed);
  };
  auto t0 = std::chrono::steady_clock::now();
  auto recs = router::replay(o, loaded->requests, progress);
  if (!recs.ok()) return fail(recs.error().to_string(), 2);
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (bar) std::fprintf(stderr, "\n");
  for (const auto& [name, text] :
       {std::pair<std::string, std::string>{"requests.csv", router::records_csv(*recs)},
        {"summary.json", router::summarize(*recs, slo, wall)}}) {
    auto st = write_file_atomic(out_dir + "/" + name, text);
    if (!st.ok()) return fail(st.error().to_string(), 1);
  }
  size_t ok = 0;
  for (const auto& r : *recs) ok += r.outcome == router::Outcome::kOk;
  std::fprintf(stderr, "hs-loadgen: %zu requests, %zu ok, in %.1f s; see %s/summary.json\n", n, ok,
               wall, out_dir.c_str());
  return 0;
}
