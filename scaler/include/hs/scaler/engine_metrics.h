// From scraped Prometheus text to the scaler's plain samples. vLLM's and SGLang's metric
// names go through the one table in common/engine_metrics.h; the router's per-group latency
// histograms and per-instance in-flight gauges (common/router_metrics.h) are read here too.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "hs/common/error.h"
#include "hs/common/prometheus_text.h"
#include "hs/scaler/metrics.h"

namespace hs::scaler {

// NotFound when the text has none of the engine families the table knows (not an engine).
Result<InstanceSample> instance_sample(const prom::Scrape& s, TimePoint t);

// router_metrics::kTtft / kTbt by the group label.
std::map<std::string, GroupLatencySample> router_group_latency(const prom::Scrape& s, TimePoint t);

// router_metrics::kOffered* and kBacklog*: nullopt when the router exports none (an older one).
std::optional<OfferedSample> router_offered(const prom::Scrape& s, TimePoint t);

// router_metrics::kInstanceOutstanding by the instance label (the engine's URL).
std::map<std::string, double> router_outstanding(const prom::Scrape& s);

// A histogram as written (common/prometheus_text.h) as the signals read it, exactly what a
// scrape of its exposition gives (the +Inf bucket holds the count).
Histogram signal_histogram(const prom::Histogram& h);

// The histogram `name` (without _bucket) whose samples carry every label of `match`.
// Empty (no bounds) when absent.
Histogram histogram_of(const prom::Scrape& s, const std::string& name, const prom::Labels& match);

}  // namespace hs::scaler
