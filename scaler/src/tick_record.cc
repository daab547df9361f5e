// The tick record's JSON (tick_record.h). Doubles: NaN as null, infinities as "inf"/"-inf"
// (a histogram's last bound), so every value survives the round trip exactly.
#include "hs/scaler/tick_record.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "hs/common/endpoint_set.h"
#include "hs/common/file.h"
#include "hs/common/text.h"

namespace hs::scaler {
namespace {

using json = nlohmann::json;

json num(double v) {
  if (std::isnan(v)) return nullptr;
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}
double num_of(const json& j) {
  if (j.is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (j.is_string()) {
    if (j == "inf") return std::numeric_limits<double>::infinity();
    if (j == "-inf") return -std::numeric_limits<double>::infinity();
    throw json::type_error::create(302, "a number, null, \"inf\" or \"-inf\"", &j);
  }
  return j.get<double>();
}
json nums(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(num(x));
  return a;
}
std::vector<double> nums_of(const json& j) {
  std::vector<double> v;
  for (const auto& x : j) v.push_back(num_of(x));
  return v;
}
int64_t ns(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint at_ns(const json& j) { return TimePoint{Duration{j.get<int64_t>()}}; }

json hist(const Histogram& h) {
  return {{"b", nums(h.upper_bounds)},
          {"c", nums(h.cumulative)},
          {"n", num(h.count)},
          {"s", num(h.sum)}};
}
Histogram hist_of(const json& j) {
  return {nums_of(j.at("b")), nums_of(j.at("c")), num_of(j.at("n")), num_of(j.at("s"))};
}

json job(const SlurmJob& x) {
  json j = {{"id", x.job_id},
            {"array", x.array_job_id},
            {"pending", x.pending_tasks},
            {"max", x.array_max_tasks},
            {"state", static_cast<int>(x.state)},
            {"reason", x.state_reason},
            {"comment", x.comment},
            {"name", x.name},
            {"nodes", x.nodes},
            {"features", x.features},
            {"partition", x.partition},
            {"user", x.user_id},
            {"submit", x.submit_time},
            {"start", x.start_time},
            {"end", x.end_time},
            {"tres", x.tres_per_node}};
  j["task"] = x.array_task_id ? json(*x.array_task_id) : json(nullptr);
  return j;
}
SlurmJob job_of(const json& j) {
  SlurmJob x;
  x.job_id = j.at("id");
  x.array_job_id = j.at("array");
  if (!j.at("task").is_null()) x.array_task_id = j.at("task").get<uint32_t>();
  x.pending_tasks = j.at("pending");
  x.array_max_tasks = j.at("max");
  int st = j.at("state");
  if (st < 0 || st > static_cast<int>(JobState::kFinished))
    throw json::out_of_range::create(401, "state " + std::to_string(st), &j);
  x.state = static_cast<JobState>(st);
  x.state_reason = j.at("reason");
  x.comment = j.at("comment");
  x.name = j.at("name");
  x.nodes = j.at("nodes");
  x.features = j.at("features");
  x.partition = j.at("partition");
  x.user_id = j.at("user");
  x.submit_time = j.at("submit");
  x.start_time = j.at("start");
  x.end_time = j.at("end");
  x.tres_per_node = j.at("tres");
  return x;
}

json node(const SlurmNode& x) {
  return {{"name", x.name},         {"state", x.state},       {"drain", x.drain},
          {"nr", x.not_responding}, {"fail", x.fail},         {"gres", x.gres},
          {"used", x.gres_used},    {"features", x.features}, {"reason", x.reason}};
}
SlurmNode node_of(const json& j) {
  return {j.at("name"), j.at("state"), j.at("drain"),    j.at("nr"),    j.at("fail"),
          j.at("gres"), j.at("used"),  j.at("features"), j.at("reason")};
}

Role role_of(const json& j) {
  int r = j.get<int>();
  if (r != static_cast<int>(Role::kPrefill) && r != static_cast<int>(Role::kDecode))
    throw json::out_of_range::create(401, "role " + std::to_string(r), &j);
  return static_cast<Role>(r);
}

// hs-launch's registration body (common/endpoint_set.h, the one contract) and what the daemon
// adds to it.
json reg(const Registration& r) {
  endpoint_set::RegistrationBody b{r.url,    r.role,          r.service, r.group,
                                   r.job_id, r.array_task_id, r.gpu_type};
  return {{"body", json::parse(endpoint_set::to_json(b))},
          {"stopping", r.self_draining},
          {"registered", ns(r.registered)},
          {"heartbeat", ns(r.last_heartbeat)}};
}
Registration reg_of(const json& j) {
  auto b = endpoint_set::parse_registration(j.at("body").dump());
  if (!b.ok()) throw json::other_error::create(501, "registration: " + b.error().to_string(), &j);
  Registration r = registration_from(*b, TimePoint{});
  r.self_draining = j.at("stopping");
  r.registered = at_ns(j.at("registered"));
  r.last_heartbeat = at_ns(j.at("heartbeat"));
  return r;
}

json sample(const InstanceSample& s) {
  return json::array({ns(s.t), num(s.generation_tokens), num(s.prompt_tokens),
                      num(s.prompt_tokens_cached), num(s.waiting), num(s.running), num(s.gpu_util),
                      num(s.kv_usage), s.kv_held});
}
InstanceSample sample_of(const json& j) {
  InstanceSample s;
  s.t = at_ns(j.at(0));
  s.generation_tokens = num_of(j.at(1));
  s.prompt_tokens = num_of(j.at(2));
  s.prompt_tokens_cached = num_of(j.at(3));
  s.waiting = num_of(j.at(4));
  s.running = num_of(j.at(5));
  s.gpu_util = num_of(j.at(6));
  s.kv_usage = num_of(j.at(7));
  s.kv_held = j.at(8);
  return s;
}

json metrics(const ServiceMetrics& m) {
  json inst = json::array(), groups = json::array();
  for (const auto& s : m.window.instances) {
    json samples = json::array();
    for (const auto& x : s.samples) samples.push_back(sample(x));
    inst.push_back({{"id", s.id},
                    {"role", static_cast<int>(s.role)},
                    {"group", s.group},
                    {"target", num(s.decode_tps_target)},
                    {"samples", samples}});
  }
  for (const auto& g : m.window.groups) {
    json samples = json::array();
    for (const auto& x : g.samples) samples.push_back({ns(x.t), hist(x.ttft), hist(x.tbt)});
    groups.push_back({{"group", g.group}, {"samples", samples}});
  }
  json offered = json::array();
  for (const auto& o : m.window.offered) {
    json samples = json::array();
    for (const auto& x : o.samples)
      samples.push_back({ns(x.t), num(x.requests), num(x.prompt_tokens), num(x.decode_tokens),
                         num(x.backlog_prompt_tokens), num(x.backlog_requests)});
    offered.push_back({{"source", o.source}, {"samples", samples}});
  }
  json out = json::object(), in = json::object();
  for (const auto& [u, v] : m.router_outstanding) out[u] = num(v);
  for (const auto& [u, v] : m.engine_in_flight) in[u] = num(v);
  return {{"instances", inst},         {"groups", groups},       {"offered", offered},
          {"router_outstanding", out}, {"engine_in_flight", in}, {"router_known", m.router_known}};
}
ServiceMetrics metrics_of(const json& j) {
  ServiceMetrics m;
  for (const auto& s : j.at("instances")) {
    InstanceSeries x;
    x.id = s.at("id");
    x.role = role_of(s.at("role"));
    x.group = s.at("group");
    x.decode_tps_target = num_of(s.at("target"));
    for (const auto& v : s.at("samples")) x.samples.push_back(sample_of(v));
    m.window.instances.push_back(std::move(x));
  }
  for (const auto& g : j.at("groups")) {
    GroupSeries x;
    x.group = g.at("group");
    for (const auto& v : g.at("samples"))
      x.samples.push_back({at_ns(v.at(0)), hist_of(v.at(1)), hist_of(v.at(2))});
    m.window.groups.push_back(std::move(x));
  }
  // Recordings from before the routers' offered load have none.
  if (j.contains("offered"))
    for (const auto& o : j.at("offered")) {
      OfferedSeries x;
      x.source = o.at("source");
      for (const auto& v : o.at("samples"))
        x.samples.push_back({at_ns(v.at(0)), num_of(v.at(1)), num_of(v.at(2)), num_of(v.at(3)),
                             num_of(v.at(4)), num_of(v.at(5))});
      m.window.offered.push_back(std::move(x));
    }
  for (const auto& [u, v] : j.at("router_outstanding").items()) m.router_outstanding[u] = num_of(v);
  for (const auto& [u, v] : j.at("engine_in_flight").items()) m.engine_in_flight[u] = num_of(v);
  m.router_known = j.at("router_known");
  return m;
}

// One tick as a line, from references: the daemon's tick copies nothing to record it.
std::string tick_json(const SlurmSnapshot* slurm, const std::vector<Registration>& regs,
                      const std::map<std::string, ServiceMetrics>& metrics_by_service,
                      TimePoint now, int64_t wall_unix_s, bool paused,
                      const std::vector<std::string>& actions) {
  json j;
  j["slurm"] = nullptr;
  if (slurm) {
    json jobs = json::array(), nodes = json::array();
    for (const auto& x : slurm->jobs) jobs.push_back(job(x));
    for (const auto& x : slurm->nodes) nodes.push_back(node(x));
    j["slurm"] = {{"seq", slurm->seq},
                  {"jobs", jobs},
                  {"nodes", nodes},
                  {"read_at", ns(slurm->read_at)},
                  {"read_at_unix", slurm->read_at_unix_s}};
  }
  json rs = json::array(), ms = json::object();
  for (const auto& r : regs) rs.push_back(reg(r));
  for (const auto& [svc, m] : metrics_by_service) ms[svc] = metrics(m);
  j["regs"] = rs;
  j["metrics"] = ms;
  j["now"] = ns(now);
  j["wall"] = wall_unix_s;
  j["paused"] = paused;
  j["actions"] = actions;
  return j.dump();
}

}  // namespace

std::string tick_to_json(const TickInputs& t) {
  return tick_json(t.slurm ? &*t.slurm : nullptr, t.regs, t.metrics, t.now, t.wall_unix_s, t.paused,
                   t.actions);
}

Result<TickInputs> tick_from_json(const std::string& line, const std::string& where) {
  try {
    json j = json::parse(line);
    TickInputs t;
    if (!j.at("slurm").is_null()) {
      const json& s = j.at("slurm");
      SlurmSnapshot x;
      x.seq = s.at("seq");
      for (const auto& v : s.at("jobs")) x.jobs.push_back(job_of(v));
      for (const auto& v : s.at("nodes")) x.nodes.push_back(node_of(v));
      x.view = build_view(x.jobs);
      x.read_at = at_ns(s.at("read_at"));
      x.read_at_unix_s = s.at("read_at_unix");
      t.slurm = std::move(x);
    }
    for (const auto& v : j.at("regs")) t.regs.push_back(reg_of(v));
    for (const auto& [svc, v] : j.at("metrics").items()) t.metrics[svc] = metrics_of(v);
    t.now = at_ns(j.at("now"));
    t.wall_unix_s = j.at("wall");
    t.paused = j.at("paused");
    t.actions = j.at("actions").get<std::vector<std::string>>();
    return t;
  } catch (const json::exception& e) {
    return invalid_argument(std::string("tick record: ") + e.what(), where);
  }
}

Result<std::unique_ptr<TickRecorder>> TickRecorder::open(const std::string& dir,
                                                         const std::string& config_path,
                                                         bool dry_run, TimePoint started) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return unavailable(std::string("cannot create the record directory: ") + std::strerror(errno),
                       dir);
  auto text = read_file(config_path, 4 << 20);
  if (!text.ok()) return text.error();
  std::ofstream h(dir + "/header.json", std::ios::trunc);
  h << json{{"format", 1},
            {"config_path", config_path},
            {"config_text", *text},
            {"dry_run", dry_run},
            {"started_ns", ns(started)}}
           .dump(2)
    << "\n";
  if (!h) return unavailable("cannot write header.json", dir);
  auto r = std::make_unique<TickRecorder>();
  r->out_.open(dir + "/ticks.jsonl", std::ios::trunc);
  if (!r->out_) return unavailable("cannot write ticks.jsonl", dir);
  return r;
}

void TickRecorder::write(const SlurmSnapshot* slurm, const std::vector<Registration>& regs,
                         const std::map<std::string, ServiceMetrics>& metrics, TimePoint now,
                         int64_t wall_unix_s, bool paused, const std::vector<Action>& actions) {
  std::vector<std::string> described;
  for (const auto& a : actions) described.push_back(a.describe());
  out_ << tick_json(slurm, regs, metrics, now, wall_unix_s, paused, described) << "\n";
  out_.flush();
}

Result<Recording> load_recording(const std::string& dir) {
  Recording rec;
  auto head = read_file(dir + "/header.json", 8 << 20);
  if (!head.ok()) return head.error();
  try {
    json h = json::parse(*head);
    if (h.at("format") != 1) return invalid_argument("format: not 1", dir + "/header.json");
    rec.header.config_path = h.at("config_path");
    rec.header.config_text = h.at("config_text");
    rec.header.dry_run = h.at("dry_run");
    rec.header.started = at_ns(h.at("started_ns"));
  } catch (const json::exception& e) {
    return invalid_argument(e.what(), dir + "/header.json");
  }
  auto body = read_file(dir + "/ticks.jsonl", size_t{1} << 31);
  if (!body.ok()) return body.error();
  const std::string& text = *body;
  size_t line = 0;
  for (auto l : split(text, '\n')) {
    ++line;
    if (trim(l).empty()) continue;
    auto t = tick_from_json(std::string(l), dir + "/ticks.jsonl:" + std::to_string(line));
    if (!t.ok()) return t.error();
    rec.ticks.push_back(std::move(*t));
  }
  return rec;
}

}  // namespace hs::scaler
