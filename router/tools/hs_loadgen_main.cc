// hs-loadgen: see hs/router/loadgen.h. Writes DIR/requests.csv and DIR/summary.json.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include "hs/common/cli.h"
#include "hs/common/fd_limit.h"
#include "hs/common/file.h"
#include "hs/common/http.h"
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
  (void)hs::raise_fd_limit();  // a socket per connection: fd_limit.h
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
  if (auto u = http::parse_url(o.url); !u.ok())
    return fail(u.error().with_context("--url").to_string(), 2);
  auto stream = workload::open_requests(trace, lo);
  if (!stream.ok()) return fail(stream.error().to_string(), 1);
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return fail("cannot create " + out_dir + ": " + ec.message(), 1);
  // requests.csv is written as requests finish (to a .partial, renamed at the end), so the
  // replay holds only what is in flight.
  const std::string csv = out_dir + "/requests.csv", partial = csv + ".partial";
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(partial.c_str(), "w"), &std::fclose);
  if (!f) return fail("cannot write " + partial + ": " + std::strerror(errno), 1);
  std::fputs(router::records_csv_header().c_str(), f.get());
  router::LoadgenSummary summary;
  bool bar = !vm.count("no-progress") && isatty(2);
  auto progress = [&](size_t sent, size_t done, size_t failed) {
    if (bar)
      std::fprintf(stderr, "\rhs-loadgen: sent %zu  done %zu  failed %zu   ", sent, done, failed);
  };
  auto sink = [&](const router::RequestRecord& r) {
    std::fputs(router::record_csv_line(r).c_str(), f.get());
    summary.add(r, slo);
  };
  auto t0 = std::chrono::steady_clock::now();
  auto sent = router::replay(o, **stream, sink, progress);
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (bar) std::fprintf(stderr, "\n");
  if (!sent.ok()) return fail(sent.error().to_string(), 1);
  if (std::fflush(f.get()) != 0 || std::ferror(f.get()))
    return fail("cannot write " + partial + ": " + std::strerror(errno), 1);
  f.reset();
  if (std::rename(partial.c_str(), csv.c_str()) != 0)
    return fail("cannot rename " + partial + ": " + std::strerror(errno), 1);
  auto st = write_file_atomic(out_dir + "/summary.json", summary.json(slo, wall));
  if (!st.ok()) return fail(st.error().to_string(), 1);
  std::fprintf(stderr, "hs-loadgen: %zu requests, %zu ok, in %.1f s; see %s/summary.json\n",
               summary.requests(), summary.ok(), wall, out_dir.c_str());
  return 0;
}
