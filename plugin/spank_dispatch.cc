// Every Slurm entry point of spank_heteroscale.so, and nothing else: each reads Slurm's data,
// calls plain C++ (task_launch.h, plugstack_config.h) and applies the result. Nothing throws
// out of here; nothing is exec'd; only the plugin's symbols are exported (spank_heteroscale.lds).
//
// Contexts (slurm-lab.md): srun = local, sbatch/salloc = allocator, slurmd start = slurmd,
// each step's slurmstepd = remote (task_init runs in the task, as the job's user, after
// Slurm has set its environment and just before exec).
extern "C" {
#include <slurm/slurm.h>
#include <slurm/spank.h>
}

#include <sched.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "apply_binding.h"
#include "plugstack_config.h"
#include "task_launch.h"

// spank.h's SPANK_PLUGIN() gives these internal linkage in C++; define them ourselves.
extern "C" {
extern const char plugin_name[] = "heteroscale";
extern const char plugin_type[] = "spank";
extern const unsigned int plugin_version = SLURM_VERSION_NUMBER;
extern const unsigned int spank_plugin_version = 0;
}

namespace {

using hs::plugin::PinMode;
using hs::plugin::PluginConfig;
using hs::plugin::Role;

// The plugin's one per-process context (allowed by the style guide): Slurm's option
// callbacks carry no user data pointer. Created in init, reset in exit.
struct Context {
  std::optional<PluginConfig> config;
  std::string config_error;  // set when the plugstack arguments are bad
  std::optional<Role> role;
  std::optional<PinMode> pin;
};

Context& ctx() {
  static Context c;
  return c;
}

std::vector<std::string> args_of(int ac, char** av) {
  std::vector<std::string> v;
  for (int i = 0; i < ac; ++i) v.emplace_back(av[i] ? av[i] : "");
  return v;
}

void parse_config(int ac, char** av) {
  auto c = hs::plugin::parse_plugstack_args(args_of(ac, av));
  if (c.ok()) {
    ctx().config = *c;
    ctx().config_error.clear();
  } else {
    ctx().config.reset();
    ctx().config_error = c.error().to_string();
    for (auto& ch : ctx().config_error)
      if (ch == '\n') ch = ';';
  }
}

int opt_role(int, const char* optarg, int) {
  auto r = hs::plugin::parse_role(optarg ? optarg : "");
  if (!r.ok()) {
    slurm_error("heteroscale: --hs-role: %s", r.error().message.c_str());
    return -1;
  }
  ctx().role = *r;
  return 0;
}

int opt_pin(int, const char* optarg, int) {
  auto m = hs::plugin::parse_pin_mode(optarg ? optarg : "");
  if (!m.ok()) {
    slurm_error("heteroscale: --hs-pin: %s", m.error().message.c_str());
    return -1;
  }
  ctx().pin = *m;
  return 0;
}

struct spank_option kOptions[] = {
    {const_cast<char*>("hs-role"), const_cast<char*>("prefill|decode|both"),
     const_cast<char*>(
         "heteroscale: role of this LLM engine in prefill/decode serving (exported as HS_ROLE)"),
     1, 0, opt_role},
    {const_cast<char*>("hs-pin"), const_cast<char*>("auto|off|strict"),
     const_cast<char*>("heteroscale: pin each task to the CPUs, NUMA node and NIC nearest its GPUs "
                       "(auto: best effort; strict: fail if impossible; off)"),
     1, 0, opt_pin},
    SPANK_OPTIONS_TABLE_END,
};

std::optional<std::string> job_getenv(spank_t sp, const char* name) {
  char buf[4096];
  if (spank_getenv(sp, name, buf, sizeof buf) != ESPANK_SUCCESS) return std::nullopt;
  return std::string(buf);
}

// The Slurm node name (fake nodes of a test cluster share one host, so the host name would be
// wrong):
//  - in a task, SLURMD_NODENAME of the task's environment: slurmstepd's setup_env() writes it
//    from slurmd's configuration before task_init, over anything the user exported (the
//    integration test exports a wrong one and checks it is ignored);
//  - slurmd, outside any job, was started with "-N name" when it is not the host's default
//    node;
//  - otherwise slurmd's node is the host's.
std::string node_name(spank_t sp = nullptr) {
  if (sp)
    if (auto n = job_getenv(sp, "SLURMD_NODENAME"); n && !n->empty()) return *n;
  if (FILE* f = std::fopen("/proc/self/cmdline", "re")) {
    std::vector<std::string> argv;
    std::string cur;
    for (int ch; (ch = std::fgetc(f)) != EOF;) {
      if (ch == 0) {
        argv.push_back(cur);
        cur.clear();
      } else {
        cur += static_cast<char>(ch);
      }
    }
    std::fclose(f);
    for (size_t i = 0; i < argv.size(); ++i) {
      if (argv[i] == "-N" && i + 1 < argv.size()) return argv[i + 1];
      if (argv[i].size() > 2 && argv[i].compare(0, 2, "-N") == 0) return argv[i].substr(2);
    }
  }
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::string h = host;
  return h.substr(0, h.find('.'));
}

int remote_task_init(spank_t sp) {
  Context& c = ctx();
  uint32_t job = 0, step = 0;
  int task = -1;
  spank_get_item(sp, S_JOB_ID, &job);
  spank_get_item(sp, S_JOB_STEPID, &step);
  spank_get_item(sp, S_TASK_GLOBAL_ID, &task);
  const std::string node = node_name(sp);
  std::string who =
      "job " + std::to_string(job) +
      (step == SLURM_BATCH_SCRIPT ? std::string(".batch") : "." + std::to_string(step)) + " task " +
      std::to_string(task) + " on " + node;
  if (!c.config) {
    // Bad plugstack arguments. slurm_error in a task reaches both the job's stderr and
    // slurmd's log, so the user and the admin both see which argument is wrong.
    slurm_error("heteroscale: %s: bad plugstack.conf arguments, task not started: %s", who.c_str(),
                c.config_error.c_str());
    return -1;
  }
  const PluginConfig& config = *c.config;
  // Only tasks that ask are touched unless plugstack's default_pin says every one is: a task
  // without --hs-pin or --hs-role runs exactly as without the plugin.
  if (!c.pin && !c.role && config.default_pin == PinMode::kOff) return 0;
  PinMode mode = c.pin ? *c.pin : c.role ? PinMode::kAuto : config.default_pin;

  hs::plugin::TaskFacts facts;
  facts.node_name = node;
  facts.batch_step = step == SLURM_BATCH_SCRIPT;
  facts.step_gpus = job_getenv(sp, "SLURM_STEP_GPUS");
  facts.job_gpus = job_getenv(sp, "SLURM_JOB_GPUS");
  auto allowed = hs::plugin::current_affinity();
  if (allowed.ok()) facts.allowed = *allowed;

  auto fail = [&](const std::string& msg) {
    slurm_error("heteroscale: %s: %s", who.c_str(), msg.c_str());
    return -1;
  };
  auto plan = hs::plugin::plan_task(config, facts, mode);
  if (!plan.ok()) return fail(plan.error().to_string());

  if (!plan->slurm_gpus.empty() && mode != PinMode::kOff) {
    if (!plan->cpus.empty()) {
      auto st = hs::plugin::set_affinity(plan->cpus);
      if (!st.ok()) {
        if (mode == PinMode::kStrict) return fail("cannot pin strictly: " + st.error().to_string());
        plan->problems.push_back(st.error().to_string());
        plan->cpus = hs::IdSet();
      }
    }
    auto st = hs::plugin::set_memory_policy(plan->mem, plan->numa_nodes);
    if (!st.ok()) {
      if (mode == PinMode::kStrict) return fail("cannot pin strictly: " + st.error().to_string());
      plan->problems.push_back(st.error().to_string());
      plan->mem = hs::plugin::MemPolicy::kNone;
    }
  }
  auto env = hs::plugin::plan_environment(
      *plan, c.role, config, [&](const char* name) { return job_getenv(sp, name).has_value(); });
  for (const auto& [k, v] : env) {
    if (spank_setenv(sp, k.c_str(), v.c_str(), 1) != ESPANK_SUCCESS)
      return fail("cannot set " + k + " in the task's environment");
  }
  if (!plan->slurm_gpus.empty() || c.role) {
    std::string role = c.role ? std::string(hs::plugin::to_string(*c.role)) : "-";
    std::string line = "heteroscale: " + who + ": role " + role + " pin " +
                       std::string(hs::plugin::to_string(mode)) + ": " +
                       hs::plugin::describe(*plan);
    // auto mode is best effort by contract: its trouble is logged (slurmd's log), not put in
    // the job's stderr.
    if (plan->problems.empty() || mode == PinMode::kOff)
      slurm_info("%s", line.c_str());
    else
      slurm_info("%s (running unpinned where it could not pin)", line.c_str());
  }
  return 0;
}

}  // namespace

