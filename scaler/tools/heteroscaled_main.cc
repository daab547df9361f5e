// heteroscaled: one per cluster. This file holds threads, signals and wiring only; what they
// run is the hs_scaler_daemon library, unit-tested part by part:
//  - HTTP (Beast, thread per connection): DaemonApi, reading the view the tick publishes;
//  - the Slurm thread: SlurmLink, every libslurm call (the tick's batches, then a read);
//  - the scrape thread: Scraper + MetricsStore, a snapshot of metric windows per tick period;
//  - the tick thread: the Controller on the newest Slurm snapshot and metric windows, then
//    the served endpoint set and the status published whole, and the actions handed over;
//  - main: signals (SIGHUP reload, SIGTERM/SIGINT stop).
#include <signal.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <set>
#include <thread>

#include "hs/common/cli.h"
#include "hs/common/fd_limit.h"
#include "hs/common/logger.h"
#include "hs/scaler/controller.h"
#include "hs/scaler/daemon_api.h"
#include "hs/scaler/daemon_setup.h"
#include "hs/scaler/scraper.h"
#include "hs/scaler/site_check.h"
#include "hs/scaler/slurm_link.h"
#include "hs/scaler/tick_record.h"

namespace po = boost::program_options;
using namespace hs;
using namespace hs::scaler;

namespace {

int64_t wall_now() { return static_cast<int64_t>(std::time(nullptr)); }

// Slurm's stop timings (KillWait, GraceTime) against the templates, site_check.h: false on an
// error. Slurm unreachable: not checked now, and said so (checked again on SIGHUP).
bool site_allows(SlurmApi& slurm, const DaemonConfig& cfg, Logger& log) {
  auto site = slurm.load_site_config();
  if (!site.ok()) {
    log.warning("cannot read Slurm's configuration (" + site.error().to_string() +
                "): KillWait and GraceTime not checked against the templates");
    return true;
  }
  SiteFindings f = check_site(*site, cfg);
  for (const auto& w : f.warnings) log.warning(w);
  for (const auto& e : f.errors) log.error(e.to_string());
  return f.errors.empty();
}

// Test crash points (HS_TEST_CRASH_AT), one after each kind of Slurm action that took effect
// and one between the prefill and the decode submission of a new deployment group.
void crash_points_after(const Action& a, const std::string& crash_at, Logger& log) {
  auto point = [&](const char* name) {
    if (crash_at != name) return;
    log.warning(std::string("test crash point ") + name + ": SIGKILL");
    raise(SIGKILL);
  };
  switch (a.kind) {
    case Action::Kind::kThrottle:
      return point("after-throttle");
    case Action::Kind::kMarkDrain:
      return point("after-drain-mark");
    case Action::Kind::kClearDrain:
      return point("after-undrain");
    case Action::Kind::kCancelTask:
      return point("after-cancel");
    case Action::Kind::kCancelArray:
      return point("after-cancel-array");
    case Action::Kind::kSubmit:
      if (a.opens_group && a.role == Role::kPrefill) point("between-group-submits");
      return point("after-submit");
  }
}

struct Daemon {
  Daemon(DaemonConfig cfg, topo::Fabric fabric, std::string token, LogLevel level,
         SlurmMeter& slurm, std::string crash_at)
      : log("heteroscaled", level, stderr_sink()),
        slurm_api(slurm),
        config(std::move(cfg)),
        controller(config, std::move(fabric), clock.now()),
        api(regs, clock, log, std::move(token)),
        link(slurm, clock, log, wall_now,
             [this, crash = std::move(crash_at)](const Action& a) {
               if (!crash.empty()) crash_points_after(a, crash, log);
             }),
        store(log) {
    link.set_read_period(config.daemon.tick / 2);
  }

  Logger log;
  SlurmMeter& slurm_api;  // every call measured, writes paced
  SteadyClock clock;
  std::mutex mu;  // guards config and controller (the tick against a SIGHUP reload)
  DaemonConfig config;
  Controller controller;
  Registrations regs;
  DaemonApi api;
  SlurmLink link;
  Scraper scraper;
  MetricsStore store;  // the scrape thread's
  std::mutex metrics_mu;
  std::shared_ptr<const MetricsByService> metrics = std::make_shared<MetricsByService>();
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;
  std::unique_ptr<TickRecorder> recorder;  // --record: every tick's inputs and actions

  // Sleeps until `t` or stop; false when stopping.
  bool wait_until(TimePoint t) {
    std::unique_lock lock(stop_mu);
    return !stop_cv.wait_until(lock, t, [&] { return stopping; });
  }

  void stop() {
    {
      std::lock_guard lock(stop_mu);
      stopping = true;
    }
    stop_cv.notify_all();
    link.stop();
  }

