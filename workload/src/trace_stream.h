// The stream form of a trace file (private to workload/; load.h opens it).
#pragma once

#include <memory>
#include <random>
#include <string>

#include "hs/workload/load.h"
#include "hs/workload/stream.h"

namespace hs::workload {

std::unique_ptr<RequestStream> open_trace_stream(const std::string& path, TraceFormat format,
                                                 const LoadOptions& o);

}  // namespace hs::workload
