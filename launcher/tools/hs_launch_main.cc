// hs-launch: what a Slurm array task runs for one engine instance. Picks the address peers
// reach it at, allocates the instance's ports, detects the engine's release, builds its argv
// and environment (no shell), starts it, then runs the instance's life (instance.h): health,
// registration, heartbeats, and on SIGTERM, SIGINT or SIGUSR1 (Slurm's --signal warning) a
// router-first drain. If the engine dies by itself the instance is deregistered and hs-launch
// exits with the engine's status.
#include <signal.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "hs/common/cli.h"
#include "hs/common/file.h"
#include "hs/common/http.h"
#include "hs/common/text.h"
#include "hs/launcher/engine_command.h"
#include "hs/launcher/instance.h"
#include "hs/launcher/net_address.h"
#include "hs/launcher/process.h"
#include "hs/launcher/registry.h"

namespace po = boost::program_options;
using namespace hs;

namespace {

int fail(const std::string& m, int rc) {
  std::fprintf(stderr, "hs-launch: %s\n", m.c_str());
  return rc;
}

void note(const std::string& m) { std::fprintf(stderr, "hs-launch: %s\n", m.c_str()); }

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// The engine's release: as given, or asked of the engine itself (`vllm --version`). The
// simulator behaves as the vLLM release it is told to emulate.
Result<launcher::EngineVersion> engine_version(launcher::EngineKind kind,
                                               const std::string& given) {
  if (!given.empty()) return launcher::parse_engine_version(given);
  if (kind == launcher::EngineKind::kSim) return launcher::parse_engine_version("0.18.0");
  if (kind == launcher::EngineKind::kSglang) return launcher::parse_engine_version("0.4.10");
  // Importing vLLM takes a while on a cold node; two minutes is generous.
  auto out = launcher::run_capture({"vllm", "--version"}, std::chrono::seconds(120));
  if (!out.ok())
    return out.error().with_context("cannot detect the vLLM release (give --engine-version)");
  return launcher::version_from_output(*out);
}

// The peer whose route decides the advertised address: the daemon, or the router file's host.
std::string route_peer(const std::string& scaler_url) {
  if (scaler_url.empty()) return "";
  auto u = http::parse_url(scaler_url);
  return u.ok() ? u->host : "";
}

}  // namespace

