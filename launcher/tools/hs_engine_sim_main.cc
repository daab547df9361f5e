// hs-engine-sim: runs one simulated engine (see hs/launcher/engine_sim.h) until SIGTERM or
// SIGINT. It reads the environment vLLM reads (VLLM_NIXL_SIDE_CHANNEL_HOST/PORT,
// VLLM_NIXL_ABORT_REQUEST_TIMEOUT, VLLM_API_KEY) and behaves on SIGTERM as the emulated vLLM
// release does: before 0.18, or with --shutdown-timeout 0, in-flight requests are aborted at
// once; from 0.18 with --shutdown-timeout S it stops taking requests and lets in-flight ones
// finish for up to S seconds (vLLM PRs #34730/#36666).
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <thread>

#include "hs/common/cli.h"
#include "hs/common/fd_limit.h"
#include "hs/common/text.h"
#include "hs/launcher/engine_sim.h"
#include "hs/launcher/engine_version.h"
#include "hs/workload/profile.h"

namespace po = boost::program_options;
using namespace hs;

namespace {

int fail(const std::string& msg) {
  std::fprintf(stderr, "hs-engine-sim: %s\n", msg.c_str());
  return 2;
}

std::string env(const char* name, const std::string& fallback = {}) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  (void)hs::raise_fd_limit();  // a socket per connection: fd_limit.h
  std::string role_text = "both", gpu = "h100", model = "llama-8b", profiles_file, sigterm,
              emulate = "0.18.0";
  double shutdown_timeout = 0;
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
      "tensor-parallel-size", po::value(&o.tensor_parallel)->value_name("N"),
      "TP ranks (default 1; vLLM 0.10.x: a side-channel port each)")(
      "emulate-vllm", po::value(&emulate)->value_name("VERSION"),
      "the vLLM release whose behaviour is emulated (default 0.18.0)")(
      "shutdown-timeout", po::value(&shutdown_timeout)->value_name("S"),
      "vLLM >= 0.18: seconds in-flight requests get after SIGTERM (default 0: abort)")(
      "sigterm", po::value(&sigterm)->value_name("abort|drain"),
      "override what SIGTERM does (default: as the emulated release)")(
      "load-delay", po::value(&o.load_delay_s)->value_name("S"),
      "seconds the port is bound but not served, as while a model loads (default 0)")(
      "tokens-per-chunk", po::value(&o.tokens_per_chunk)->value_name("K"),
      "tokens per streamed chunk after the first (default 1)")(
      "max-logprobs", po::value(&o.max_logprobs)->value_name("N"),
      "vLLM's --max-logprobs (default 20)");
  po::variables_map vm;
  if (int rc = cli::parse(po::command_line_parser(argc, argv), d, vm, "hs-engine-sim"); rc >= 0)
    return rc;
  auto role = parse_role(role_text);
  if (!role.ok()) return fail("--role: " + role.error().to_string());
  o.role = *role;
  if (!(o.time_scale > 0)) return fail("--time-scale must be positive");
  if (!(o.load_delay_s >= 0)) return fail("--load-delay must not be negative");
  if (o.tokens_per_chunk < 1) return fail("--tokens-per-chunk must be at least 1");
  if (o.tensor_parallel < 1) return fail("--tensor-parallel-size must be at least 1");
  auto version = launcher::parse_engine_version(emulate);
  if (!version.ok()) return fail("--emulate-vllm: " + version.error().to_string());
  auto series = launcher::vllm_series(*version);
  if (!series.ok()) return fail("--emulate-vllm: " + series.error().to_string());
  if (vm.count("shutdown-timeout") && *series != launcher::VllmSeries::kGracefulShutdown)
    return fail("--shutdown-timeout: unrecognized before vLLM 0.18 (emulating " + emulate + ")");
  if (!(shutdown_timeout >= 0)) return fail("--shutdown-timeout must not be negative");
  bool drain_on_term = shutdown_timeout > 0;
  if (!sigterm.empty()) {
    if (sigterm != "abort" && sigterm != "drain") return fail("--sigterm: expected abort or drain");
    drain_on_term = sigterm == "drain";
  }
  double grace = shutdown_timeout > 0 ? shutdown_timeout : 30;
  o.side_channel_per_rank = *series == launcher::VllmSeries::kWorkerSideChannel;
  if (o.role != Role::kBoth) {
    // vLLM's defaults (vllm/envs.py): localhost and 5600. A name is refused as libzmq 4.3.4's
    // bind refuses it, and as vLLM then never finishes starting.
    o.side_channel_host = env("VLLM_NIXL_SIDE_CHANNEL_HOST", "localhost");
    if (!launcher::is_ip_literal(o.side_channel_host))
      return fail("VLLM_NIXL_SIDE_CHANNEL_HOST=" + o.side_channel_host +
                  ": not an IP address; vLLM's ZMQ bind fails here with \"No such device\"");
    auto port = parse_u64(env("VLLM_NIXL_SIDE_CHANNEL_PORT", "5600"));
    if (!port.ok() || *port > 65535) return fail("VLLM_NIXL_SIDE_CHANNEL_PORT: not a port");
    o.side_channel_port = static_cast<uint16_t>(*port);
  }
  if (auto t = env("VLLM_NIXL_ABORT_REQUEST_TIMEOUT"); !t.empty()) {
    auto v = parse_u64(t);
    if (!v.ok()) return fail("VLLM_NIXL_ABORT_REQUEST_TIMEOUT: not a whole number of seconds");
    o.kv_ttl_s = static_cast<double>(*v);
  }
  o.api_key = env("VLLM_API_KEY");
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
  std::fprintf(
      stderr, "hs-engine-sim: %s %s/%s engine %s (vLLM %s) listening on %s:%u%s; SIGTERM %s\n",
      std::string(to_string(o.role)).c_str(), gpu.c_str(), model.c_str(),
      (*engine)->engine_id().c_str(), emulate.c_str(), o.host.c_str(), (*engine)->port(),
      (*engine)->side_channel_port() ? (", NIXL side channel " + o.side_channel_host + ":" +
                                        std::to_string((*engine)->side_channel_port()))
                                           .c_str()
                                     : "",
      drain_on_term ? "drains" : "aborts in-flight requests");
  int sig = 0;
  sigwait(&sigs, &sig);
  if (!drain_on_term) {
    std::fprintf(stderr, "hs-engine-sim: signal %d, aborting %zu in-flight requests\n", sig,
                 (*engine)->in_flight());
    (*engine)->stop();
    return 0;
  }
  std::fprintf(stderr, "hs-engine-sim: signal %d, draining (up to %.0f s)\n", sig, grace);
  (*engine)->drain();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace);
  while ((*engine)->in_flight() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (*engine)->stop();
  return 0;
}
