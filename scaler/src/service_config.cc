#include "hs/scaler/service_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>

#include "hs/common/file.h"
#include "hs/common/text.h"
#include "hs/common/yaml_reader.h"

namespace hs::scaler {

std::string_view to_string(Affinity a) {
  switch (a) {
    case Affinity::kLeaf:
      return "leaf";
    case Affinity::kSpine:
      return "spine";
    case Affinity::kAny:
      return "any";
  }
  return "any";
}

uint32_t ServiceConfig::min_units() const {
  const Ratio& r = preferred().ratio;
  if (r.prefill == 0 || r.decode == 0) return 0;
  return std::max((min_prefill + r.prefill - 1) / r.prefill,
                  (min_decode + r.decode - 1) / r.decode);
}

const Variant* ServiceConfig::variant_named(std::string_view variant) const {
  for (const auto& v : variants)
    if (v.name == variant) return &v;
  return nullptr;
}

uint32_t ServiceConfig::max_units() const {
  const Ratio& r = preferred().ratio;
  if (r.prefill == 0 || r.decode == 0) return 0;
  return std::min(max_prefill / r.prefill, max_decode / r.decode);
}

namespace {

using yaml::Ctx;
using yaml::MapReader;
using yaml::scalar_text;

void read_ratio(const YAML::Node& n, const std::string& field, Ratio& r, Ctx& ctx) {
  if (n.IsScalar()) {
    auto parts = split(n.Scalar(), ':');
    auto p = parts.size() == 2 ? parse_u64(trim(parts[0])) : Result<uint64_t>(invalid_argument(""));
    auto d = parts.size() == 2 ? parse_u64(trim(parts[1])) : Result<uint64_t>(invalid_argument(""));
    if (!p.ok() || !d.ok() || *p == 0 || *d == 0 || *p > 64 || *d > 64) {
      ctx.error(
          n, field,
          "expected \"P:D\" with whole numbers 1..64 (e.g. \"1:2\"), got " + quote(n.Scalar()));
      return;
    }
    r.prefill = static_cast<uint32_t>(*p);
    r.decode = static_cast<uint32_t>(*d);
    return;
  }
  MapReader m(n, field, ctx);
  m.count("prefill", r.prefill, 1, 64, true);
  m.count("decode", r.decode, 1, 64, true);
  m.finish();
}

uint8_t parse_day(std::string_view d) {
  static const char* names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  for (int i = 0; i < 7; ++i)
    if (d == names[i]) return static_cast<uint8_t>(i);
  return 255;
}

void read_schedule_entry(const YAML::Node& n, const std::string& field, ScheduleEntry& e,
                         Ctx& ctx) {
  MapReader m(n, field, ctx);
  e.where = ctx.at(n);
  std::string at, days;
  m.str("at", at, true);
  if (!at.empty()) {
    auto hm = split(at, ':');
    auto h = hm.size() == 2 ? parse_u64(hm[0]) : Result<uint64_t>(invalid_argument(""));
    auto mi = hm.size() == 2 ? parse_u64(hm[1]) : Result<uint64_t>(invalid_argument(""));
    if (!h.ok() || !mi.ok() || *h > 23 || *mi > 59 || hm[1].size() != 2)
      ctx.error(m.get("at"), m.field("at"), "expected HH:MM (UTC), got " + quote(at));
    else
      e.start_minute = static_cast<uint32_t>(*h * 60 + *mi);
  }
  m.str("days", days);
  if (!days.empty()) {
    uint8_t mask = 0;
    bool ok = true;
    for (std::string_view part : split(days, ',')) {
      auto dash = part.find('-');
      uint8_t a = parse_day(trim(part.substr(0, dash)));
      uint8_t b = dash == std::string_view::npos ? a : parse_day(trim(part.substr(dash + 1)));
      if (a > 6 || b > 6 || a > b) {
        ok = false;
        break;
      }
      for (uint8_t d = a; d <= b; ++d) mask = static_cast<uint8_t>(mask | (1u << d));
    }
    if (!ok)
      ctx.error(m.get("days"), m.field("days"),
                "expected days like \"mon-fri\" or \"sat,sun\", got " + quote(days));
    else
      e.days = mask;
  }
  m.count("units", e.units, 1, 100000, true);
  m.finish();
}

void read_service(const YAML::Node& n, const std::string& field, ServiceConfig& s, Ctx& ctx) {
  MapReader m(n, field, ctx);
  if (!m.ok()) return;
  s.where = ctx.at(n);
  m.str("name", s.name, true);
  YAML::Node vs = m.get("variants");
  if (!vs.IsDefined()) {
    ctx.error(n, m.field("variants"), "required (at least one hardware variant)");
  } else if (!vs.IsSequence() || vs.size() == 0) {
    ctx.error(vs, m.field("variants"), "expected a non-empty list");
  } else {
    for (size_t i = 0; i < vs.size(); ++i) {
      std::string vf = m.field("variants") + "[" + std::to_string(i) + "]";
      MapReader vm(vs[i], vf, ctx);
      Variant v;
      vm.str("name", v.name, true);
      vm.str("prefill_gpu", v.prefill_gpu, true);
      vm.str("decode_gpu", v.decode_gpu, true);
      YAML::Node r = vm.get("ratio");
      if (!r.IsDefined())
        ctx.error(vs[i], vf + ".ratio", "required (e.g. \"1:2\")");
      else
        read_ratio(r, vf + ".ratio", v.ratio, ctx);
      vm.num("decode_tps_per_instance", v.decode_tps_per_instance, 1e-3, 1e9, true);
      vm.num("prefill_tps_per_instance", v.prefill_tps_per_instance, 1e-3, 1e9, false);
      vm.count("prefill_gpus", v.prefill_gpus, 1, 64);
      vm.count("decode_gpus", v.decode_gpus, 1, 64);
      vm.finish();
      s.variants.push_back(v);
    }
  }
  YAML::Node slo = m.get("slo");
  if (slo.IsDefined()) {
    MapReader sm(slo, m.field("slo"), ctx);
    sm.num("ttft_s", s.slo.ttft_s, 1e-3, 3600);
    sm.num("tbt_s", s.slo.tbt_s, 1e-4, 60);
    sm.num("percentile", s.slo.percentile, 0.5, 0.9999);
    sm.finish();
  }
  YAML::Node b = m.get("bounds");
  if (!b.IsDefined()) {
    ctx.error(n, m.field("bounds"), "required (min_prefill, max_prefill, min_decode, max_decode)");
  } else {
    MapReader bm(b, m.field("bounds"), ctx);
    bm.count("min_prefill", s.min_prefill, 1, 1000000, true);
    bm.count("max_prefill", s.max_prefill, 1, 1000000, true);
    bm.count("min_decode", s.min_decode, 1, 1000000, true);
    bm.count("max_decode", s.max_decode, 1, 1000000, true);
    bm.finish();
  }
  m.num("ratio_band", s.ratio_band, 0, 10);
  YAML::Node sc = m.get("scaling");
  if (sc.IsDefined()) {
    MapReader c(sc, m.field("scaling"), ctx);
    Scaling& p = s.scaling;
    c.seconds("window_s", p.window, 3600);
    c.seconds("stale_after_s", p.stale_after, 3600);
    c.num("min_coverage", p.min_coverage, 0, 1);
    c.num("tolerance_out", p.tolerance_out, 0, 10);
    c.num("tolerance_in", p.tolerance_in, 0, 0.99);
    c.seconds("out_stabilization_s", p.out_stabilization);
    c.seconds("in_stabilization_s", p.in_stabilization);
    c.seconds("out_cooldown_s", p.out_cooldown);
    c.seconds("in_cooldown_s", p.in_cooldown);
    c.count("max_step_out_units", p.max_step_out_units, 1, 100000);
    c.num("max_step_out_fraction", p.max_step_out_fraction, 0, 100);
    c.num("deficit_step_fraction", p.deficit_step_fraction, 0, 100);
    c.num("max_step_in_fraction", p.max_step_in_fraction, 0, 1);
    c.num("ttft_rise", p.ttft_rise, 0, 10);
    c.num("guard_min_load", p.guard_min_load, 0, 1);
    c.seconds("soft_scale_in_grace_s", p.soft_scale_in_grace);
    c.seconds("start_timeout_s", p.start_timeout);
    YAML::Node g = c.get("guard");
    if (g.IsDefined()) {
      p.guard.clear();
      if (!g.IsSequence()) {
        ctx.error(g, c.field("guard"), "expected a list of {slo_factor, step}");
      } else {
        for (size_t i = 0; i < g.size(); ++i) {
          MapReader gm(g[i], c.field("guard") + "[" + std::to_string(i) + "]", ctx);
          GuardTier t;
          gm.num("slo_factor", t.slo_factor, 0.1, 100, true);
          gm.num("step", t.step, 0.001, 10, true);
          gm.finish();
          p.guard.push_back(t);
        }
      }
    }
    c.finish();
  }
  std::string aff;
  m.str("affinity", aff);
  if (!aff.empty()) {
    if (aff == "leaf")
      s.affinity = Affinity::kLeaf;
    else if (aff == "spine")
      s.affinity = Affinity::kSpine;
    else if (aff == "any")
      s.affinity = Affinity::kAny;
    else
      ctx.error(m.get("affinity"), m.field("affinity"),
                "expected leaf, spine or any, got " + quote(aff));
  }
  YAML::Node pr = m.get("priority");
  if (pr.IsDefined()) {
    auto v = pr.IsScalar() ? parse_i64(pr.Scalar()) : Result<int64_t>(invalid_argument(""));
    if (!v.ok() || *v < -1000 || *v > 1000)
      ctx.error(pr, m.field("priority"),
                "expected a whole number in [-1000, 1000], got " + quote(scalar_text(pr)));
    else
      s.priority = static_cast<int>(*v);
  }
  YAML::Node sch = m.get("schedule");
  if (sch.IsDefined()) {
    if (!sch.IsSequence()) {
      ctx.error(sch, m.field("schedule"), "expected a list of {at, days, units}");
    } else {
      for (size_t i = 0; i < sch.size(); ++i) {
        ScheduleEntry e;
        read_schedule_entry(sch[i], m.field("schedule") + "[" + std::to_string(i) + "]", e, ctx);
        s.schedule.push_back(e);
      }
    }
  }
  std::string mode;
  m.str("schedule_mode", mode);
  if (!mode.empty()) {
    if (mode == "floor")
      s.schedule_mode = ScheduleMode::kFloor;
    else if (mode == "exact")
      s.schedule_mode = ScheduleMode::kExact;
    else
      ctx.error(m.get("schedule_mode"), m.field("schedule_mode"),
                "expected floor or exact, got " + quote(mode));
  }
  m.finish();
}

}  // namespace

Status validate(const ServiceConfig& s) {
  ErrorList e;
  auto bad = [&](const std::string& field, const std::string& msg) {
    e.add(invalid_argument("service " + quote(s.name) + ": " + field + ": " + msg, s.where));
  };
  if (s.variants.empty()) bad("variants", "at least one variant is required");
  if (s.min_prefill > s.max_prefill)
    bad("bounds", "min_prefill " + std::to_string(s.min_prefill) + " > max_prefill " +
                      std::to_string(s.max_prefill));
  if (s.min_decode > s.max_decode)
    bad("bounds", "min_decode " + std::to_string(s.min_decode) + " > max_decode " +
                      std::to_string(s.max_decode));
  std::set<std::string> names;
  for (const Variant& v : s.variants)
    if (!names.insert(v.name).second) bad("variants", "variant " + quote(v.name) + " given twice");
  // The policy counts in the preferred variant's ratio units, so the bounds must be whole
  // units of it; fallback variants are sized by placement from the capacity they replace.
  if (!s.variants.empty()) {
    const Variant& v = s.variants.front();
    const Ratio& r = v.ratio;
    // Bounds must be whole ratio units, the same number of units for both roles.
    auto units = [&](uint32_t p, uint32_t d, const char* which) {
      if (p % r.prefill || d % r.decode || p / r.prefill != d / r.decode) {
        uint32_t u = std::min(p / r.prefill, d / r.decode);
        bad("bounds", std::string(which) + "_prefill " + std::to_string(p) + " and " + which +
                          "_decode " + std::to_string(d) + " contradict variant " + quote(v.name) +
                          "'s ratio " + std::to_string(r.prefill) + ":" + std::to_string(r.decode) +
                          " (whole units: e.g. " + std::to_string(std::max(u, 1u) * r.prefill) +
                          " and " + std::to_string(std::max(u, 1u) * r.decode) + ")");
      }
    };
    if (r.prefill > 0 && r.decode > 0) {
      units(s.min_prefill, s.min_decode, "min");
      units(s.max_prefill, s.max_decode, "max");
    }
    // A fallback group is opened one unit of its own ratio at least: the bounds must hold it.
    for (size_t i = 1; i < s.variants.size(); ++i) {
      const Variant& f = s.variants[i];
      if (f.ratio.prefill > s.max_prefill || f.ratio.decode > s.max_decode)
        bad("bounds", "max_prefill " + std::to_string(s.max_prefill) + " / max_decode " +
                          std::to_string(s.max_decode) + " cannot hold one unit of variant " +
                          quote(f.name) + "'s ratio " + std::to_string(f.ratio.prefill) + ":" +
                          std::to_string(f.ratio.decode));
    }
  }
  for (size_t i = 1; i < s.scaling.guard.size(); ++i) {
    if (s.scaling.guard[i].slo_factor <= s.scaling.guard[i - 1].slo_factor ||
        s.scaling.guard[i].step < s.scaling.guard[i - 1].step)
      bad("scaling.guard", "tiers must have rising slo_factor and non-falling step");
  }
  if (s.scaling.stale_after < s.scaling.window / 2)
    bad("scaling.stale_after_s", "must be at least half of window_s");
  std::set<std::pair<uint8_t, uint32_t>> starts;
  for (const auto& en : s.schedule) {
    if (en.units < s.min_units() || en.units > s.max_units())
      e.add(invalid_argument("service " + quote(s.name) + ": schedule: units " +
                                 std::to_string(en.units) + " outside the bounds' " +
                                 std::to_string(s.min_units()) + ".." +
                                 std::to_string(s.max_units()) + " units",
                             en.where));
  }
  if (!e.empty())
    return e.to_error("service " + quote(s.name) + ": " + std::to_string(e.size()) + " errors");
  return ok_status();
}

Result<ServicesConfig> parse_services_yaml(const std::string& text, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& ex) {
    std::string where = name;
    if (ex.mark.line >= 0)
      where += ":" + std::to_string(ex.mark.line + 1) + ":" + std::to_string(ex.mark.column + 1);
    return invalid_argument("not valid YAML: " + ex.msg, where);
  }
  Ctx ctx{name, {}};
  ServicesConfig out;
  try {
    MapReader top(root, "", ctx);
    if (!top.ok()) return ctx.errors.to_error(name + ": errors");
    YAML::Node budget = top.get("gpu_budget");
    if (budget.IsDefined()) {
      if (!budget.IsMap()) {
        ctx.error(budget, "gpu_budget", "expected a mapping of GPU type to count");
      } else {
        for (auto it = budget.begin(); it != budget.end(); ++it) {
          std::string type = it->first.Scalar();
          auto v = it->second.IsScalar() ? parse_u64(it->second.Scalar())
                                         : Result<uint64_t>(invalid_argument(""));
          if (!v.ok() || *v > 10000000)
            ctx.error(it->second, "gpu_budget." + type, "expected a whole number of GPUs");
          else
            out.gpu_budget[type] = static_cast<uint32_t>(*v);
        }
      }
    }
    (void)top.get("daemon");  // heteroscaled's own section (daemon_config.cc)
    YAML::Node svcs = top.get("services");
    if (!svcs.IsDefined()) {
      ctx.error(root, "services", "required (a list of services)");
    } else if (!svcs.IsSequence()) {
      ctx.error(svcs, "services", "expected a list");
    } else {
      std::set<std::string> names;
      for (size_t i = 0; i < svcs.size(); ++i) {
        ServiceConfig s;
        size_t before = ctx.errors.size();
        read_service(svcs[i], "services[" + std::to_string(i) + "]", s, ctx);
        if (!s.name.empty() && !names.insert(s.name).second)
          ctx.error(svcs[i]["name"], "services[" + std::to_string(i) + "].name",
                    "service " + quote(s.name) + " defined twice");
        if (ctx.errors.size() == before) {
          auto st = validate(s);
          if (!st.ok()) {
            if (st.error().causes.empty()) ctx.errors.add(st.error());
            for (const auto& c : st.error().causes) ctx.errors.add(c);
          }
        }
        out.services.push_back(std::move(s));
      }
    }
    top.finish();
  } catch (const YAML::Exception& ex) {
    return invalid_argument(std::string("unexpected YAML structure: ") + ex.what(), name);
  }
  if (!ctx.errors.empty())
    return ctx.errors.to_error(name + ": " + std::to_string(ctx.errors.size()) + " errors");
  return out;
}

Result<ServicesConfig> load_services(const std::string& path) {
  auto text = read_file(path, 16 << 20);
  if (!text.ok()) return text.error();
  return parse_services_yaml(*text, path);
}

}  // namespace hs::scaler
