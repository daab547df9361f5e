#include "hs/workload/servegen.h"

#include <dirent.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "hs/common/file.h"
#include "hs/common/text.h"

namespace hs::workload {

double Pmf::mean() const {
  double m = 0;
  for (size_t i = 0; i < values.size(); ++i) m += values[i] * probs[i];
  return m;
}

Result<Pmf> parse_python_pmf(std::string_view text) {
  std::string_view s = trim(text);
  if (s.size() < 2 || s.front() != '{' || s.back() != '}')
    return invalid_argument("expected a {value: probability} dict, got " + quote(s));
  s = trim(s.substr(1, s.size() - 2));
  Pmf p;
  if (s.empty()) return p;
  for (std::string_view item : split(s, ',')) {
    auto colon = item.find(':');
    if (colon == std::string_view::npos)
      return invalid_argument("expected value: probability, got " + quote(item));
    auto v = parse_u64(trim(item.substr(0, colon)));
    auto pr = parse_double(trim(item.substr(colon + 1)));
    if (!v.ok() || !pr.ok() || *pr < 0 || !std::isfinite(*pr) || *v > 10'000'000)
      return invalid_argument("bad entry " + quote(item));
    p.values.push_back(static_cast<uint32_t>(*v));
    p.probs.push_back(*pr);
  }
  return p;
}

namespace {

Result<std::string> read_maybe_gz(const std::string& path) {
  if (!ends_with(path, ".gz")) return read_file(path, size_t{512} << 20);
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return not_found("cannot open", path);
  std::unique_ptr<gzFile_s, int (*)(gzFile)> closer(f, gzclose);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    int n = gzread(f, buf, sizeof buf);
    if (n < 0) return invalid_argument("corrupt gzip data", path);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (size_t{2} << 30))
      return invalid_argument("decompresses to more than 2 GiB", path);
  }
  return out;
}

Result<std::vector<RateWindow>> read_rates(const std::string& path) {
  auto text = read_file(path, size_t{64} << 20);
  if (!text.ok()) return text.error();
  std::vector<RateWindow> out;
  size_t lineno = 0;
  for (std::string_view line : split(*text, '\n')) {
    ++lineno;
    line = trim(line);
    if (line.empty()) continue;
    std::string where = path + ":" + std::to_string(lineno);
    auto f = split(line, ',');
    if (f.size() != 6)
      return invalid_argument(
          "expected 6 fields (start,rate,cv,dist,shape,scale), got " + std::to_string(f.size()),
          where);
    RateWindow w;
    auto st = parse_double(f[0]), rate = parse_double(f[1]), cv = parse_double(f[2]);
    auto a = parse_double(f[4]), b = parse_double(f[5]);
    if (!st.ok() || !rate.ok() || !cv.ok() || !a.ok() || !b.ok() || *rate < 0 || *st < 0)
      return invalid_argument("bad number in " + quote(line), where);
    w.start_s = *st;
    w.rate = *rate;
    w.cv = *cv;
    w.shape = *a;
    w.scale = *b;
    if (f[3] == "Weibull")
      w.dist = RateWindow::Dist::kWeibull;
    else if (f[3] == "Gamma")
      w.dist = RateWindow::Dist::kGamma;
    else if (f[3].empty())
      w.dist = RateWindow::Dist::kNone;
    else
      return invalid_argument("unknown arrival distribution " + quote(f[3]), where);
    if (w.rate > 0 && w.dist != RateWindow::Dist::kNone && (w.shape <= 0 || w.scale <= 0))
      return invalid_argument("non-positive distribution parameters", where);
    if (!out.empty() && w.start_s <= out.back().start_s)
      return invalid_argument("windows out of order", where);
    out.push_back(w);
  }
  return out;
}

