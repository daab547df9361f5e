#include "hs/workload/trace.h"

#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "hs/common/file.h"
#include "hs/common/text.h"

namespace hs::workload {

std::string_view to_string(TraceFormat f) {
  switch (f) {
    case TraceFormat::kAzureCsv:
      return "azure-csv";
    case TraceFormat::kMooncakeJsonl:
      return "mooncake-jsonl";
    case TraceFormat::kServeGenDir:
      return "servegen";
  }
  return "?";
}

namespace {

// Days from 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct RowSink {
  Trace& trace;
  const TraceReadOptions& opts;
  ErrorList errors;
  bool bad(const std::string& where, const std::string& what) {
    ++trace.bad_rows;
    if (trace.bad_row_examples.size() < 10) trace.bad_row_examples.push_back(where + ": " + what);
    if (!opts.skip_bad_rows) {
      errors.add(invalid_argument(what, where));
      return false;  // stop
    }
    return true;
  }
};

void finish(Trace& t) {
  std::stable_sort(t.requests.begin(), t.requests.end(),
                   [](const Request& a, const Request& b) { return a.arrival_s < b.arrival_s; });
  double t0 = t.requests.empty() ? 0 : t.requests.front().arrival_s;
  for (size_t i = 0; i < t.requests.size(); ++i) {
    t.requests[i].arrival_s -= t0;
    t.requests[i].id = i;
  }
}

Result<uint32_t> tokens(std::string_view s, const char* what) {
  auto v = parse_u64(trim(s));
  if (!v.ok() || *v > 10'000'000)
    return invalid_argument(std::string(what) + " is not a token count: " + quote(s));
  return static_cast<uint32_t>(*v);
}

}  // namespace

Result<double> parse_timestamp(std::string_view text) {
  std::string_view s = trim(text);
  if (s.size() >= 6 && (s[s.size() - 6] == '+' || s[s.size() - 6] == '-') &&
      s[s.size() - 3] == ':') {
    std::string_view off = s.substr(s.size() - 6);
    auto hh = parse_u64(off.substr(1, 2)), mm = parse_u64(off.substr(4, 2));
    if (!hh.ok() || !mm.ok()) return invalid_argument("bad UTC offset in " + quote(text));
    auto base = parse_timestamp(s.substr(0, s.size() - 6));
    if (!base.ok()) return base;
    double o = static_cast<double>(*hh * 3600 + *mm * 60);
    return off[0] == '+' ? *base - o : *base + o;
  }
  // YYYY-MM-DD HH:MM:SS[.fraction]
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') ||
      s[13] != ':' || s[16] != ':')
    return invalid_argument("expected a timestamp like 2023-11-16 18:17:03.9799600, got " +
                            quote(text));
  auto y = parse_u64(s.substr(0, 4)), mo = parse_u64(s.substr(5, 2)), d = parse_u64(s.substr(8, 2));
  auto h = parse_u64(s.substr(11, 2)), mi = parse_u64(s.substr(14, 2)),
       se = parse_u64(s.substr(17, 2));
  if (!y.ok() || !mo.ok() || !d.ok() || !h.ok() || !mi.ok() || !se.ok() || *mo < 1 || *mo > 12 ||
      *d < 1 || *d > 31 || *h > 23 || *mi > 59 || *se > 60)
    return invalid_argument("bad date or time in " + quote(text));
  double frac = 0;
  if (s.size() > 19) {
    if (s[19] != '.' || s.size() == 20)
      return invalid_argument("bad fraction of a second in " + quote(text));
    std::string_view f = s.substr(20);
    double scale = 0.1;
    for (char c : f) {
      if (c < '0' || c > '9') return invalid_argument("bad fraction of a second in " + quote(text));
      frac += (c - '0') * scale;
      scale /= 10;
    }
  }
  int64_t days = days_from_civil(static_cast<int64_t>(*y), static_cast<unsigned>(*mo),
                                 static_cast<unsigned>(*d));
  return static_cast<double>(days * 86400 + static_cast<int64_t>(*h * 3600 + *mi * 60 + *se)) +
         frac;
}