  void scrape_loop() {
    do {
      TimePoint t0 = clock.now();
      Duration tick, deadline, keep;
      std::vector<ScrapeTarget> targets;
      auto regs_now = regs.snapshot();
      {
        std::lock_guard lock(mu);
        tick = config.daemon.tick;
        // Every target answers (or is given up) inside the tick period.
        deadline = std::min(config.daemon.scrape_timeout, tick);
        keep = metrics_keep(config);
        targets = scrape_targets(regs_now, config);
      }
      auto round =
          scraper.scrape(targets, std::chrono::duration_cast<std::chrono::milliseconds>(deadline));
      auto latest = store.add_round(round, regs_now, keep, clock.now());
      {
        std::lock_guard lock(metrics_mu);
        metrics = std::move(latest);
      }
      if (!wait_until(t0 + tick)) return;
    } while (true);
  }

  void tick_loop() {
    std::set<std::string> published;
    TimePoint last_hold_log{};
    uint64_t ticks = 0;
    do {
      TimePoint t_start = clock.now();
      std::clock_t cpu0 = std::clock();
      std::shared_ptr<const MetricsByService> m;
      {
        std::lock_guard lock(metrics_mu);
        m = metrics;
      }
      std::unique_lock lock(mu);
      const DaemonConfig& cfg = config;
      auto regs_now = regs.snapshot();
      SlurmTake slurm = link.take(cfg.daemon.slurm_stale);
      if (!slurm.error.empty() && slurm.latest &&
          clock.now() - last_hold_log >= std::chrono::seconds(10)) {
        last_hold_log = clock.now();
        log.warning("holding: Slurm unreachable for " +
                    std::to_string(static_cast<int>(to_seconds(slurm.down_for))) + " s (" +
                    slurm.error + ")");
      }
      controller.set_paused(api.pause_requested());
      TimePoint now = clock.now();
      int64_t wall = wall_now();
      auto actions = controller.tick(slurm.decide_on.get(), regs_now, *m, now, wall);
      if (recorder)
        recorder->write(slurm.decide_on.get(), regs_now, *m, now, wall, controller.paused(),
                        actions);
      for (const auto& [svc, st] : controller.status()) {
        for (const auto& change : st.outside_changes) log.warning("service " + svc + ": " + change);
        if (st.decided)
          log.info(st.decision.to_log_line());
        else if (!st.hold_reason.empty())
          log.debug("service " + svc + ": " + st.hold_reason);
      }
      EndpointInputs in;
      in.registrations = &regs_now;
      in.view = slurm.latest ? &slurm.latest->view : nullptr;
      in.ratios = controller.ratios();
      in.draining_ids = controller.draining_ids();
      in.published = std::move(published);
      in.now = now;
      in.heartbeat_timeout = cfg.daemon.heartbeat_timeout;
      auto view = std::make_shared<DaemonView>();
      view->served = served_endpoints(in);
      published.clear();
      for (const auto& e : view->served) published.insert(e.url);
      view->status = controller.status();
      view->paused = controller.paused();
      view->dry_run = cfg.daemon.dry_run;
      view->slurm = !slurm.error.empty() ? slurm.error : slurm.latest ? "ok" : "not read yet";
      view->ticks = ++ticks;
      view->action_counts = link.action_counts();
      view->last_action_seconds = link.last_action_seconds();
      view->slurm_calls = slurm_api.report();
      view->last_tick_cpu_s = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
      Duration tick = cfg.daemon.tick;
      lock.unlock();
      link.submit(std::move(actions));
      api.publish(std::move(view));
      if (!wait_until(t_start + tick)) return;
    } while (true);
  }

  // SIGHUP: a configuration that does not load leaves the running one in force.
  void reload(const std::string& path, bool dry_run) {
    sd_notify_state("RELOADING=1");
    auto fresh = load_daemon_config(path);
    Result<topo::Fabric> fab =
        fresh.ok() ? load_fabric(*fresh) : Result<topo::Fabric>(fresh.error());
    if (!fresh.ok() || !fab.ok()) {
      sd_notify_state("READY=1");
      log.error("SIGHUP: new configuration refused, the running one stays in force:\n" +
                (fresh.ok() ? fab.error() : fresh.error()).to_string());
      return;
    }
    if (!site_allows(slurm_api, *fresh, log)) {
      sd_notify_state("READY=1");
      log.error(
          "SIGHUP: new configuration refused (Slurm's settings above), the running one "
          "stays in force");
      return;
    }
    if (dry_run) fresh->daemon.dry_run = true;
    {
      std::lock_guard lock(mu);
      config = *fresh;
      controller.reload(*fresh, std::move(*fab));
      link.set_read_period(config.daemon.tick / 2);
    }
    sd_notify_state("READY=1");
    log.info("SIGHUP: configuration reloaded (" + std::to_string(fresh->services.services.size()) +
             " services)");
  }
};

}  // namespace

