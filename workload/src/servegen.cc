#include "hs/workload/servegen.h"

#include <dirent.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
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

Result<std::pair<std::vector<double>, std::vector<double>>> parse_python_ratio_pmf(
    std::string_view text) {
  std::string_view s = trim(text);
  if (s.size() < 2 || s.front() != '{' || s.back() != '}')
    return invalid_argument("expected a {fraction: probability} dict, got " + quote(s));
  s = trim(s.substr(1, s.size() - 2));
  std::pair<std::vector<double>, std::vector<double>> out;
  if (s.empty()) return out;
  for (std::string_view item : split(s, ',')) {
    auto colon = item.find(':');
    if (colon == std::string_view::npos)
      return invalid_argument("expected fraction: probability, got " + quote(item));
    auto v = parse_double(trim(item.substr(0, colon)));
    auto pr = parse_double(trim(item.substr(colon + 1)));
    if (!v.ok() || !pr.ok() || *v < 0 || *v > 1 || *pr < 0 || !std::isfinite(*pr))
      return invalid_argument("bad entry " + quote(item));
    out.first.push_back(*v);
    out.second.push_back(*pr);
  }
  return out;
}

bool LengthWindow::empty() const {
  if (output.values.empty()) return true;
  return multimodal ? text.values.empty() : input.values.empty();
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

// One window's PMFs. Which fields there are says which kind of category it is.
Status read_window(const nlohmann::json& val, const std::string& key, const std::string& path,
                   LengthWindow& w) {
  auto field = [&](const char* name, Pmf& out, bool required) -> Status {
    if (!val.contains(name)) {
      if (required) return invalid_argument("window " + key + ": missing " + name, path);
      return {};
    }
    if (!val[name].is_string())
      return invalid_argument("window " + key + " " + name + ": not a PMF string", path);
    auto p = parse_python_pmf(val[name].get<std::string>());
    if (!p.ok())
      return invalid_argument("window " + key + " " + name + ": " + p.error().message, path);
    out = std::move(*p);
    return {};
  };
  if (!val.is_object()) return invalid_argument("window " + key + ": not an object", path);
  w.multimodal = val.contains("text_tokens");
  if (w.multimodal) {
    HS_RETURN_IF_ERROR(field("text_tokens", w.text, true));
    HS_RETURN_IF_ERROR(field("image_tokens", w.image, true));
    HS_RETURN_IF_ERROR(field("image_count", w.image_count, true));
    HS_RETURN_IF_ERROR(field("audio_tokens", w.audio, false));
    HS_RETURN_IF_ERROR(field("audio_count", w.audio_count, false));
    HS_RETURN_IF_ERROR(field("video_tokens", w.video, false));
    HS_RETURN_IF_ERROR(field("video_count", w.video_count, false));
  } else {
    HS_RETURN_IF_ERROR(field("input_tokens", w.input, true));
  }
  HS_RETURN_IF_ERROR(field("output_tokens", w.output, true));
  if (val.contains("reason_ratio")) {
    if (!val["reason_ratio"].is_string())
      return invalid_argument("window " + key + " reason_ratio: not a PMF string", path);
    auto r = parse_python_ratio_pmf(val["reason_ratio"].get<std::string>());
    if (!r.ok())
      return invalid_argument("window " + key + " reason_ratio: " + r.error().message, path);
    w.reason_values = std::move(r->first);
    w.reason_probs = std::move(r->second);
  }
  return {};
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
    HS_RETURN_IF_ERROR(read_window(val, key, path, w));
    out.push_back(std::move(w));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.start_s < b.start_s; });
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

}  // namespace hs::workload
