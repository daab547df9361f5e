#include "hs/scaler/scraper.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <set>
#include <thread>

#include "hs/common/engine_metrics.h"
#include "hs/common/prometheus_text.h"
#include "hs/scaler/engine_metrics.h"

namespace hs::scaler {

std::vector<ScrapeTarget> scrape_targets(const std::vector<Registration>& regs,
                                         const DaemonConfig& cfg) {
  std::vector<ScrapeTarget> out;
  for (const auto& r : regs) {
    ScrapeTarget t;
    t.service = r.service;
    t.url = r.url;
    t.id = r.id();
    t.group = r.group;
    t.role = r.role;
    out.push_back(std::move(t));
  }
  for (const auto& [svc, urls] : cfg.daemon.routers)
    for (const auto& u : urls) {
      ScrapeTarget t;
      t.service = svc;
      t.url = u;
      t.router = true;
      out.push_back(std::move(t));
    }
  return out;
}

Scraper::Scraper(size_t parallel) : parallel_(std::max<size_t>(1, parallel)) {}

uint64_t Scraper::connects() const {
  uint64_t n = 0;
  std::lock_guard lock(mu_);
  for (const auto& [u, c] : conns_) n += c->connects();
  return n + closed_connects_;
}

std::vector<ScrapeResult> Scraper::scrape(const std::vector<ScrapeTarget>& targets,
                                          std::chrono::milliseconds deadline) {
  std::vector<ScrapeResult> out(targets.size());
  std::vector<http::Connection*> conn(targets.size(), nullptr);
  {
    std::lock_guard lock(mu_);
    std::set<std::string> wanted;
    for (size_t i = 0; i < targets.size(); ++i) {
      out[i].target = targets[i];
      auto u = http::parse_url(targets[i].url);
      if (!u.ok()) {
        out[i].body = u.error();
        continue;
      }
      // One connection per URL: a URL listed twice (an engine also a router?) shares it,
      // so only the first of them is scraped this round.
      if (!wanted.insert(targets[i].url).second) {
        out[i].body = invalid_argument("listed twice this round", targets[i].url);
        continue;
      }
      auto& c = conns_[targets[i].url];
      if (!c) c = std::make_unique<http::Connection>(u->host, u->port);
      conn[i] = c.get();
    }
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (wanted.count(it->first)) {
        ++it;
        continue;
      }
      closed_connects_ += it->second->connects();
      it = conns_.erase(it);
    }
  }
  http::ClientOptions co;
  co.timeout = deadline;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < targets.size();) {
      if (!conn[i]) continue;
      auto r = conn[i]->request("GET", "/metrics", "", co);
      if (!r.ok())
        out[i].body = r.error();
      else if (r->status != 200)
        out[i].body = unavailable("HTTP " + std::to_string(r->status), targets[i].url + "/metrics");
      else
        out[i].body = std::move(r->body);
    }
  };
  std::vector<std::thread> pool;
  size_t n = std::min(parallel_, targets.size());
  pool.reserve(n);
  for (size_t k = 0; k < n; ++k) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  return out;
}

Duration metrics_keep(const DaemonConfig& cfg) {
  Duration keep = std::chrono::seconds(0);
  for (const auto& s : cfg.services.services) keep = std::max(keep, s.scaling.window * 2);
  return keep;
}

std::shared_ptr<const MetricsByService> MetricsStore::add_round(
    const std::vector<ScrapeResult>& round, const std::vector<Registration>& regs, Duration keep,
    TimePoint now) {
  auto latest = std::make_shared<MetricsByService>();
  for (const auto& res : round) {
    const ScrapeTarget& t = res.target;
    ServiceMetrics& sm = (*latest)[t.service];
    if (!res.body.ok()) {
      log_.debug("scrape " + t.url + " failed: " + res.body.error().to_string());
      continue;
    }
    // Engines: only what engine_metrics reads (a fraction of their lines); routers whole.
    auto parsed =
        t.router ? prom::parse(*res.body, t.url + "/metrics")
                 : prom::parse_only(*res.body, t.url + "/metrics", engine_metrics::sample_names());
    if (!parsed.ok()) {
      log_.warning("scrape " + t.url + ": " + parsed.error().to_string());
      continue;
    }
    if (t.router) {
      sm.router_known = true;
      for (const auto& [u, n] : router_outstanding(*parsed)) sm.router_outstanding[u] += n;
      for (auto& [g, gs] : router_group_latency(*parsed, now)) {
        GroupSeries& ser = groups_[t.service][g];
        ser.group = g;
        ser.samples.push_back(gs);
      }
      if (auto o = router_offered(*parsed, now)) {
        OfferedSeries& ser = offered_[t.service][t.url];
        ser.source = t.url;
        ser.samples.push_back(*o);
      }
      continue;
    }
    auto sample = instance_sample(*parsed, now);
    if (!sample.ok()) continue;
    InstanceSeries& ser = instances_[t.id];
    ser.id = t.id;
    ser.role = t.role;
    ser.group = t.group;
    // Its decode target is its group's variant's: the Controller rates it from Slurm's view.
    ser.samples.push_back(*sample);
    double inflight = (std::isnan(sample->running) ? 0 : sample->running) +
                      (std::isnan(sample->waiting) ? 0 : sample->waiting);
    // A prefill whose KV has not been read by its decode yet is not idle: cancelling it now
    // would fail that decode's transfer.
    if (t.role == Role::kPrefill && sample->kv_held) inflight += 1;
    sm.engine_in_flight[t.url] = inflight;
  }
  // Trim, then build each service's window from its registered instances and groups.
  std::set<std::string> live;
  for (const auto& r : regs) live.insert(r.id());
  auto drop_old = [&](auto& v) {
    auto keep_from =
        std::find_if(v.begin(), v.end(), [&](const auto& x) { return now - x.t <= keep; });
    v.erase(v.begin(), keep_from);
  };
  for (auto it = instances_.begin(); it != instances_.end();) {
    drop_old(it->second.samples);
    it =
        live.count(it->first) && !it->second.samples.empty() ? std::next(it) : instances_.erase(it);
  }
  for (auto& [svc, gs] : groups_)
    for (auto& [g, ser] : gs) drop_old(ser.samples);
  for (auto& [svc, os] : offered_)
    for (auto& [u, ser] : os) drop_old(ser.samples);
  for (const auto& r : regs)
    if (auto it = instances_.find(r.id()); it != instances_.end())
      (*latest)[r.service].window.instances.push_back(it->second);
  for (const auto& [svc, gs] : groups_)
    for (const auto& [g, ser] : gs) (*latest)[svc].window.groups.push_back(ser);
  for (const auto& [svc, os] : offered_)
    for (const auto& [u, ser] : os)
      if (!ser.samples.empty()) (*latest)[svc].window.offered.push_back(ser);
  return latest;
}

}  // namespace hs::scaler
