#include "hs/workload/profile.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include "hs/common/file.h"

namespace hs::workload {

extern const char kDefaultProfilesYaml[];  // generated from workload/profiles/default.yaml

const EngineProfile* ProfileSet::find(std::string_view gpu, std::string_view model) const {
  for (const auto& p : profiles)
    if (p.gpu == gpu && p.model == model) return &p;
  return nullptr;
}

namespace {
std::string at(const std::string& name, const YAML::Node& n) {
  auto m = n.Mark();
  return m.line < 0 ? name
                    : name + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}
}  // namespace

namespace {
// yaml-cpp throws when a missing key is asked for its type: ask IsDefined() first.
bool is_map(const YAML::Node& n) { return n.IsDefined() && n.IsMap(); }
bool is_scalar(const YAML::Node& n) { return n.IsDefined() && n.IsScalar(); }
Result<ProfileSet> parse_profiles(const std::string& text, const std::string& name);
}  // namespace

Result<ProfileSet> parse_profiles_yaml(const std::string& text, const std::string& name) {
  try {
    return parse_profiles(text, name);
  } catch (const YAML::Exception& e) {
    return invalid_argument(std::string("unexpected YAML structure: ") + e.what(), name);
  }
}

namespace {
Result<ProfileSet> parse_profiles(const std::string& text, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return invalid_argument(
        "not valid YAML: " + e.msg,
        name + (e.mark.line >= 0 ? ":" + std::to_string(e.mark.line + 1) : std::string()));
  }
  ErrorList errors;
  ProfileSet set;
  if (!is_map(root) || !root["profiles"].IsDefined() || !root["profiles"].IsSequence())
    return invalid_argument("expected a top-level 'profiles' list", name);
  for (auto it = root.begin(); it != root.end(); ++it)
    if (it->first.Scalar() != "profiles")
      errors.add(invalid_argument(it->first.Scalar() + ": unknown key", at(name, it->first)));
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& pn : root["profiles"]) {
    EngineProfile p;
    auto num = [&](const YAML::Node& parent, const char* key, double& out, double lo, double hi,
                   bool required) {
      YAML::Node n = parent[key];
      if (!n.IsDefined()) {
        if (required)
          errors.add(invalid_argument(std::string(key) + ": required", at(name, parent)));
        return;
      }
      double v;
      if (!is_scalar(n) || !YAML::convert<double>::decode(n, v) || v < lo || v > hi)
        errors.add(invalid_argument(std::string(key) + ": expected a number in [" +
                                        std::to_string(lo) + ", " + std::to_string(hi) + "]",
                                    at(name, n)));
      else
        out = v;
    };
    static const std::set<std::string> keys = {
        "gpu",       "model",       "tensor_parallel",    "derived",
        "prefill",   "decode",      "kv_bytes_per_token", "kv_capacity_tokens",
        "max_batch", "max_context", "startup_s",          "fit_error",
        "source"};
    if (!is_map(pn)) {
      errors.add(invalid_argument("profile: expected a mapping", at(name, pn)));
      continue;
    }
    for (auto it = pn.begin(); it != pn.end(); ++it)
      if (!keys.count(it->first.Scalar()))
        errors.add(invalid_argument(it->first.Scalar() + ": unknown key", at(name, it->first)));
    if (!is_scalar(pn["gpu"]) || !is_scalar(pn["model"])) {
      errors.add(invalid_argument("gpu and model are required", at(name, pn)));
      continue;
    }
    p.gpu = pn["gpu"].Scalar();
    p.model = pn["model"].Scalar();
    if (!seen.insert({p.gpu, p.model}).second)
      errors.add(
          invalid_argument("profile " + p.gpu + "/" + p.model + " given twice", at(name, pn)));
    double tp = 1, kvcap = 0, mb = 256, mc = 32768;
    num(pn, "tensor_parallel", tp, 1, 64, false);
    p.tensor_parallel = static_cast<uint32_t>(tp);
    if (pn["derived"].IsDefined()) p.derived = pn["derived"].as<bool>(false);
    for (const char* part : {"prefill", "decode"}) {
      YAML::Node m = pn[part];
      if (!is_map(m)) {
        errors.add(invalid_argument(std::string(part) + ": required mapping", at(name, pn)));
        continue;
      }
      bool pre = std::string(part) == "prefill";
      for (auto it = m.begin(); it != m.end(); ++it) {
        std::string k = it->first.Scalar();
        if (pre ? (k != "p0" && k != "p1" && k != "p2") : (k != "d0" && k != "d1" && k != "d2"))
          errors.add(
              invalid_argument(std::string(part) + "." + k + ": unknown key", at(name, it->first)));
      }
      num(m, pre ? "p0" : "d0", pre ? p.p0 : p.d0, 0, 100, true);
      num(m, pre ? "p1" : "d1", pre ? p.p1 : p.d1, 0, 1, true);
      num(m, pre ? "p2" : "d2", pre ? p.p2 : p.d2, 0, 1, true);
    }
    num(pn, "kv_bytes_per_token", p.kv_bytes_per_token, 1, 1e8, true);
    num(pn, "kv_capacity_tokens", kvcap, 1, 1e12, true);
    num(pn, "max_batch", mb, 1, 65536, false);
    num(pn, "max_context", mc, 1, 1e7, false);
    num(pn, "startup_s", p.startup_s, 0, 86400, false);
    p.kv_capacity_tokens = static_cast<uint64_t>(kvcap);
    p.max_batch = static_cast<uint32_t>(mb);
    p.max_context = static_cast<uint32_t>(mc);
    if (is_scalar(pn["source"]))
      p.source = pn["source"].Scalar();
    else
      errors.add(invalid_argument(
          "source: required (every profile cites where its numbers come from)", at(name, pn)));
    if (is_map(pn["fit_error"]))
      for (auto it = pn["fit_error"].begin(); it != pn["fit_error"].end(); ++it)
        p.fit_error[it->first.Scalar()] = it->second.as<double>(0);
    set.profiles.push_back(std::move(p));
  }
  if (!errors.empty())
    return errors.to_error(name + ": " + std::to_string(errors.size()) + " errors");
  return set;
}
}  // namespace

Result<ProfileSet> load_profiles(const std::string& path) {
  auto t = read_file(path, 16 << 20);
  if (!t.ok()) return t.error();
  return parse_profiles_yaml(*t, path);
}

const ProfileSet& default_profiles() {
  static const ProfileSet set = [] {
    auto r = parse_profiles_yaml(kDefaultProfilesYaml, "workload/profiles/default.yaml");
    return r.ok() ? *r : ProfileSet{};
  }();
  return set;
}

}  // namespace hs::workload
