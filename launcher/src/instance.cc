#include "hs/launcher/instance.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "hs/common/clock.h"
#include "hs/common/engine_metrics.h"
#include "hs/common/http.h"
#include "hs/launcher/process.h"

namespace hs::launcher {

using Steady = std::chrono::steady_clock;

namespace {

void note(const std::string& m) { std::fprintf(stderr, "hs-launch: %s\n", m.c_str()); }

// What the engine still holds, from its /metrics through the one name table (vLLM or SGLang).
Result<bool> engine_idle(const InstancePlan& p) {
  auto r = http::request(p.host, p.port, "GET", "/metrics", "",
                         {std::chrono::milliseconds(2000), {}, {}});
  if (!r.ok()) return r.error();
  if (r->status != 200) return unavailable("/metrics answered " + std::to_string(r->status));
  auto s = prom::parse(r->body, "engine /metrics");
  if (!s.ok()) return s.error();
  auto reading = engine_metrics::read(*s);
  if (!reading.ok()) return reading.error();
  return engine_metrics::idle(*reading, p.role == Role::kPrefill);
}

class Engine {
 public:
  Engine(pid_t pid, double stop_timeout_s) : pid_(pid), stop_timeout_s_(stop_timeout_s) {}
  // True (and the status) once the engine has exited.
  bool exited(int* status) {
    if (done_) {
      *status = status_;
      return true;
    }
    if (::waitpid(pid_, &status_, WNOHANG) != pid_) return false;
    done_ = true;
    *status = status_;
    return true;
  }
  // SIGTERM, then SIGKILL after the stop timeout. Returns the exit status.
  int stop() {
    int st = 0;
    if (exited(&st)) return exit_code(st);
    ::kill(pid_, SIGTERM);
    auto deadline = Steady::now() + std::chrono::duration<double>(stop_timeout_s_);
    while (Steady::now() < deadline) {
      if (exited(&st)) return exit_code(st);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    note("engine still running after " + std::to_string(stop_timeout_s_) + " s: SIGKILL");
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &st, 0);
    done_ = true;
    return exit_code(st);
  }

 private:
  pid_t pid_;
  double stop_timeout_s_;
  bool done_ = false;
  int status_ = 0;
};

int fail(const std::string& m, int rc) {
  note(m);
  return rc;
}

}  // namespace

int run_instance(const InstancePlan& p, Registry* registry, const sigset_t& sigs) {
  Engine engine(p.engine_pid, p.stop_timeout_s);
  timespec tick{0, 200 * 1000 * 1000};
  // 1. Wait for health. A loading vLLM has bound its port but does not answer yet.
  auto start_deadline = Steady::now() + std::chrono::duration<double>(p.startup_timeout_s);
  for (;;) {
    int st = 0;
    if (engine.exited(&st))
      return fail(
          "engine exited before it was healthy (status " + std::to_string(exit_code(st)) + ")",
          exit_code(st));
    auto h = http::request(p.host, p.port, "GET", "/health", "",
                           {std::chrono::milliseconds(1000), {}, {}});
    if (h.ok() && h->status == 200) break;
    if (Steady::now() > start_deadline) {
      engine.stop();
      return fail("engine not healthy after " + std::to_string(p.startup_timeout_s) + " s", 1);
    }
    if (sigtimedwait(&sigs, nullptr, &tick) > 0) {
      note("signal before the engine was healthy: stopping it");
      return engine.stop() == 0 ? 0 : 1;
    }
  }
  // 2. Register. heteroscaled may be restarting (after a crash or an upgrade): an instance
  // must not die because the daemon is away for a moment, so an unreachable registry is
  // retried; only a refusal (bad registration, bad token) ends the instance.
  if (registry) {
    bool said = false;
    for (;;) {
      auto st = registry->add(p.registration);
      if (st.ok()) break;
      if (st.error().code != ErrorCode::kUnavailable) {
        engine.stop();
        return fail("cannot register: " + st.error().to_string(), 1);
      }
      if (!said) note("cannot register yet (" + st.error().to_string() + "); retrying");
      said = true;
      int est = 0;
      if (engine.exited(&est))
        return fail("engine exited before it was registered (status " +
                        std::to_string(exit_code(est)) + ")",
                    exit_code(est));
      timespec wait{1, 0};
      if (sigtimedwait(&sigs, nullptr, &wait) > 0) {
        note("signal before the instance was registered: stopping the engine");
        return engine.stop() == 0 ? 0 : 1;
      }
    }
  }
  std::printf("%s\n", p.url.c_str());
  std::fflush(stdout);
  note("healthy and registered: " + p.url + " (" + p.registration.role + ", group " +
       p.registration.group + ")");
  // 3. Serve until a stop signal or the engine's own exit.
  Steady::time_point next_beat = Steady::now();
  int sig = 0;
  for (;;) {
    int st = 0;
    if (engine.exited(&st)) {
      if (registry) (void)registry->remove(p.url);
      return fail(
          "engine exited by itself (status " + std::to_string(exit_code(st)) + "); deregistered",
          exit_code(st));
    }
    if (registry && Steady::now() >= next_beat) {
      double now =
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      auto hb = registry->heartbeat(p.url, now);
      if (!hb.ok()) note("heartbeat failed: " + hb.error().to_string());
      next_beat = Steady::now() + from_seconds(p.heartbeat_s);
    }
    sig = sigtimedwait(&sigs, nullptr, &tick);
    if (sig > 0) break;
  }
  // 4. Drain: router first, then wait until the engine holds nothing, then stop it.
  note(std::string("signal ") + strsignal(sig) + ": draining");
  if (registry) {
    auto st = registry->draining(p.url);
    if (!st.ok()) note("cannot mark draining: " + st.error().to_string());
  }
  auto drain_deadline = Steady::now() + std::chrono::duration<double>(p.drain_timeout_s);
  // The file registry's router re-reads within 250 ms; twice that before the first look.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  bool drained = false, said = false;
  while (Steady::now() < drain_deadline) {
    int st = 0;
    if (engine.exited(&st)) break;
    auto idle = engine_idle(p);
    if (idle.ok() && *idle) {
      drained = true;
      break;
    }
    if (!said) {
      note(idle.ok() ? "drain: waiting for the engine's requests and unread KV"
                     : "drain: cannot read the engine's metrics (" + idle.error().to_string() +
                           "); waiting");
      said = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!drained)
    note("drain incomplete after " + std::to_string(p.drain_timeout_s) +
         " s (requests or unread KV still held)");
  if (registry) (void)registry->remove(p.url);
  int code = engine.stop();
  note("engine stopped (status " + std::to_string(code) + ")");
  return drained ? 0 : 1;
}

}  // namespace hs::launcher
