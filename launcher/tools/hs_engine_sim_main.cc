// hs-engine-sim: runs one simulated engine (see hs/launcher/engine_sim.h) until SIGTERM or
// SIGINT. On the signal it drains like vLLM under Slurm's scancel: no new requests, in-flight
// ones finish (up to --grace seconds), then it exits 0.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "hs/common/cli.h"
#include "hs/launcher/engine_sim.h"
#include "hs/workload/profile.h"

namespace po = boost::program_options;
using namespace hs;

namespace {

int fail(const std::string& msg) {
  std::fprintf(stderr, "hs-engine-sim: %s\n", msg.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string role_text = "both", gpu = "h100", model = "llama-8b", profiles_file;
  double grace = 30;
  launcher::EngineSimOptions o;
  po::options_description d("hs-engine-sim [options]");
  d.add_options()("help,h", "this help")("role", po::value(&role_text)->value_name("R"),
                                         "prefill, decode or both (default both)")(
      "gpu-type", po::value(&gpu)->value_name("G"), "GPU type of the profile (default h100)")(
      "model", po::value(&model)->value_name("M"), "model of the profile (default llama-8b)")(
      "profiles", po::value(&profiles_file)->value_name("FILE"),
      "engine profiles YAML (default: the compiled-in ones)")(
      "served-model-name", po::value(&o.served_model)->value_name("NAME"),
      "model name the API answers to (default llama)")(
      "host", po::value(&o.host)->value_name("ADDR"), "listen address (default 127.0.0.1)")(
      "port", po::value(&o.port)->value_name("N"), "listen port (default 0: any free port)")(
      "engine-id", po::value(&o.engine_id)->value_name("ID"), "KV engine id (default host:port)")(
      "time-scale", po::value(&o.time_scale)->value_name("X"),
      "run X times faster than the profile (default 1)")(
      "kv-gbytes-per-s", po::value(&o.kv_gbytes_per_s)->value_name("X"),
      "KV transfer bandwidth (default 25)")(
      "kv-ttl", po::value(&o.kv_ttl_s)->value_name("S"),
      "seconds a prefilled KV waits to be pulled (default 120)")(
      "grace", po::value(&grace)->value_name("S"),
      "seconds in-flight requests get after SIGTERM (default 30)");
  po::variables_map vm;
  if (int rc = cli::parse(po::command_line_parser(argc, argv), d, vm, "hs-engine-sim"); rc >= 0)
    return rc;
  auto role = parse_role(role_text);
  if (!role.ok()) return fail("--role: " + role.error().to_string());
  o.role = *role;
  if (!(o.time_scale > 0)) return fail("--time-scale must be positive");
  if (!(grace >= 0)) return fail("--grace must not be negative");
  workload::ProfileSet loaded;
  const workload::ProfileSet* set = &workload::default_profiles();
  if (!profiles_file.empty()) {
    auto p = workload::load_profiles(profiles_file);
    if (!p.ok()) return fail(p.error().to_string());
    loaded = std::move(*p);
    set = &loaded;
  }
  const workload::EngineProfile* prof = set->find(gpu, model);
  if (!prof) return fail("no profile for gpu '" + gpu + "' and model '" + model + "'");

  // Block the signals before any thread starts so that only sigwait below sees them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  auto engine = launcher::EngineSim::start(o, *prof);
  if (!engine.ok()) {
    std::fprintf(stderr, "hs-engine-sim: %s\n", engine.error().to_string().c_str());
    return 1;
  }
  // The first stdout line is the port: scripts started with --port 0 read it.
  std::printf("%u\n", (*engine)->port());
  std::fflush(stdout);
  std::fprintf(stderr, "hs-engine-sim: %s %s/%s engine %s listening on %s:%u\n",
               std::string(to_string(o.role)).c_str(), gpu.c_str(), model.c_str(),
               (*engine)->engine_id().c_str(), o.host.c_str(), (*engine)->port());
  int sig = 0;
  sigwait(&sigs, &sig);
  std::fprintf(stderr, "hs-engine-sim: signal %d, draining\n", sig);
  (*engine)->drain();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace);
  while ((*engine)->in_flight() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (*engine)->stop();
  return 0;
}
