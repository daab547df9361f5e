// A small injected logger: a level, a component name and a sink. No global logger exists;
// whoever owns a component passes it a Logger. Lines look like
//   2026-11-25T07:12:19.123Z info topo: loaded 4 GPUs from x.xml
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "hs/common/error.h"

namespace hs {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

std::string_view to_string(LogLevel level);
// Strict: "debug", "info", "warning", "error", "off"; anything else is InvalidArgument.
Result<LogLevel> parse_log_level(std::string_view text);

// Where formatted lines go. Called with the full line (no trailing newline). Must be
// thread-safe; the ones made here are.
using LogSink = std::function<void(LogLevel, std::string_view line)>;

// A sink writing to stderr, serialized by a mutex it owns.
LogSink stderr_sink();
// A sink that drops everything.
LogSink null_sink();

class Logger {
 public:
  Logger(std::string component, LogLevel level, LogSink sink);
  // A logger for a sub-component sharing this one's level and sink ("scaler" -> "scaler.slurm").
  Logger child(std::string_view sub) const;

  bool enabled(LogLevel level) const { return level >= level_ && level_ != LogLevel::kOff; }
  void log(LogLevel level, std::string_view message) const;
  void debug(std::string_view m) const { log(LogLevel::kDebug, m); }
  void info(std::string_view m) const { log(LogLevel::kInfo, m); }
  void warning(std::string_view m) const { log(LogLevel::kWarning, m); }
  void error(std::string_view m) const { log(LogLevel::kError, m); }

  const std::string& component() const { return component_; }
  LogLevel level() const { return level_; }

 private:
  std::string component_;
  LogLevel level_;
  LogSink sink_;
};

}  // namespace hs