Result<Trace> read_azure_csv(const std::string& path, const TraceReadOptions& o) {
  auto text = read_file(path, size_t{1} << 30);
  if (!text.ok()) return text.error();
  Trace t;
  t.source = path;
  t.format = TraceFormat::kAzureCsv;
  RowSink sink{t, o, {}};
  size_t lineno = 0;
  bool header_seen = false;
  for (std::string_view line : split(*text, '\n')) {
    ++lineno;
    line = trim(line);
    if (line.empty()) continue;
    std::string where = path + ":" + std::to_string(lineno);
    if (!header_seen) {
      header_seen = true;
      if (line != "TIMESTAMP,ContextTokens,GeneratedTokens")
        return invalid_argument(
            "not an Azure LLM trace: expected the header TIMESTAMP,ContextTokens,GeneratedTokens, "
            "got " +
                quote(line),
            where);
      continue;
    }
    auto f = split(line, ',');
    if (f.size() != 3) {
      if (!sink.bad(where, "expected 3 fields, got " + std::to_string(f.size()))) break;
      continue;
    }
    auto ts = parse_timestamp(f[0]);
    auto in = tokens(f[1], "ContextTokens");
    auto out = tokens(f[2], "GeneratedTokens");
    if (!ts.ok() || !in.ok() || !out.ok()) {
      std::string why = !ts.ok()   ? ts.error().message
                        : !in.ok() ? in.error().message
                                   : out.error().message;
      if (!sink.bad(where, why)) break;
      continue;
    }
    t.requests.push_back({0, *ts, *in, *out, {}});
    if (o.max_requests && t.requests.size() >= o.max_requests) break;
  }
  if (!sink.errors.empty()) return sink.errors.to_error(path);
  if (!header_seen) return invalid_argument("empty file, expected an Azure LLM trace", path);
  finish(t);
  return t;
}

Result<Trace> read_mooncake_jsonl(const std::string& path, const TraceReadOptions& o) {
  auto text = read_file(path, size_t{1} << 30);
  if (!text.ok()) return text.error();
  Trace t;
  t.source = path;
  t.format = TraceFormat::kMooncakeJsonl;
  RowSink sink{t, o, {}};
  size_t lineno = 0;
  for (std::string_view line : split(*text, '\n')) {
    ++lineno;
    line = trim(line);
    if (line.empty()) continue;
    std::string where = path + ":" + std::to_string(lineno);
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    std::string why;
    Request r;
    if (j.is_discarded() || !j.is_object()) {
      why = "not a JSON object";
    } else {
      for (const auto& [k, v] : j.items()) {
        if (k != "timestamp" && k != "input_length" && k != "output_length" && k != "hash_ids") {
          why = "unknown field " + quote(k);
          break;
        }
      }
      auto num = [&](const char* k, double lo, double hi, double& out) {
        if (!why.empty()) return;
        if (!j.contains(k) || !j[k].is_number())
          why = std::string("missing or non-numeric ") + quote(k);
        else if (j[k].get<double>() < lo || j[k].get<double>() > hi)
          why = std::string(k) + " out of range";
        else
          out = j[k].get<double>();
      };
      double ts = 0, in = 0, out = 0;
      num("timestamp", 0, 1e15, ts);
      num("input_length", 0, 1e7, in);
      num("output_length", 0, 1e7, out);
      if (why.empty() && j.contains("hash_ids")) {
        if (!j["hash_ids"].is_array())
          why = "hash_ids is not a list";
        else
          for (const auto& h : j["hash_ids"]) {
            if (!h.is_number_unsigned()) {
              why = "hash_ids holds a non-integer";
              break;
            }
            r.hash_ids.push_back(h.get<uint32_t>());
          }
      }
      r.arrival_s = ts / 1000.0;
      r.prompt_tokens = static_cast<uint32_t>(in);
      r.output_tokens = static_cast<uint32_t>(out);
    }
    if (!why.empty()) {
      if (!sink.bad(where, why)) break;
      continue;
    }
    t.requests.push_back(std::move(r));
    if (o.max_requests && t.requests.size() >= o.max_requests) break;
  }
  if (!sink.errors.empty()) return sink.errors.to_error(path);
  if (t.requests.empty() && t.bad_rows == 0)
    return invalid_argument("empty file, expected Mooncake JSONL", path);
  finish(t);
  return t;
}

Result<TraceFormat> detect_format(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return not_found("no such file or directory", path);
  if (S_ISDIR(st.st_mode)) return TraceFormat::kServeGenDir;
  if (ends_with(path, ".csv")) return TraceFormat::kAzureCsv;
  if (ends_with(path, ".jsonl") || ends_with(path, ".json")) return TraceFormat::kMooncakeJsonl;
  return invalid_argument(
      "cannot tell the trace format from the name (expected *.csv, *.jsonl or a ServeGen folder)",
      path);
}

Result<Trace> read_trace(const std::string& path, const TraceReadOptions& o) {
  auto f = detect_format(path);
  if (!f.ok()) return f.error();
  if (*f == TraceFormat::kAzureCsv) return read_azure_csv(path, o);
  if (*f == TraceFormat::kMooncakeJsonl) return read_mooncake_jsonl(path, o);
  return invalid_argument("a ServeGen folder is composed, not read as a trace (hs-sim does that)",
                          path);
}

}  // namespace hs::workload
