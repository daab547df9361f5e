#include "hs/common/logger.h"

#include <sys/time.h>
#include <cstdio>
#include <ctime>

namespace hs {

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      return "off";
  }
  return "off";
}

Result<LogLevel> parse_log_level(std::string_view text) {
  for (LogLevel l :
       {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError, LogLevel::kOff}) {
    if (text == to_string(l)) return l;
  }
  return invalid_argument("unknown log level \"" + std::string(text) +
                          "\" (expected debug, info, warning, error or off)");
}

LogSink stderr_sink() {
  auto mu = std::make_shared<std::mutex>();
  return [mu](LogLevel, std::string_view line) {
    std::lock_guard<std::mutex> lock(*mu);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fputc('\n', stderr);
  };
}

LogSink null_sink() {
  return [](LogLevel, std::string_view) {};
}

Logger::Logger(std::string component, LogLevel level, LogSink sink)
    : component_(std::move(component)), level_(level), sink_(std::move(sink)) {}

Logger Logger::child(std::string_view sub) const {
  return Logger(component_.empty() ? std::string(sub) : component_ + "." + std::string(sub), level_,
                sink_);
}

void Logger::log(LogLevel level, std::string_view message) const {
  if (!enabled(level) || !sink_) return;
  // Logs are for people and log shippers: UTC wall-clock time is right here (and only here).
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(tv.tv_usec / 1000));
  std::string line;
  line.reserve(message.size() + component_.size() + 40);
  line += ts;
  line += ' ';
  line += to_string(level);
  line += ' ';
  line += component_;
  line += ": ";
  line += message;
  sink_(level, line);
}

}  // namespace hs
