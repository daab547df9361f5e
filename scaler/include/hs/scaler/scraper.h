// The daemon's view of its engines and routers: who to scrape, scraping them (bounded
// concurrency, kept-alive connections, a deadline per target inside the tick period), and
// the windows of samples the Controller decides on. Scrapes run on their own thread; each
// round is published as an immutable snapshot the tick takes without waiting.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hs/common/http.h"
#include "hs/common/logger.h"
#include "hs/scaler/controller.h"
#include "hs/scaler/daemon_config.h"
#include "hs/scaler/registrations.h"

namespace hs::scaler {

struct ScrapeTarget {
  std::string service, url;
  bool router = false;
  // Engines: their registration.
  std::string id, group;
  Role role = Role::kDecode;
};

// Every registered engine and every configured router.
std::vector<ScrapeTarget> scrape_targets(const std::vector<Registration>& regs,
                                         const DaemonConfig& cfg);

struct ScrapeResult {
  ScrapeTarget target;
  Result<std::string> body = std::string();  // /metrics text, or why there is none
};

// Scrapes up to `parallel` targets at once, each over a connection kept alive across rounds
// (one per URL; connections of targets that disappeared are closed).
class Scraper {
 public:
  explicit Scraper(size_t parallel = 32);
  std::vector<ScrapeResult> scrape(const std::vector<ScrapeTarget>& targets,
                                   std::chrono::milliseconds deadline_per_target);
  uint64_t connects() const;  // sockets opened in all (reuse keeps it near the target count)

 private:
  size_t parallel_;
  mutable std::mutex mu_;
  uint64_t closed_connects_ = 0;                                    // of connections closed since
  std::map<std::string, std::unique_ptr<http::Connection>> conns_;  // by URL
};

using MetricsByService = std::map<std::string, ServiceMetrics>;

// Samples per instance and per router group over the longest window any service uses.
class MetricsStore {
 public:
  explicit MetricsStore(Logger log) : log_(std::move(log)) {}
  // Folds one round in: parses each body, appends samples, drops instances no longer
  // registered and samples older than `keep`, and builds each service's window.
  std::shared_ptr<const MetricsByService> add_round(const std::vector<ScrapeResult>& round,
                                                    const std::vector<Registration>& regs,
                                                    Duration keep, TimePoint now);

 private:
  Logger log_;
  std::map<std::string, InstanceSeries> instances_;                      // by instance id
  std::map<std::string, std::map<std::string, GroupSeries>> groups_;     // service -> group
  std::map<std::string, std::map<std::string, OfferedSeries>> offered_;  // service -> router URL
};

// The longest window any service uses, twice (what the store keeps).
Duration metrics_keep(const DaemonConfig& cfg);

}  // namespace hs::scaler