extern "C" {

int slurm_spank_init(spank_t sp, int ac, char** av) {
  try {
    parse_config(ac, av);
    for (auto& o : kOptions) {
      if (!o.name) break;
      if (spank_option_register(sp, &o) != ESPANK_SUCCESS) {
        slurm_error("heteroscale: cannot register option --%s", o.name);
        return -1;
      }
    }
    switch (spank_context()) {
      case S_CTX_LOCAL:
      case S_CTX_ALLOCATOR:
        if (!ctx().config) {
          slurm_error("heteroscale: bad plugstack.conf arguments: %s", ctx().config_error.c_str());
          return -1;
        }
        return 0;
      case S_CTX_SLURMD: {
        // Never take slurmd down: report and carry on; steps will refuse to start with the
        // same message until the arguments are fixed.
        if (!ctx().config) {
          slurm_error("heteroscale: bad plugstack.conf arguments (new job steps will fail): %s",
                      ctx().config_error.c_str());
          return 0;
        }
        if (ctx().config->topology_xml.empty()) {
          const std::string node = node_name();
          auto st = hs::plugin::write_topology_cache(*ctx().config, node);
          if (st.ok())
            slurm_info("heteroscale: wrote topology cache %s",
                       hs::plugin::expand_node_name(ctx().config->topology_cache, node).c_str());
          else
            slurm_error("heteroscale: cannot write topology cache (tasks will scan live): %s",
                        st.error().to_string().c_str());
        }
        return 0;
      }
      default:
        return 0;  // remote: a bad config is reported per task, in the job's own stderr
    }
  } catch (...) {
    slurm_error("heteroscale: internal error in init");
    return spank_context() == S_CTX_SLURMD ? 0 : -1;
  }
}

int slurm_spank_task_init(spank_t sp, int, char**) {
  try {
    return remote_task_init(sp);
  } catch (const std::exception& e) {
    slurm_error("heteroscale: internal error at task launch: %s", e.what());
    return -1;
  } catch (...) {
    slurm_error("heteroscale: internal error at task launch");
    return -1;
  }
}

int slurm_spank_exit(spank_t, int, char**) {
  ctx() = Context();
  return 0;
}

}  // extern "C"