Result<std::vector<LengthWindow>> read_lengths(const std::string& path) {
  auto text = read_maybe_gz(path);
  if (!text.ok()) return text.error();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return invalid_argument("not a JSON object", path);
  std::vector<LengthWindow> out;
  for (const auto& [key, val] : j.items()) {
    auto st = parse_double(key);
    if (!st.ok()) return invalid_argument("window key " + quote(key) + " is not seconds", path);
    LengthWindow w;
    w.start_s = *st;
    for (const char* field : {"input_tokens", "output_tokens"}) {
      if (!val.contains(field) || !val[field].is_string())
        return invalid_argument(std::string("window ") + key + ": missing " + field, path);
      auto p = parse_python_pmf(val[field].get<std::string>());
      if (!p.ok())
        return invalid_argument(
            std::string("window ") + key + " " + field + ": " + p.error().message, path);
      (std::string(field) == "input_tokens" ? w.input : w.output) = std::move(*p);
    }
    out.push_back(std::move(w));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.start_s < b.start_s; });
  return out;
}

// A sampler for one PMF (std::discrete_distribution is an alias-free but O(log n) sampler).
struct Sampler {
  std::vector<uint32_t> values;
  std::discrete_distribution<size_t> dist;
  bool empty() const { return values.empty(); }
  explicit Sampler(const Pmf& p) : values(p.values), dist(p.probs.begin(), p.probs.end()) {}
  uint32_t operator()(std::mt19937_64& rng) { return values[dist(rng)]; }
};

Pmf pool(const std::vector<const Pmf*>& pmfs) {
  std::map<uint32_t, double> acc;
  for (const Pmf* p : pmfs)
    for (size_t i = 0; i < p->values.size(); ++i) acc[p->values[i]] += p->probs[i];
  Pmf out;
  for (auto [v, pr] : acc) {
    out.values.push_back(v);
    out.probs.push_back(pr);
  }
  return out;
}

}  // namespace

Result<ServeGenCategory> read_servegen(const std::string& dir) {
  struct DirCloser {
    void operator()(DIR* d) const { closedir(d); }
  };
  std::unique_ptr<DIR, DirCloser> d(opendir(dir.c_str()));
  if (!d) return not_found("cannot open the ServeGen folder", dir);
  std::vector<std::string> ids;
  while (dirent* e = readdir(d.get())) {
    std::string n = e->d_name;
    if (starts_with(n, "chunk-") && ends_with(n, "-trace.csv"))
      ids.push_back(n.substr(0, n.size() - 10));
  }
  if (ids.empty())
    return invalid_argument("no chunk-*-trace.csv files: not a ServeGen category folder", dir);
  std::sort(ids.begin(), ids.end(),
            [](const std::string& a, const std::string& b) { return natural_less(a, b); });
  ServeGenCategory cat;
  cat.source = dir;
  for (const auto& id : ids) {
    ServeGenClient c;
    c.id = id;
    auto r = read_rates(dir + "/" + id + "-trace.csv");
    if (!r.ok()) return r.error();
    c.rates = std::move(*r);
    for (const char* ext : {"-dataset.json", "-dataset.json.gz"}) {
      std::string p = dir + "/" + id + ext;
      if (access(p.c_str(), R_OK) != 0) continue;
      auto l = read_lengths(p);
      if (!l.ok()) return l.error();
      c.lengths = std::move(*l);
      break;
    }
    if (c.lengths.empty()) ++cat.clients_without_lengths;
    if (!c.rates.empty()) cat.span_s = std::max(cat.span_s, c.rates.back().start_s + 600);
    cat.clients.push_back(std::move(c));
  }
  return cat;
}

