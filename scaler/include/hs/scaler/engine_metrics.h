// From scraped Prometheus text to the scaler's plain samples. vLLM's and SGLang's metric
// names go through the one table in engine_metrics.cc; the router's per-group latency
// histograms and per-instance in-flight gauges are read here too.
#pragma once

#include <map>
#include <string>

#include "hs/common/error.h"
#include "hs/common/prometheus_text.h"
#include "hs/scaler/metrics.h"

namespace hs::scaler {

// NotFound when the text has none of the engine families the table knows (not an engine).
Result<InstanceSample> instance_sample(const prom::Scrape& s, TimePoint t);

// hs_router_ttft_seconds / hs_router_tbt_seconds by `group` label.
std::map<std::string, GroupLatencySample> router_group_latency(const prom::Scrape& s, TimePoint t);

// hs_router_instance_outstanding by `instance` (the engine's URL).
std::map<std::string, double> router_outstanding(const prom::Scrape& s);

// The histogram `name` (without _bucket) whose samples carry every label of `match`.
// Empty (no bounds) when absent.
Histogram histogram_of(const prom::Scrape& s, const std::string& name, const prom::Labels& match);

}  // namespace hs::scaler
