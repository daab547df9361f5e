#include "hs/workload/profile.h"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <set>

#include "hs/common/file.h"
#include "hs/common/yaml_reader.h"

namespace hs::workload {

extern const char kDefaultProfilesYaml[];  // generated from workload/profiles/default.yaml

const EngineProfile* ProfileSet::find(std::string_view gpu, std::string_view model) const {
  for (const auto& p : profiles)
    if (p.gpu == gpu && p.model == model) return &p;
  return nullptr;
}

Result<ProfileSet> parse_profiles_yaml(const std::string& text, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return invalid_argument(
        "not valid YAML: " + e.msg,
        name + (e.mark.line >= 0 ? ":" + std::to_string(e.mark.line + 1) : std::string()));
  }
  if (!root.IsMap() || !root["profiles"].IsDefined() || !root["profiles"].IsSequence())
    return invalid_argument("expected a top-level 'profiles' list", name);
  yaml::Ctx ctx{name, {}};
  yaml::MapReader top(root, "", ctx);
  YAML::Node list = top.get("profiles");
  top.finish();
  ProfileSet set;
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& pn : list) {
    EngineProfile p;
    // Fields are named as in the file; the file:line:col says which profile.
    yaml::MapReader r(pn, "", ctx);
    if (!r.ok()) continue;
    r.str("gpu", p.gpu, true);
    r.str("model", p.model, true);
    if (!p.gpu.empty() && !p.model.empty() && !seen.insert({p.gpu, p.model}).second)
      ctx.error(pn, "profile", p.gpu + "/" + p.model + " given twice");
    r.count("tensor_parallel", p.tensor_parallel, 1, 64);
    r.boolean("derived", p.derived);
    for (bool pre : {true, false}) {
      const char* part = pre ? "prefill" : "decode";
      YAML::Node m = r.get(part);
      if (!m.IsDefined() || !m.IsMap()) {
        ctx.error(pn, part, "required mapping");
        continue;
      }
      yaml::MapReader t(m, part, ctx);
      t.num(pre ? "p0" : "d0", pre ? p.p0 : p.d0, 0, 100, true);
      t.num(pre ? "p1" : "d1", pre ? p.p1 : p.d1, 0, 1, true);
      t.num(pre ? "p2" : "d2", pre ? p.p2 : p.d2, 0, 1, true);
      t.finish();
    }
    double kvcap = 0;
    r.num("kv_bytes_per_token", p.kv_bytes_per_token, 1, 1e8, true);
    r.num("kv_capacity_tokens", kvcap, 1, 1e12, true);
    p.kv_capacity_tokens = static_cast<uint64_t>(kvcap);
    r.count("max_batch", p.max_batch, 1, 65536);
    r.count("max_context", p.max_context, 1, 10000000);
    r.num("startup_s", p.startup_s, 0, 86400);
    if (!r.has("source"))
      ctx.error(pn, "source", "required (every profile cites where its numbers come from)");
    r.str("source", p.source);
    if (r.has("fit_error")) {
      YAML::Node fe = r.get("fit_error");
      if (!fe.IsMap()) {
        ctx.error(fe, "fit_error", "expected a mapping of numbers");
      } else {
        for (auto it = fe.begin(); it != fe.end(); ++it) {
          double v = 0;
          if (!it->second.IsScalar() || !YAML::convert<double>::decode(it->second, v))
            ctx.error(it->second, "fit_error." + it->first.Scalar(), "expected a number");
          else
            p.fit_error[it->first.Scalar()] = v;
        }
      }
    }
    r.finish();
    set.profiles.push_back(std::move(p));
  }
  if (!ctx.errors.empty())
    return ctx.errors.to_error(name + ": " + std::to_string(ctx.errors.size()) + " errors");
  return set;
}

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