Result<std::vector<Request>> compose(const ServeGenCategory& cat, const ComposeOptions& o,
                                     ComposeReport* report) {
  if (o.rate_scale <= 0 || o.duration_s <= 0)
    return invalid_argument("rate_scale and duration must be positive");
  ComposeReport rep;
  std::vector<Request> out;
  const double end = o.start_s + o.duration_s;
  // Pooled PMFs per 6 h window start, from clients that have them.
  std::map<double, std::pair<std::vector<const Pmf*>, std::vector<const Pmf*>>> by_window;
  for (const auto& c : cat.clients)
    for (const auto& w : c.lengths) {
      if (w.input.values.empty() || w.output.values.empty()) continue;
      by_window[w.start_s].first.push_back(&w.input);
      by_window[w.start_s].second.push_back(&w.output);
    }
  std::map<double, std::pair<Sampler, Sampler>> pooled;
  for (auto& [st, v] : by_window)
    pooled.emplace(st, std::make_pair(Sampler(pool(v.first)), Sampler(pool(v.second))));
  auto pooled_at = [&](double t) -> std::pair<Sampler, Sampler>* {
    auto it = pooled.upper_bound(t);
    if (it == pooled.begin()) return pooled.empty() ? nullptr : &pooled.begin()->second;
    return &std::prev(it)->second;
  };

  for (size_t ci = 0; ci < cat.clients.size(); ++ci) {
    const ServeGenClient& c = cat.clients[ci];
    std::mt19937_64 rng(o.seed * 1000003ULL + ci);
    std::map<double, std::pair<Sampler, Sampler>> own;
    for (const auto& w : c.lengths)
      if (!w.input.values.empty() && !w.output.values.empty())
        own.emplace(w.start_s, std::make_pair(Sampler(w.input), Sampler(w.output)));
    bool any = false;
    for (size_t wi = 0; wi < c.rates.size(); ++wi) {
      const RateWindow& w = c.rates[wi];
      double ws = w.start_s,
             we = wi + 1 < c.rates.size() ? c.rates[wi + 1].start_s : w.start_s + 600;
      if (we <= o.start_s || ws >= end || w.rate <= 0) continue;
      double rate = w.rate * o.rate_scale;
      double mean_gap = 1.0 / rate;
      // The fitted distribution's shape, rescaled to the window's mean.
      std::weibull_distribution<double> wd(w.dist == RateWindow::Dist::kWeibull ? w.shape : 1.0,
                                           1.0);
      std::gamma_distribution<double> gd(w.dist == RateWindow::Dist::kGamma ? w.shape : 1.0, 1.0);
      double unit_mean = w.dist == RateWindow::Dist::kWeibull ? std::tgamma(1.0 + 1.0 / w.shape)
                         : w.dist == RateWindow::Dist::kGamma ? w.shape
                                                              : 1.0;
      std::exponential_distribution<double> ed(1.0);
      auto gap = [&]() {
        double x = w.dist == RateWindow::Dist::kWeibull ? wd(rng)
                   : w.dist == RateWindow::Dist::kGamma ? gd(rng)
                                                        : ed(rng);
        return x / unit_mean * mean_gap;
      };
      // Start at a random phase so window edges do not line up arrivals.
      double t = ws + std::uniform_real_distribution<double>(0, 1)(rng) * mean_gap;
      for (; t < we; t += gap()) {
        if (t < o.start_s || t >= end) continue;
        std::pair<Sampler, Sampler>* s = nullptr;
        if (!own.empty()) {
          auto it = own.upper_bound(t);
          s = it == own.begin() ? &own.begin()->second : &std::prev(it)->second;
        }
        bool pooled_used = false;
        if (!s) {
          if (!o.pooled_lengths_for_missing) continue;
          s = pooled_at(t);
          pooled_used = true;
          if (!s)
            return failed_precondition("no client of " + cat.source +
                                       " has length distributions to pool");
        }
        Request r;
        r.arrival_s = t - o.start_s;
        r.prompt_tokens = std::max<uint32_t>(1, s->first(rng));
        r.output_tokens = std::max<uint32_t>(1, s->second(rng));
        out.push_back(std::move(r));
        rep.requests_with_pooled_lengths += pooled_used;
        any = true;
      }
    }
    rep.clients += any;
  }
  std::sort(out.begin(), out.end(),
            [](const Request& a, const Request& b) { return a.arrival_s < b.arrival_s; });
  for (size_t i = 0; i < out.size(); ++i) out[i].id = i;
  rep.requests = out.size();
  if (report) *report = rep;
  return out;
}

}  // namespace hs::workload
