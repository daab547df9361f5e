// Shared builders for scaler tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "hs/scaler/daemon_config.h"
#include "hs/scaler/metrics.h"
#include "hs/scaler/service_config.h"

namespace hs::scaler::testing {

inline TimePoint at(double s) { return TimePoint{} + from_seconds(1000000 + s); }

// A 1:2 service (h100 prefill, l40s decode), 1000 tok/s per decode instance, 1..16 units.
inline ServiceConfig service(uint32_t p = 1, uint32_t d = 2, double target = 1000,
                             uint32_t max_units = 16) {
  ServiceConfig c;
  c.name = "chat";
  c.where = "test";
  Variant v;
  v.name = "h100-l40s";
  v.prefill_gpu = "h100";
  v.decode_gpu = "l40s";
  v.ratio = {p, d};
  v.decode_tps_per_instance = target;
  c.variants = {v};
  c.min_prefill = p;
  c.min_decode = d;
  c.max_prefill = p * max_units;
  c.max_decode = d * max_units;
  return c;
}

// Histogram with the router's bucket edges and `n` observations all at `value`.
inline Histogram latency_hist(double value, double n,
                              std::vector<double> edges = {0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4,
                                                           8}) {
  Histogram h;
  h.upper_bounds = edges;
  h.upper_bounds.push_back(INFINITY);
  for (double e : h.upper_bounds) h.cumulative.push_back(value <= e ? n : 0);
  h.count = n;
  h.sum = value * n;
  return h;
}

// A daemon config from `text`: "@DIR@" becomes a directory holding the templates p.sbatch and
// d.sbatch, each other key of `subs` its value. The directory is this process's own: ctest
// runs each test as its own process, in parallel, and a shared file would be truncated under
// another test's config load.
// The directories are removed when the test process exits (the config may read its
// templates until then).
inline DaemonConfig daemon_config_for_test(std::string text,
                                           const std::map<std::string, std::string>& subs = {}) {
  struct Dirs {
    std::vector<std::string> made;
    ~Dirs() {
      for (const auto& d : made) std::filesystem::remove_all(d);
    }
  };
  static Dirs dirs;
  std::string dir = ::testing::TempDir() + "hs-tpl-XXXXXX";
  if (!mkdtemp(dir.data())) ADD_FAILURE() << "mkdtemp " << dir;
  dirs.made.push_back(dir);
  for (const char* f : {"/p.sbatch", "/d.sbatch"}) {
    FILE* fp = std::fopen((dir + f).c_str(), "w");
    std::fputs("#!/bin/bash\nexec hs-launch\n", fp);
    std::fclose(fp);
  }
  auto sub = [&](const std::string& k, const std::string& v) {
    for (size_t p; (p = text.find(k)) != std::string::npos;) text.replace(p, k.size(), v);
  };
  sub("@DIR@", dir);
  for (const auto& [k, v] : subs) sub(k, v);
  auto c = parse_daemon_config(text, "test.yaml");
  EXPECT_TRUE(c.ok()) << c.error().to_string();
  return *c;
}

}  // namespace hs::scaler::testing