int main(int argc, char** argv) {
  (void)hs::raise_fd_limit();  // a socket per connection: fd_limit.h
  std::string config_path, log_level = "info";
  bool dry_run = false;
  po::options_description d("heteroscaled --config FILE [options]");
  d.add_options()("help,h", "this help")("config", po::value(&config_path)->value_name("FILE"),
                                         "service and daemon configuration (YAML)")(
      "dry-run", po::bool_switch(&dry_run), "decide and log, never change Slurm")(
      "check", "validate the configuration and exit")(
      "record", po::value<std::string>()->value_name("DIR"), "write each tick's inputs to DIR")(
      "log-level", po::value(&log_level)->value_name("LEVEL"), "debug, info, warning, error");
  po::variables_map vm;
  if (int rc = cli::parse(po::command_line_parser(argc, argv), d, vm, "heteroscaled"); rc >= 0)
    return rc;
  if (config_path.empty()) {
    std::fprintf(stderr, "heteroscaled: --config FILE is required\n");
    return 2;
  }
  auto level = parse_log_level(log_level);
  if (!level.ok()) {
    std::fprintf(stderr, "heteroscaled: --log-level: %s\n", level.error().message.c_str());
    return 2;
  }
  auto cfg = load_daemon_config(config_path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "heteroscaled: configuration refused:\n%s\n",
                 cfg.error().to_string().c_str());
    return 2;
  }
  auto fabric = load_fabric(*cfg);
  auto token =
      fabric.ok() ? load_token(cfg->daemon.token_file) : Result<std::string>(fabric.error());
  if (!token.ok()) {
    std::fprintf(stderr, "heteroscaled: %s\n", token.error().to_string().c_str());
    return 2;
  }
  if (vm.count("check")) {
    std::printf("%s: OK (%zu services)\n", config_path.c_str(), cfg->services.services.size());
    return 0;
  }
  if (dry_run) cfg->daemon.dry_run = true;
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&sigs, s);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);  // before any thread starts: all inherit it
  auto libslurm = make_libslurm_api(cfg->daemon.slurm_conf, cfg->daemon.slurm_reads);
  SteadyClock meter_clock;
  double wps = cfg->daemon.slurm_writes_per_s;
  auto slurm_api =
      std::make_unique<SlurmMeter>(*libslurm, meter_clock, SlurmPace{wps, std::max(1.0, wps)},
                                   [](Duration wait) { std::this_thread::sleep_for(wait); });
  const char* crash_at = std::getenv("HS_TEST_CRASH_AT");  // tests only
  Daemon dm(*cfg, std::move(*fabric), *token, *level, *slurm_api, crash_at ? crash_at : "");
  if (vm.count("record")) {
    auto rec = TickRecorder::open(vm["record"].as<std::string>(), config_path, cfg->daemon.dry_run,
                                  dm.controller.started());
    if (!rec.ok()) {
      std::fprintf(stderr, "heteroscaled: --record: %s\n", rec.error().to_string().c_str());
      return 2;
    }
    dm.recorder = std::move(*rec);
  }
  if (!site_allows(*slurm_api, *cfg, dm.log)) {
    dm.log.error("not started: fix the settings above (nothing in Slurm was changed)");
    return 2;
  }

  auto colon = cfg->daemon.listen.rfind(':');
  http::ServerOptions so;
  so.host = cfg->daemon.listen.substr(0, colon);
  so.port = static_cast<uint16_t>(std::stoi(cfg->daemon.listen.substr(colon + 1)));
  so.max_body_bytes = 1 << 20;
  auto server = http::Server::start(so, [&](const http::Request& r) { return dm.api.handle(r); });
  if (!server.ok()) {
    std::fprintf(stderr, "heteroscaled: %s\n", server.error().to_string().c_str());
    return 1;
  }
  dm.log.info("listening on " + so.host + ":" + std::to_string((*server)->port()) + "; " +
              std::to_string(cfg->services.services.size()) + " services" +
              (cfg->daemon.dry_run ? "; dry run" : ""));
  std::printf("%u\n", (*server)->port());
  std::fflush(stdout);
  std::thread slurm([&] { dm.link.run(); });
  std::thread scrape([&] { dm.scrape_loop(); });
  std::thread ticker([&] { dm.tick_loop(); });
  sd_notify_state("READY=1");
  for (;;) {
    int sig = 0;
    sigwait(&sigs, &sig);
    if (sig != SIGHUP) break;
    dm.reload(config_path, dry_run);
  }
  sd_notify_state("STOPPING=1");
  dm.log.info("stopping");
  dm.stop();
  ticker.join();
  scrape.join();
  slurm.join();
  (*server)->stop();
  return 0;
}
