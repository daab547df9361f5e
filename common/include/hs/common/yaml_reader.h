// Strict YAML reading, the one reader of every YAML file heteroscale takes (services, the
// daemon, hs-sim's cluster, engine profiles): every error as "file:line:col: field: problem",
// all of a file's errors at once, unknown keys reported. Header-only: the libraries that read
// YAML link yaml-cpp; hs_common does not.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>

#include "hs/common/clock.h"
#include "hs/common/error.h"
#include "hs/common/text.h"

namespace hs::yaml {

// Collects errors as "file:line:col: field: problem".
struct Ctx {
  std::string file;
  ErrorList errors;
  std::string at(const YAML::Node& n) const {
    const YAML::Mark m = n.Mark();
    if (m.line < 0) return file;
    return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
  }
  void error(const YAML::Node& n, const std::string& field, const std::string& msg) {
    errors.add(invalid_argument(field + ": " + msg, at(n)));
  }
};

inline std::string scalar_text(const YAML::Node& n) {
  return n.IsScalar() ? n.Scalar()
                      : std::string("<") +
                            (n.IsMap()        ? "map"
                             : n.IsSequence() ? "list"
                                              : "null") +
                            ">";
}

// Reads one YAML mapping, remembering which keys were used so the rest can be reported.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string path, Ctx& ctx)
      : node_(node), path_(std::move(path)), ctx_(ctx) {
    ok_ = node.IsMap();
    if (!ok_)
      ctx_.error(node, path_.empty() ? "(top level)" : path_,
                 "expected a mapping, got " + quote(scalar_text(node)));
  }
  bool ok() const { return ok_; }
  std::string field(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

  YAML::Node get(const char* key) {
    used_.insert(key);
    if (!ok_) return YAML::Node();
    return node_[key];
  }
  bool has(const char* key) { return ok_ && node_[key].IsDefined() && (used_.insert(key), true); }

  void str(const char* key, std::string& out, bool required = false) {
    YAML::Node n = get(key);
    if (!n.IsDefined()) {
      if (required) ctx_.error(node_, field(key), "required");
      return;
    }
    if (!n.IsScalar() || n.Scalar().empty()) {
      ctx_.error(n, field(key), "expected a non-empty string, got " + quote(scalar_text(n)));
      return;
    }
    out = n.Scalar();
  }
  void num(const char* key, double& out, double lo, double hi, bool required = false) {
    YAML::Node n = get(key);
    if (!n.IsDefined()) {
      if (required) ctx_.error(node_, field(key), "required");
      return;
    }
    double v = 0;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v)) {
      ctx_.error(n, field(key), "expected a number, got " + quote(scalar_text(n)));
      return;
    }
    if (v < lo || v > hi) {
      ctx_.error(n, field(key), "must be in [" + fmt(lo) + ", " + fmt(hi) + "], got " + n.Scalar());
      return;
    }
    out = v;
  }
  void count(const char* key, uint32_t& out, uint32_t lo, uint32_t hi, bool required = false) {
    YAML::Node n = get(key);
    if (!n.IsDefined()) {
      if (required) ctx_.error(node_, field(key), "required");
      return;
    }
    auto v = n.IsScalar() ? parse_u64(n.Scalar()) : Result<uint64_t>(invalid_argument(""));
    if (!v.ok()) {
      ctx_.error(n, field(key), "expected a whole number, got " + quote(scalar_text(n)));
      return;
    }
    if (*v < lo || *v > hi) {
      ctx_.error(
          n, field(key),
          "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + n.Scalar());
      return;
    }
    out = static_cast<uint32_t>(*v);
  }
  void boolean(const char* key, bool& out) {
    YAML::Node n = get(key);
    if (!n.IsDefined()) return;
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
      ctx_.error(n, field(key), "expected true or false, got " + quote(scalar_text(n)));
      return;
    }
    out = v;
  }
  void seconds(const char* key, Duration& out, double hi = 86400) {
    double s = -1;
    num(key, s, 0, hi);
    if (s >= 0) out = from_seconds(s);
  }
  // Reports every key that no getter asked for.
  void finish() {
    if (!ok_) return;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      std::string k = it->first.IsScalar() ? it->first.Scalar() : "?";
      if (!used_.count(k)) ctx_.error(it->first, field(k.c_str()), "unknown key");
    }
  }

 private:
  static std::string fmt(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", v);
    return b;
  }
  YAML::Node node_;
  std::string path_;
  Ctx& ctx_;
  std::set<std::string> used_;
  bool ok_ = false;
};

}  // namespace hs::yaml
