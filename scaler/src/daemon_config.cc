#include "hs/scaler/daemon_config.h"

#include <cstdint>

#include "hs/common/file.h"
#include "hs/common/http.h"
#include "hs/common/job_tag.h"
#include "hs/common/yaml_reader.h"

namespace hs::scaler {

namespace {

using yaml::Ctx;
using yaml::MapReader;

void read_template(const YAML::Node& n, const std::string& field, ServiceTemplate& t, Ctx& ctx,
                   const std::string& base_dir) {
  MapReader m(n, field, ctx);
  m.str("prefill_script", t.prefill_script, true);
  m.str("decode_script", t.decode_script, true);
  m.count("array_size", t.array_size, 1, 4000000);
  m.str("partition", t.partition);
  m.str("qos", t.qos);
  m.str("account", t.account);
  m.str("reservation", t.reservation);
  m.count("time_limit_min", t.time_limit_min, 0, 525600);
  m.str("work_dir", t.work_dir);
  m.str("output", t.output);
  m.count("stop_warning_s", t.stop_warning_s, 0, 86400);
  m.count("engine_shutdown_timeout_s", t.engine_shutdown_timeout_s, 0, 86400);
  YAML::Node env = m.get("environment");
  if (env.IsDefined()) {
    if (!env.IsSequence()) {
      ctx.error(env, m.field("environment"), "expected a list of \"NAME=value\"");
    } else {
      for (size_t i = 0; i < env.size(); ++i) {
        std::string e = env[i].IsScalar() ? env[i].Scalar() : "";
        auto eq = e.find('=');
        if (eq == std::string::npos || eq == 0)
          ctx.error(env[i], m.field("environment") + "[" + std::to_string(i) + "]",
                    "expected NAME=value, got " + quote(e));
        else
          t.environment.push_back(e);
      }
    }
  }
  m.finish();
  auto resolve = [&](std::string& p) {
    if (!p.empty() && p[0] != '/') p = base_dir + "/" + p;
  };
  resolve(t.prefill_script);
  resolve(t.decode_script);
  for (auto [key, path, text] :
       {std::tuple{"prefill_script", &t.prefill_script, &t.prefill_script_text},
        std::tuple{"decode_script", &t.decode_script, &t.decode_script_text}}) {
    if (path->empty()) continue;
    auto body = read_file(*path, 1 << 20);
    if (!body.ok()) {
      ctx.error(m.get(key), m.field(key), "cannot read " + *path + ": " + body.error().message);
      continue;
    }
    if (!starts_with(*body, "#!"))
      ctx.error(m.get(key), m.field(key), *path + " must start with #! (a batch script)");
    *text = *body;
  }
}

}  // namespace

Result<DaemonConfig> parse_daemon_config(const std::string& text, const std::string& name) {
  DaemonConfig out;
  out.path = name;
  auto services = parse_services_yaml(text, name);
  ErrorList errors;
  if (!services.ok()) {
    if (services.error().causes.empty()) errors.add(services.error());
    for (const auto& c : services.error().causes) errors.add(c);
  } else {
    out.services = std::move(*services);
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception&) {
    return errors.to_error(name + ": errors");  // already reported by the services parser
  }
  Ctx ctx{name, {}};
  std::string base_dir = ".";
  if (auto slash = name.rfind('/'); slash != std::string::npos) base_dir = name.substr(0, slash);
  try {
    const YAML::Node& croot = root;
    YAML::Node dnode = croot.IsMap() ? croot["daemon"] : YAML::Node();
    if (dnode.IsDefined()) {
      DaemonSettings& d = out.daemon;
      MapReader m(dnode, "daemon", ctx);
      m.str("listen", d.listen);
      if (m.has("listen")) {
        auto colon = d.listen.rfind(':');
        auto port = colon == std::string::npos ? Result<uint64_t>(invalid_argument(""))
                                               : parse_u64(d.listen.substr(colon + 1));
        if (!port.ok() || *port > 65535 || colon == 0)
          ctx.error(m.get("listen"), m.field("listen"),
                    "expected HOST:PORT (e.g. 127.0.0.1:8470), got " + quote(d.listen));
      }
      m.str("token_file", d.token_file);
      m.seconds("tick_s", d.tick, 3600);
      m.seconds("scrape_timeout_s", d.scrape_timeout, 600);
      m.seconds("heartbeat_timeout_s", d.heartbeat_timeout, 86400);
      m.seconds("drain_timeout_s", d.drain_timeout, 86400);
      m.seconds("replace_before_s", d.replace_before, 7 * 86400);
      m.seconds("slurm_stale_s", d.slurm_stale, 86400);
      if (d.tick < std::chrono::milliseconds(100))
        ctx.error(m.get("tick_s"), m.field("tick_s"), "must be at least 0.1");
      m.str("slurm_conf", d.slurm_conf);
      std::string reads = "own";
      m.str("slurm_reads", reads);
      if (auto r = parse_slurm_reads(reads); r.ok())
        d.slurm_reads = *r;
      else
        ctx.error(m.get("slurm_reads"), m.field("slurm_reads"), r.error().message);
      YAML::Node wps = m.get("slurm_writes_per_s");
      if (wps.IsDefined()) {
        auto v = wps.IsScalar() ? parse_double(wps.Scalar()) : Result<double>(invalid_argument(""));
        if (!v.ok() || *v < 0 || *v > 10000)
          ctx.error(wps, m.field("slurm_writes_per_s"), "expected a number from 0 to 10000");
        else
          d.slurm_writes_per_s = *v;
      }
      m.str("topology_conf", d.topology_conf);
      YAML::Node routers = m.get("routers");
      if (routers.IsDefined()) {
        if (!routers.IsMap()) {
          ctx.error(routers, m.field("routers"),
                    "expected a mapping of service name to a list of hs-router URLs");
        } else {
          for (auto it = routers.begin(); it != routers.end(); ++it) {
            std::string svc = it->first.Scalar();
            std::string f = "daemon.routers." + svc;
            bool known = false;
            for (const auto& s : out.services.services) known |= s.name == svc;
            if (!known && services.ok()) ctx.error(it->first, f, "no service named " + quote(svc));
            YAML::Node list = it->second;
            if (!list.IsSequence()) {
              ctx.error(list, f, "expected a list of http://host:port URLs");
              continue;
            }
            for (size_t i = 0; i < list.size(); ++i) {
              std::string u = list[i].IsScalar() ? list[i].Scalar() : "";
              if (!http::parse_url(u).ok())
                ctx.error(list[i], f + "[" + std::to_string(i) + "]",
                          "expected http://host:port, got " + quote(u));
              else
                d.routers[svc].push_back(u);
            }
          }
        }
      }
      YAML::Node dry = m.get("dry_run");
      if (dry.IsDefined() && !(dry.IsScalar() && YAML::convert<bool>::decode(dry, d.dry_run)))
        ctx.error(dry, m.field("dry_run"), "expected true or false");
      YAML::Node tpl = m.get("templates");
      if (tpl.IsDefined()) {
        if (!tpl.IsMap()) {
          ctx.error(tpl, m.field("templates"), "expected a mapping of service name to template");
        } else {
          for (auto it = tpl.begin(); it != tpl.end(); ++it) {
            std::string svc = it->first.Scalar();
            std::string f = "daemon.templates." + svc;
            bool known = false;
            for (const auto& s : out.services.services) known |= s.name == svc;
            if (!known && services.ok()) ctx.error(it->first, f, "no service named " + quote(svc));
            read_template(it->second, f, d.templates[svc], ctx, base_dir);
          }
        }
      }
      m.finish();
    }
  } catch (const YAML::Exception& ex) {
    ctx.error(root, "daemon", std::string("unexpected YAML structure: ") + ex.what());
  }
  for (const auto& e : ctx.errors.errors()) errors.add(e);
  if (!errors.empty())
    return errors.to_error(name + ": " + std::to_string(errors.size()) + " errors");
  return out;
}

Result<DaemonConfig> load_daemon_config(const std::string& path) {
  auto text = read_file(path, 4 << 20);
  if (!text.ok()) return text.error();
  return parse_daemon_config(*text, path);
}

SubmitSpec template_submission(const ServiceConfig& svc, const ServiceTemplate& tpl,
                               const Variant& v, const std::string& group, Role role,
                               const std::string& constraint, uint32_t n) {
  SubmitSpec sp;
  sp.name = "hs-" + svc.name + "-" + std::string(to_string(role)) + "-" + group;
  sp.script = role == Role::kPrefill ? tpl.prefill_script_text : tpl.decode_script_text;
  sp.script_path = role == Role::kPrefill ? tpl.prefill_script : tpl.decode_script;
  sp.role = role;
  JobTag tag{svc.name, role, group, v.name, std::nullopt, std::nullopt};
  sp.comment = tag.to_string();
  sp.array = "0-" + std::to_string(tpl.array_size - 1) + "%" + std::to_string(n);
  sp.partition = tpl.partition;
  sp.qos = tpl.qos;
  sp.account = tpl.account;
  sp.reservation = tpl.reservation;
  sp.constraint = constraint;
  const std::string& gpu = role == Role::kPrefill ? v.prefill_gpu : v.decode_gpu;
  uint32_t gpus = role == Role::kPrefill ? v.prefill_gpus : v.decode_gpus;
  sp.tres_per_node = "gres:gpu:" + gpu + ":" + std::to_string(gpus);
  sp.work_dir = tpl.work_dir;
  sp.std_out = tpl.output;
  sp.time_limit_min = tpl.time_limit_min;
  if (tpl.stop_warning_s > 0) sp.signal = "B:USR1@" + std::to_string(tpl.stop_warning_s);
  sp.environment = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "HS_SERVICE=" + svc.name, "HS_ROLE=" + std::string(to_string(role)),
                    "HS_GROUP=" + group, "HS_VARIANT=" + v.name, "HS_GPU_TYPE=" + gpu,
                    // hs-launch takes the tensor-parallel size from the task's GPU count.
                    "HS_GPUS=" + std::to_string(gpus)};
  for (const auto& e : tpl.environment) sp.environment.push_back(e);
  return sp;
}

}  // namespace hs::scaler
