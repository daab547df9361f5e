#include "hs/common/prometheus_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <set>

#include "hs/common/text.h"

namespace hs::prom {

const std::string* Sample::label(std::string_view key) const {
  for (const auto& [k, v] : labels)
    if (k == key) return &v;
  return nullptr;
}

std::string_view to_string(MetricType t) {
  switch (t) {
    case MetricType::kUntyped:
      return "untyped";
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kSummary:
      return "summary";
  }
  return "untyped";
}

std::vector<const Sample*> Scrape::find(std::string_view name, const Labels& match) const {
  std::vector<const Sample*> out;
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool ok = true;
    for (const auto& [k, v] : match) {
      const std::string* got = s.label(k);
      if (!got || *got != v) {
        ok = false;
        break;
      }
    }
    if (ok) out.push_back(&s);
  }
  return out;
}

double Scrape::sum(std::string_view name, const Labels& match) const {
  auto xs = find(name, match);
  if (xs.empty()) return std::nan("");
  double s = 0;
  for (const auto* x : xs) s += x->value;
  return s;
}

bool valid_metric_name(std::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool valid_label_name(std::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

namespace {

Result<double> parse_value(std::string_view s) {
  if (s == "NaN") return std::nan("");
  if (s == "+Inf" || s == "Inf") return INFINITY;
  if (s == "-Inf") return -INFINITY;
  auto v = parse_double(s);
  if (!v.ok() || std::isnan(*v) || std::isinf(*v))
    return invalid_argument("bad sample value " + quote(s));
  return *v;
}

// The family a sample name belongs to (histograms and summaries add suffixes).
std::string family_of(const std::string& name, const std::map<std::string, MetricType>& types) {
  if (types.count(name)) return name;
  for (const char* suf : {"_bucket", "_sum", "_count", "_total", "_created"}) {
    if (ends_with(name, suf)) {
      std::string base = name.substr(0, name.size() - std::string_view(suf).size());
      if (types.count(base)) return base;
    }
  }
  return name;
}

}  // namespace

namespace {

Result<Scrape> parse_lines(std::string_view text, const std::string& name,
                           const std::vector<std::string_view>* keep, size_t max_bytes) {
  if (text.size() > max_bytes)
    return invalid_argument("scrape of " + std::to_string(text.size()) +
                                " bytes exceeds the limit of " + std::to_string(max_bytes),
                            name);
  Scrape sc;
  std::set<std::string> families_with_samples;
  size_t lineno = 0;
  // Line by line without a vector of them: a scrape round reads 10,000 bodies.
  for (size_t pos = 0; pos <= text.size();) {
    size_t nl = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto at = [&](size_t col) {
      return name + ":" + std::to_string(lineno) + ":" + std::to_string(col + 1);
    };
    size_t i = 0;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size()) continue;
    if (line[i] == '#' && keep) continue;
    if (line[i] == '#') {
      // Tokens without a vector: comments are a third of an engine's lines.
      std::string_view rest = line.substr(i + 1);
      auto next = [&rest]() {
        size_t b = rest.find_first_not_of(" \t");
        if (b == std::string_view::npos) return std::string_view{};
        rest.remove_prefix(b);
        size_t e = std::min(rest.find_first_of(" \t"), rest.size());
        std::string_view tok = rest.substr(0, e);
        rest.remove_prefix(e);
        return tok;
      };
      std::string_view kind = next();
      std::string_view fam_name = kind == "TYPE" || kind == "HELP" ? next() : std::string_view{};
      if (!fam_name.empty()) {
        if (!valid_metric_name(fam_name))
          return invalid_argument(
              "bad metric name " + quote(fam_name) + " in # " + std::string(kind), at(i));
        if (kind == "TYPE") {
          std::string_view type = next();
          if (type.empty() || !next().empty())
            return invalid_argument("# TYPE needs a name and a type", at(i));
          MetricType t;
          if (type == "counter")
            t = MetricType::kCounter;
          else if (type == "gauge")
            t = MetricType::kGauge;
          else if (type == "histogram")
            t = MetricType::kHistogram;
          else if (type == "summary")
            t = MetricType::kSummary;
          else if (type == "untyped")
            t = MetricType::kUntyped;
          else
            return invalid_argument("unknown metric type " + quote(type), at(i));
          std::string fam(fam_name);
          if (sc.types.count(fam))
            return invalid_argument("# TYPE of " + quote(fam) + " given twice", at(i));
          if (families_with_samples.count(fam))
            return invalid_argument("# TYPE of " + quote(fam) + " after its samples", at(i));
          sc.types.emplace(std::move(fam), t);
        }
        if (kind == "HELP") sc.help[std::string(fam_name)] = std::string(trim(rest));
      }
      continue;  // other comments
    }
    Sample s;
    s.line = lineno;
    size_t start = i;
    while (i < line.size() && line[i] != '{' && line[i] != ' ' && line[i] != '\t') ++i;
    if (keep && std::find(keep->begin(), keep->end(), line.substr(start, i - start)) == keep->end())
      continue;
    s.name = std::string(line.substr(start, i - start));
    if (!valid_metric_name(s.name))
      return invalid_argument("bad metric name " + quote(s.name), at(start));
    if (i < line.size() && line[i] == '{') {
      ++i;
      for (;;) {
        while (i < line.size() && (line[i] == ' ' || line[i] == ',')) ++i;
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        size_t ls = i;
        while (i < line.size() && line[i] != '=' && line[i] != '}' && line[i] != ',') ++i;
        std::string key(trim(line.substr(ls, i - ls)));
        if (!valid_label_name(key)) return invalid_argument("bad label name " + quote(key), at(ls));
        if (i >= line.size() || line[i] != '=')
          return invalid_argument("expected '=' after label " + quote(key), at(i));
        ++i;
        if (i >= line.size() || line[i] != '"')
          return invalid_argument("label value must be quoted", at(i));
        ++i;
        std::string val;
        bool closed = false;
        while (i < line.size()) {
          char c = line[i];
          if (c == '\\') {
            if (i + 1 >= line.size()) break;
            char e = line[i + 1];
            if (e == 'n')
              val += '\n';
            else if (e == '\\')
              val += '\\';
            else if (e == '"')
              val += '"';
            else
              return invalid_argument(std::string("bad escape \\") + e + " in label value", at(i));
            i += 2;
            continue;
          }
          if (c == '"') {
            closed = true;
            ++i;
            break;
          }
          val += c;
          ++i;
        }
        if (!closed) return invalid_argument("unterminated label value of " + quote(key), at(i));
        // A linear scan: a sample has a handful of labels, and a set per sample was the
        // parser's main allocation.
        for (const auto& [k, v] : s.labels)
          if (k == key) return invalid_argument("label " + quote(key) + " given twice", at(ls));
        s.labels.emplace_back(std::move(key), std::move(val));
      }
    }
    std::string_view rest[3];
    size_t nrest = 0;
    for (std::string_view tail = line.substr(i); nrest < 3;) {
      size_t b = tail.find_first_not_of(" \t");
      if (b == std::string_view::npos) break;
      tail.remove_prefix(b);
      size_t e = std::min(tail.find_first_of(" \t"), tail.size());
      rest[nrest++] = tail.substr(0, e);
      tail.remove_prefix(e);
    }
    if (nrest == 0) return invalid_argument("sample " + quote(s.name) + " has no value", at(i));
    if (nrest > 2) return invalid_argument("unexpected text after the timestamp", at(i));
    auto v = parse_value(rest[0]);
    if (!v.ok()) return invalid_argument(v.error().message, at(i));
    s.value = *v;
    if (nrest == 2) {
      auto ts = parse_i64(rest[1]);
      if (!ts.ok()) return invalid_argument("bad timestamp " + quote(rest[1]), at(i));
      s.timestamp_ms = *ts;
    }
    // A family's samples are usually consecutive: look its name up once per run of them.
    if (sc.samples.empty() || sc.samples.back().name != s.name)
      families_with_samples.insert(family_of(s.name, sc.types));
    sc.samples.push_back(std::move(s));
  }
  return sc;
}

}  // namespace

Result<Scrape> parse(std::string_view text, const std::string& name, size_t max_bytes) {
  return parse_lines(text, name, nullptr, max_bytes);
}

Result<Scrape> parse_only(std::string_view text, const std::string& name,
                          const std::vector<std::string_view>& keep, size_t max_bytes) {
  return parse_lines(text, name, &keep, max_bytes);
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

namespace {
std::string escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}
std::string labels_text(const Labels& l) {
  if (l.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < l.size(); ++i) {
    if (i) out += ",";
    out += l[i].first + "=\"" + escape(l[i].second) + "\"";
  }
  return out + "}";
}
}  // namespace

void Writer::family(std::string_view name, MetricType type, std::string_view help) {
  std::string h;
  for (char c : help) h += c == '\n' ? ' ' : c;
  out_ += "# HELP " + std::string(name) + " " + h + "\n# TYPE " + std::string(name) + " " +
          std::string(to_string(type)) + "\n";
}

void Writer::sample(std::string_view name, const Labels& labels, double value) {
  out_ += std::string(name) + labels_text(labels) + " " + format_value(value) + "\n";
}

void Writer::histogram(std::string_view name, const Labels& labels,
                       const std::vector<double>& bounds, const std::vector<uint64_t>& cumulative,
                       double sum, uint64_t count) {
  for (size_t i = 0; i < bounds.size() && i < cumulative.size(); ++i) {
    Labels l = labels;
    l.emplace_back("le", format_value(bounds[i]));
    sample(std::string(name) + "_bucket", l, static_cast<double>(cumulative[i]));
  }
  Labels l = labels;
  l.emplace_back("le", "+Inf");
  sample(std::string(name) + "_bucket", l, static_cast<double>(count));
  sample(std::string(name) + "_sum", labels, sum);
  sample(std::string(name) + "_count", labels, static_cast<double>(count));
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds(std::move(upper_bounds)), cumulative(bounds.size(), 0) {}

void Histogram::observe(double v, uint64_t n) {
  for (size_t i = 0; i < bounds.size(); ++i)
    if (v <= bounds[i]) cumulative[i] += n;
  sum += v * static_cast<double>(n);
  count += n;
}

const std::vector<double>& vllm_ttft_buckets() {
  static const std::vector<double> b = {0.001, 0.005, 0.01, 0.02,  0.04,  0.06,  0.08, 0.1,
                                        0.25,  0.5,   0.75, 1.0,   2.5,   5.0,   7.5,  10.0,
                                        20.0,  40.0,  80.0, 160.0, 640.0, 2560.0};
  return b;
}
const std::vector<double>& vllm_tpot_buckets() {
  static const std::vector<double> b = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                        0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
  return b;
}
const std::vector<double>& vllm_e2e_buckets() {
  static const std::vector<double> b = {0.3,  0.5,   0.8,   1.0,   1.5,   2.0,    2.5,
                                        5.0,  10.0,  15.0,  20.0,  30.0,  40.0,   50.0,
                                        60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
  return b;
}

}  // namespace hs::prom
