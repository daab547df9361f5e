// hs-launch: what a Slurm array task runs for one engine instance. Allocates the instance's
// ports, builds the engine's argv and environment (no shell), starts it, waits for /health,
// registers it in the endpoints file hs-router reads, heartbeats, and on SIGTERM/SIGINT drains:
// marks itself draining (the router stops sending within its reload interval), waits for the
// engine's running and waiting requests to reach zero (up to --drain-timeout), deregisters,
// then stops the engine (SIGTERM, SIGKILL after --stop-timeout). If the engine dies by itself
// the instance is deregistered and hs-launch exits with the engine's status.
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

#include "hs/common/cli.h"
#include "hs/common/clock.h"
#include "hs/common/file.h"
#include "hs/common/http.h"
#include "hs/common/prometheus_text.h"
#include "hs/common/text.h"
#include "hs/launcher/engine_command.h"
#include "hs/launcher/registry.h"

extern char** environ;

namespace po = boost::program_options;
using namespace hs;
using Steady = std::chrono::steady_clock;

namespace {

int fail(const std::string& m, int rc) {
  std::fprintf(stderr, "hs-launch: %s\n", m.c_str());
  return rc;
}

void note(const std::string& m) { std::fprintf(stderr, "hs-launch: %s\n", m.c_str()); }

// A port the kernel says is free now. Another process could take it before the engine binds
// (the same race torch's and vLLM's own get_open_port have); the engine then fails to start
// and hs-launch exits with its status, which Slurm reports.
Result<uint16_t> free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return unavailable(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t len = sizeof a;
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  if (rc == 0) rc = ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  if (rc != 0) return unavailable(std::string("cannot find a free port: ") + std::strerror(errno));
  return ntohs(a.sin_port);
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// Requests the engine still holds, from vLLM's gauges (hs-engine-sim exports the same).
Result<double> engine_load(const std::string& host, uint16_t port) {
  auto r = http::request(host, port, "GET", "/metrics", "", {std::chrono::milliseconds(2000), {}});
  if (!r.ok()) return r.error();
  auto s = prom::parse(r->body, "engine /metrics");
  if (!s.ok()) return s.error();
  return s->sum("vllm:num_requests_running") + s->sum("vllm:num_requests_waiting");
}

}  // namespace

int main(int argc, char** argv) {
  launcher::LaunchSpec spec;
  std::string role_text, engine_text = "sim", service, group = "default", register_file, scaler_url,
                         token_file;
  double startup_timeout = 1800, drain_timeout = 120, stop_timeout = 15, heartbeat_s = 10;
  std::vector<std::string> extra;
  po::options_description d(
      "hs-launch --service S --role R --engine vllm|sglang|sim --model M [options] [-- engine "
      "args]");
  d.add_options()("help,h", "this help")("service", po::value(&service)->value_name("S"),
                                         "service name")(
      "role", po::value(&role_text)->value_name("R"), "prefill, decode or both")(
      "engine", po::value(&engine_text)->value_name("E"), "vllm, sglang or sim (default sim)")(
      "model", po::value(&spec.model)->value_name("M"), "weights path or id (sim: profile model)")(
      "served-model-name", po::value(&spec.served_model)->value_name("NAME"),
      "name clients use (default: model)")("gpu-type", po::value(&spec.gpu_type)->value_name("G"),
                                           "GPU type (sim: the profile's)")(
      "group", po::value(&group)->value_name("G"), "deployment group (default 'default')")(
      "host", po::value(&spec.host)->value_name("ADDR"),
      "address the engine listens on and registers (default: hostname)")(
      "tensor-parallel", po::value(&spec.tensor_parallel)->value_name("N"),
      "GPUs per instance (default 1)")("register", po::value(&register_file)->value_name("FILE"),
                                       "endpoints file to register in (default: none)")(
      "scaler", po::value(&scaler_url)->value_name("URL"),
      "register with heteroscaled at URL instead (http://host:port)")(
      "token-file", po::value(&token_file)->value_name("FILE"),
      "heteroscaled's bearer token (--scaler)")(
      "sim-time-scale", po::value(&spec.sim_time_scale)->value_name("K"),
      "sim: speed-up (default 1)")("startup-timeout", po::value(&startup_timeout)->value_name("S"),
                                   "seconds to wait for /health (default 1800)")(
      "drain-timeout", po::value(&drain_timeout)->value_name("S"),
      "seconds in-flight requests get (default 120)")(
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
  for (int i = split + 1; i < argc; ++i) extra.push_back(argv[i]);
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
  spec.engine = *kind;
  spec.extra_args = extra;
  spec.nic = env_or("HS_NIC", "");  // set by the SPANK plugin: the NIC nearest this task's GPU
  if (!vm.count("host")) {
    char h[256] = {};
    ::gethostname(h, sizeof h - 1);
    spec.host = h;
  }
  if (spec.engine == launcher::EngineKind::kSim) {
    // The simulator ships beside hs-launch; prefer that copy over $PATH.
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    auto beside = self.parent_path() / "hs-engine-sim";
    if (!ec && std::filesystem::exists(beside)) spec.sim_binary = beside.string();
  }
  launcher::InstancePorts ports;
  for (uint16_t* p : {&ports.http, &ports.kv_side_channel, &ports.bootstrap, &ports.torch_master}) {
    auto f = free_port();
    if (!f.ok()) return fail(f.error().to_string(), 1);
    *p = *f;
  }
  auto cmd = launcher::build_engine_command(spec, ports);
  if (!cmd.ok()) return fail(cmd.error().to_string(), 2);

  // Signals are taken synchronously below; the engine starts with a clean mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (!cmd->env.count(kv.substr(0, kv.find('=')))) env_store.push_back(kv);
  }
  for (const auto& [k, v] : cmd->env) env_store.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  for (auto& s : cmd->argv) args.push_back(s.data());
  args.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  // The engine's stdout joins its stderr: hs-launch's stdout carries only the registered URL.
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, 2, 1);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return fail("cannot start " + cmd->argv[0] + ": " + std::strerror(rc), 1);
  std::string shown;
  for (const auto& a : cmd->argv) shown += " " + a;
  note("started pid " + std::to_string(pid) + ":" + shown);

