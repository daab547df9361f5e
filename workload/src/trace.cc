#include "hs/workload/trace.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
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

bool is_azure_header(std::string_view line) {
  return trim(line) == "TIMESTAMP,ContextTokens,GeneratedTokens";
}

Result<Request> parse_azure_row(std::string_view line) {
  auto f = split(line, ',');
  if (f.size() != 3) return invalid_argument("expected 3 fields, got " + std::to_string(f.size()));
  auto ts = parse_timestamp(f[0]);
  if (!ts.ok()) return ts.error();
  auto in = tokens(f[1], "ContextTokens");
  if (!in.ok()) return in.error();
  auto out = tokens(f[2], "GeneratedTokens");
  if (!out.ok()) return out.error();
  Request r;
  r.arrival_s = *ts;
  r.prompt_tokens = *in;
  r.output_tokens = *out;
  return r;
}

Result<Request> parse_mooncake_row(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return invalid_argument("not a JSON object");
  for (const auto& [k, v] : j.items())
    if (k != "timestamp" && k != "input_length" && k != "output_length" && k != "hash_ids")
      return invalid_argument("unknown field " + quote(k));
  Request r;
  double vals[3] = {0, 0, 0};
  const char* keys[3] = {"timestamp", "input_length", "output_length"};
  const double hi[3] = {1e15, 1e7, 1e7};
  for (int i = 0; i < 3; ++i) {
    if (!j.contains(keys[i]) || !j[keys[i]].is_number())
      return invalid_argument(std::string("missing or non-numeric ") + quote(keys[i]));
    vals[i] = j[keys[i]].get<double>();
    if (vals[i] < 0 || vals[i] > hi[i])
      return invalid_argument(std::string(keys[i]) + " out of range");
  }
  if (j.contains("hash_ids")) {
    if (!j["hash_ids"].is_array()) return invalid_argument("hash_ids is not a list");
    for (const auto& h : j["hash_ids"]) {
      if (!h.is_number_unsigned()) return invalid_argument("hash_ids holds a non-integer");
      r.hash_ids.push_back(h.get<uint32_t>());
    }
  }
  r.arrival_s = vals[0] / 1000.0;
  r.prompt_tokens = static_cast<uint32_t>(vals[1]);
  r.output_tokens = static_cast<uint32_t>(vals[2]);
  return r;
}

namespace {

// Reads a whole trace file through its row parser (the vector form of trace_stream.cc).
Result<Trace> read_rows(const std::string& path, TraceFormat format, const TraceReadOptions& o) {
  auto text = read_file(path, size_t{1} << 30);
  if (!text.ok()) return text.error();
  Trace t;
  t.source = path;
  t.format = format;
  RowSink sink{t, o, {}};
  size_t lineno = 0;
  bool header_seen = format != TraceFormat::kAzureCsv;
  for (std::string_view line : split(*text, '\n')) {
    ++lineno;
    line = trim(line);
    if (line.empty()) continue;
    std::string where = path + ":" + std::to_string(lineno);
    if (!header_seen) {
      header_seen = true;
      if (!is_azure_header(line))
        return invalid_argument(
            "not an Azure LLM trace: expected the header TIMESTAMP,ContextTokens,GeneratedTokens, "
            "got " +
                quote(line),
            where);
      continue;
    }
    auto r = format == TraceFormat::kAzureCsv ? parse_azure_row(line) : parse_mooncake_row(line);
    if (!r.ok()) {
      if (!sink.bad(where, r.error().message)) break;
      continue;
    }
    t.requests.push_back(std::move(*r));
    if (o.max_requests && t.requests.size() >= o.max_requests) break;
  }
  if (!sink.errors.empty()) return sink.errors.to_error(path);
  if (!header_seen) return invalid_argument("empty file, expected an Azure LLM trace", path);
  if (format == TraceFormat::kMooncakeJsonl && t.requests.empty() && t.bad_rows == 0)
    return invalid_argument("empty file, expected Mooncake JSONL", path);
  finish(t);
  return t;
}

}  // namespace

Result<Trace> read_azure_csv(const std::string& path, const TraceReadOptions& o) {
  return read_rows(path, TraceFormat::kAzureCsv, o);
}

Result<Trace> read_mooncake_jsonl(const std::string& path, const TraceReadOptions& o) {
  return read_rows(path, TraceFormat::kMooncakeJsonl, o);
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
