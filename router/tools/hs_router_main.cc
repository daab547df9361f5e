// hs-router: see hs/router/router.h. Runs until SIGTERM or SIGINT.
#include <signal.h>

#include <cstdint>
#include <cstdio>
#include <iostream>

#include "hs/common/cli.h"
#include "hs/common/fd_limit.h"
#include "hs/common/file.h"
#include "hs/common/text.h"
#include "hs/router/router.h"

namespace po = boost::program_options;
using namespace hs;

int main(int argc, char** argv) {
  (void)hs::raise_fd_limit();  // a socket per connection: fd_limit.h
  router::RouterOptions o;
  double health_s = 1, drain_s = 30, connect_s = 5;
  std::string key_file;
  po::options_description d("hs-router (--endpoints FILE | --scaler URL) [options]");
  d.add_options()("help,h", "this help")(
      "endpoints", po::value(&o.endpoints_file)->value_name("FILE"),
      "JSON list of {url, role, group[, draining]}; re-read on change")(
      "scaler", po::value(&o.scaler_url)->value_name("URL"),
      "follow heteroscaled's endpoint set instead, e.g. "
      "http://127.0.0.1:8470/hs/endpoints?service=chat")(
      "host", po::value(&o.host)->value_name("ADDR"), "listen address (default 127.0.0.1)")(
      "port", po::value(&o.port)->value_name("N"),
      "listen port (default 0: any free port, printed)")(
      "health-interval", po::value(&health_s)->value_name("S"),
      "seconds between health checks (default 1)")(
      "unhealthy-after", po::value(&o.unhealthy_after)->value_name("N"),
      "health checks that time out in a row before a healthy instance gets no requests; a "
      "refused connection or an error answer needs one (default 2)")(
      "connect-timeout", po::value(&connect_s)->value_name("S"),
      "seconds an engine call may take to connect before it is retried elsewhere and the "
      "instance marked unhealthy (default 5)")(
      "threads", po::value(&o.threads)->value_name("N"),
      "event-loop threads that carry every connection and completion (default 0: one per "
      "core)")("drain-timeout", po::value(&drain_s)->value_name("S"),
               "on SIGTERM, seconds requests in flight may take to finish before they are cut "
               "(default 30)")(
      "engine-api-key-file", po::value(&key_file)->value_name("FILE"),
      "the engines' API key, sent as Authorization: Bearer (never on a command line)");
  po::variables_map vm;
  if (int rc = cli::parse(po::command_line_parser(argc, argv), d, vm, "hs-router"); rc >= 0)
    return rc;
  if (!(health_s >= 0.05 && health_s <= 3600)) {
    std::fprintf(stderr, "hs-router: --health-interval must be between 0.05 and 3600 seconds\n");
    return 2;
  }
  if (o.threads > 1024) {
    std::fprintf(stderr, "hs-router: --threads must be between 0 (one per core) and 1024\n");
    return 2;
  }
  if (!(drain_s >= 0 && drain_s <= 3600)) {
    std::fprintf(stderr, "hs-router: --drain-timeout must be between 0 and 3600 seconds\n");
    return 2;
  }
  if (o.unhealthy_after < 1 || o.unhealthy_after > 100) {
    std::fprintf(stderr, "hs-router: --unhealthy-after must be between 1 and 100\n");
    return 2;
  }
  if (!(connect_s >= 0.01 && connect_s <= 600)) {
    std::fprintf(stderr, "hs-router: --connect-timeout must be between 0.01 and 600 seconds\n");
    return 2;
  }
  o.health_interval = std::chrono::milliseconds(static_cast<int64_t>(health_s * 1000));
  o.connect_timeout = std::chrono::milliseconds(static_cast<int64_t>(connect_s * 1000));
  if (!key_file.empty()) {
    auto k = read_file(key_file, 4096);
    if (!k.ok()) {
      std::fprintf(stderr, "hs-router: --engine-api-key-file: %s\n", k.error().to_string().c_str());
      return 2;
    }
    o.engine_api_key = std::string(trim(*k));
  }
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  auto r = router::Router::start(o);
  if (!r.ok()) {
    std::fprintf(stderr, "hs-router: %s\n", r.error().to_string().c_str());
    return 1;
  }
  std::printf("%u\n", (*r)->port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&sigs, &sig);
  // SIGINT (a terminal's ^C) stops at once; SIGTERM (systemd, scancel) drains first.
  if (sig == SIGTERM)
    (void)(*r)->drain(std::chrono::milliseconds(static_cast<int64_t>(drain_s * 1000)));
  else
    (*r)->stop();
  return 0;
}