  const std::string url = "http://" + spec.host + ":" + std::to_string(ports.http);
  auto exited = [&](int* status) { return ::waitpid(pid, status, WNOHANG) == pid; };
  auto exit_code = [](int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  };
  auto stop_engine = [&]() {
    ::kill(pid, SIGTERM);
    auto deadline = Steady::now() + std::chrono::duration<double>(stop_timeout);
    int st = 0;
    while (Steady::now() < deadline) {
      if (exited(&st)) return exit_code(st);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    note("engine still running after " + std::to_string(stop_timeout) + " s: SIGKILL");
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &st, 0);
    return exit_code(st);
  };
  timespec tick{0, 200 * 1000 * 1000};

  // 1. Wait for health.
  auto start_deadline = Steady::now() + std::chrono::duration<double>(startup_timeout);
  for (;;) {
    int st = 0;
    if (exited(&st))
      return fail(
          "engine exited before it was healthy (status " + std::to_string(exit_code(st)) + ")",
          exit_code(st));
    auto h = http::request(spec.host, ports.http, "GET", "/health", "",
                           {std::chrono::milliseconds(1000), {}});
    if (h.ok() && h->status == 200) break;
    if (Steady::now() > start_deadline) {
      stop_engine();
      return fail("engine not healthy after " + std::to_string(startup_timeout) + " s", 1);
    }
    int sig = sigtimedwait(&sigs, nullptr, &tick);
    if (sig > 0) {
      note("signal before the engine was healthy: stopping it");
      return stop_engine() == 0 ? 0 : 1;
    }
  }
  // 2. Register.
  launcher::Registration reg{url,
                             std::string(to_string(spec.role)),
                             group,
                             service,
                             spec.gpu_type,
                             env_or("SLURM_ARRAY_JOB_ID", env_or("SLURM_JOB_ID", "")),
                             env_or("SLURM_ARRAY_TASK_ID", "")};
  if (registry) {
    auto st = registry->add(reg);
    if (!st.ok()) {
      stop_engine();
      return fail("cannot register: " + st.error().to_string(), 1);
    }
  }
  std::printf("%s\n", url.c_str());
  std::fflush(stdout);
  note("healthy and registered: " + url + " (" + reg.role + ", group " + group + ")");
  // 3. Serve until a signal or the engine's own exit.
  Steady::time_point next_beat = Steady::now();
  for (;;) {
    int st = 0;
    if (exited(&st)) {
      if (registry) (void)registry->remove(url);
      return fail(
          "engine exited by itself (status " + std::to_string(exit_code(st)) + "); deregistered",
          exit_code(st));
    }
    if (registry && Steady::now() >= next_beat) {
      double now =
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      auto hb = registry->heartbeat(url, now);
      if (!hb.ok()) note("heartbeat failed: " + hb.error().to_string());
      next_beat = Steady::now() + from_seconds(heartbeat_s);
    }
    int sig = sigtimedwait(&sigs, nullptr, &tick);
    if (sig > 0) break;
  }
  // 4. Drain: router first, then wait for the engine to empty, then stop it.
  note("draining");
  if (registry) {
    auto st = registry->draining(url);
    if (!st.ok()) note("cannot mark draining: " + st.error().to_string());
  }
  auto drain_deadline = Steady::now() + std::chrono::duration<double>(drain_timeout);
  std::this_thread::sleep_for(
      std::chrono::milliseconds(500));  // the router's reload interval, twice
  bool drained = false;
  while (Steady::now() < drain_deadline) {
    int st = 0;
    if (exited(&st)) break;
    auto load = engine_load(spec.host, ports.http);
    if (load.ok() && *load == 0) {
      drained = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!drained) note("drain incomplete after " + std::to_string(drain_timeout) + " s");
  if (registry) (void)registry->remove(url);
  int code = stop_engine();
  note("engine stopped (status " + std::to_string(code) + ")");
  return drained ? 0 : 1;
}