int main(int argc, char** argv) {
  launcher::LaunchSpec spec;
  std::string role_text, engine_text = "sim", service, group = "default", register_file, scaler_url,
                         token_file, advertise, engine_version_text, api_key_file;
  double startup_timeout = 1800, drain_timeout = 120, stop_timeout = 15, heartbeat_s = 10;
  po::options_description d(
      "hs-launch --service S --role R --engine vllm|sglang|sim --model M [options] [-- engine "
      "args]");
  d.add_options()("help,h", "this help")("service", po::value(&service)->value_name("S"),
                                         "service name")(
      "role", po::value(&role_text)->value_name("R"), "prefill, decode or both")(
      "engine", po::value(&engine_text)->value_name("E"), "vllm, sglang or sim (default sim)")(
      "engine-version", po::value(&engine_version_text)->value_name("V"),
      "the engine's release (default: vllm --version; sim: the vLLM release it emulates, 0.18.0)")(
      "model", po::value(&spec.model)->value_name("M"), "weights path or id (sim: profile model)")(
      "served-model-name", po::value(&spec.served_model)->value_name("NAME"),
      "name clients use (default: model)")("gpu-type", po::value(&spec.gpu_type)->value_name("G"),
                                           "GPU type (sim: the profile's)")(
      "group", po::value(&group)->value_name("G"), "deployment group (default 'default')")(
      "host", po::value(&spec.bind_host)->value_name("ADDR"),
      "address the engine listens on (default 0.0.0.0)")(
      "advertise", po::value(&advertise)->value_name("IP"),
      "address peers reach it at, registered and used for vLLM's NIXL side channel (default: "
      "--host if specific, else the interface that routes to --scaler, else the first "
      "non-loopback one)")("tensor-parallel", po::value(&spec.tensor_parallel)->value_name("N"),
                           "GPUs per instance (default: $HS_GPUS, else 1)")(
      "api-key-file", po::value(&api_key_file)->value_name("FILE"),
      "the engines' API key (reaches vLLM as VLLM_API_KEY, never on a command line)")(
      "register", po::value(&register_file)->value_name("FILE"),
      "endpoints file to register in (default: none)")(
      "scaler", po::value(&scaler_url)->value_name("URL"),
      "register with heteroscaled at URL instead (http://host:port)")(
      "token-file", po::value(&token_file)->value_name("FILE"),
      "heteroscaled's bearer token (--scaler)")(
      "sim-time-scale", po::value(&spec.sim_time_scale)->value_name("K"),
      "sim: speed-up (default 1)")("startup-timeout", po::value(&startup_timeout)->value_name("S"),
                                   "seconds to wait for /health (default 1800)")(
      "drain-timeout", po::value(&drain_timeout)->value_name("S"),
      "seconds in-flight requests and unread KV get (default 120)")(
      "stop-timeout", po::value(&stop_timeout)->value_name("S"),
      "seconds between SIGTERM and SIGKILL (default 15)")(
      "heartbeat", po::value(&heartbeat_s)->value_name("S"),
      "seconds between heartbeats (default 10)");
  po::variables_map vm;
  int split = argc;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--") {
      split = i;
      break;
    }
  for (int i = split + 1; i < argc; ++i) spec.extra_args.push_back(argv[i]);
  if (int rc = cli::parse(po::command_line_parser(split, argv), d, vm, "hs-launch"); rc >= 0)
    return rc;
  auto role = parse_role(role_text);
  if (!role.ok()) return fail("--role: " + role.error().to_string(), 2);
  auto kind = launcher::parse_engine_kind(engine_text);
  if (!kind.ok()) return fail(kind.error().to_string(), 2);
  if (service.empty()) return fail("--service is required", 2);
  if (!(startup_timeout > 0 && drain_timeout >= 0 && stop_timeout >= 0 && heartbeat_s > 0))
    return fail("timeouts must not be negative and --heartbeat must be positive", 2);
  spec.role = *role;
  spec.engine = *kind;
  spec.drain_timeout_s = drain_timeout;
  if (!register_file.empty() && !scaler_url.empty())
    return fail("--register and --scaler exclude each other", 2);
  std::unique_ptr<launcher::Registry> registry;
  if (!register_file.empty()) registry = launcher::file_registry(register_file);
  if (!scaler_url.empty()) {
    if (!http::parse_url(scaler_url).ok()) return fail("--scaler: expected http://host:port", 2);
    std::string token;
    if (!token_file.empty()) {
      auto t = read_file(token_file, 4096);
      if (!t.ok()) return fail("--token-file: " + t.error().to_string(), 2);
      token = std::string(trim(*t));
    }
    registry = launcher::scaler_registry(scaler_url, token);
  }
  if (!api_key_file.empty()) {
    auto k = read_file(api_key_file, 4096);
    if (!k.ok()) return fail("--api-key-file: " + k.error().to_string(), 2);
    spec.api_key = std::string(trim(*k));
    if (spec.api_key.empty()) return fail("--api-key-file: the file is empty", 2);
  }
  auto st = launcher::apply_task_environment(
      spec, [](const char* n) { return env_or(n, ""); }, vm.count("tensor-parallel") > 0);
  if (!st.ok()) return fail(st.error().to_string(), 2);
  if (advertise.empty() && launcher::is_ip_literal(spec.bind_host) && spec.bind_host != "0.0.0.0" &&
      spec.bind_host != "::")
    advertise = spec.bind_host;  // bound to one address: that is where peers reach it
  auto adv = launcher::pick_advertise_address(advertise, route_peer(scaler_url));
  if (!adv.ok()) return fail(adv.error().to_string(), 2);
  spec.advertise = *adv;
  auto version = engine_version(spec.engine, engine_version_text);
  if (!version.ok()) return fail(version.error().to_string(), 2);
  spec.version = *version;
  if (spec.engine == launcher::EngineKind::kSim) {
    // The simulator ships beside hs-launch; prefer that copy over $PATH.
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    auto beside = self.parent_path() / "hs-engine-sim";
    if (!ec && std::filesystem::exists(beside)) spec.sim_binary = beside.string();
  }
  launcher::InstancePorts ports;
  auto http_port = launcher::free_port();
  auto side = launcher::free_port_block(std::max<uint32_t>(1, launcher::side_channel_ports(spec)));
  auto boot = launcher::free_port();
  auto master = launcher::free_port();
  for (const auto* r : {&http_port, &side, &boot, &master})
    if (!r->ok()) return fail(r->error().to_string(), 1);
  ports = {*http_port, *side, *boot, *master};
  auto cmd = launcher::build_engine_command(spec, ports);
  if (!cmd.ok()) return fail(cmd.error().to_string(), 2);

  // Stop signals are taken synchronously by the instance loop; the engine starts with none
  // blocked. SIGUSR1 is Slurm's --signal=B:USR1@T warning before a time limit or preemption.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGTERM, SIGINT, SIGUSR1}) sigaddset(&sigs, s);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  auto pid = launcher::spawn(cmd->argv, cmd->env);
  if (!pid.ok()) return fail(pid.error().to_string(), 1);
  std::string shown;
  for (const auto& a : cmd->argv) shown += " " + a;
  for (const auto& [k, v] : cmd->env)
    if (k != "VLLM_API_KEY") shown += " " + k + "=" + v;
  note("started pid " + std::to_string(*pid) + " (" + engine_text + " " + spec.version.text +
       "):" + shown);

  launcher::InstancePlan plan;
  plan.engine_pid = *pid;
  plan.url = "http://" + spec.advertise + ":" + std::to_string(ports.http);
  plan.host = spec.advertise;
  plan.port = ports.http;
  plan.role = spec.role;
  plan.startup_timeout_s = startup_timeout;
  plan.drain_timeout_s = drain_timeout;
  plan.stop_timeout_s = stop_timeout;
  plan.heartbeat_s = heartbeat_s;
  plan.registration = {plan.url,
                       std::string(to_string(spec.role)),
                       group,
                       service,
                       spec.gpu_type,
                       env_or("SLURM_ARRAY_JOB_ID", env_or("SLURM_JOB_ID", "")),
                       env_or("SLURM_ARRAY_TASK_ID", "")};
  return launcher::run_instance(plan, registry.get(), sigs);
}
