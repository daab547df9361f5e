// Readers for real request traces:
//  - Azure LLM inference 2023 (CSV: TIMESTAMP,ContextTokens,GeneratedTokens; naive timestamps
//    with up to 7 fractional digits);
//  - Mooncake FAST'25 (JSONL: timestamp ms, input_length, output_length, hash_ids).
// Malformed rows are never dropped silently: by default the first one is an error naming
// file:line; with `skip_bad_rows` they are skipped, counted and the first few reported.
#pragma once

#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/workload/request.h"

namespace hs::workload {

enum class TraceFormat { kAzureCsv, kMooncakeJsonl, kServeGenDir };
std::string_view to_string(TraceFormat f);

struct TraceReadOptions {
  bool skip_bad_rows = false;
  size_t max_requests = 0;  // 0 = all
};

struct Trace {
  std::string source;
  TraceFormat format = TraceFormat::kAzureCsv;
  std::vector<Request> requests;  // sorted by arrival, arrival of the first = 0
  size_t bad_rows = 0;
  std::vector<std::string> bad_row_examples;  // "file:line: problem", at most 10
};

Result<Trace> read_azure_csv(const std::string& path, const TraceReadOptions& o = {});
Result<Trace> read_mooncake_jsonl(const std::string& path, const TraceReadOptions& o = {});
// From the path: a directory is a ServeGen category; *.csv Azure; *.jsonl/*.json Mooncake.
Result<TraceFormat> detect_format(const std::string& path);
// Reads a trace file (not a ServeGen folder: see servegen.h).
Result<Trace> read_trace(const std::string& path, const TraceReadOptions& o = {});

// One row of each format, as the readers and the streams (stream.h) parse it; arrival_s is
// the row's own time (Unix seconds for Azure, seconds from the trace start for Mooncake).
// InvalidArgument saying what is wrong (the caller adds file:line).
bool is_azure_header(std::string_view line);
Result<Request> parse_azure_row(std::string_view line);
Result<Request> parse_mooncake_row(std::string_view line);

// Parses "2023-11-16 18:17:03.9799600" (optionally with a "+00:00" suffix) as seconds since
// the Unix epoch, treating naive times as UTC. InvalidArgument for anything else.
Result<double> parse_timestamp(std::string_view text);

}  // namespace hs::workload
