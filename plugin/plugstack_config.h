// The plugin's settings, from plugstack.conf arguments only (never from the job's
// environment). Strict key=value: an unknown key or a bad value is an error naming the
// argument's position and key, as pyxis does.
//
//   optional /usr/lib/x86_64-linux-gnu/slurm-wlm/spank_heteroscale.so nic_vars=nccl,ucx
//
// The plugin touches only the tasks that ask (--hs-pin or --hs-role) unless default_pin
// says otherwise: on a shared cluster it must not re-pin every user's GPU jobs nor replace
// their NCCL_IB_HCA / UCX_NET_DEVICES.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "hs/common/error.h"
#include "hs/common/role.h"

namespace hs::plugin {

// How hard to pin (user option --hs-pin, default from plugstack default_pin).
enum class PinMode {
  kOff,     // do nothing
  kAuto,    // pin what can be pinned; on any problem log one line and run unpinned
  kStrict,  // pin everything or fail the task with a clear message
};
// The engine's role in P/D serving (user option --hs-role), exported as HS_ROLE.
using hs::parse_role;
using hs::Role;
using hs::to_string;

std::string_view to_string(PinMode m);
Result<PinMode> parse_pin_mode(std::string_view s);  // "auto" | "off" | "strict"
// plugstack's default_pin: "off" (only tasks that ask), "all" (= "auto": every GPU task),
// "strict" (every GPU task, strictly).
Result<PinMode> parse_default_pin(std::string_view s);

// What to do with NIC-selection variables the user already set.
enum class NicEnvPolicy { kOverwrite, kKeep };

struct PluginConfig {
  // topology_xml=PATH: read the node's topology from this hwloc export instead of the cache
  // or a live scan. "%n" is replaced by the Slurm node name (the fake nodes of a test
  // cluster share one host). Default: unset.
  std::string topology_xml;
  // topology_cache=PATH: where slurmd's plugin init writes this host's hwloc export and task
  // launches read it (root-owned, not writable by others, else ignored). It describes the
  // host's hardware, so one file per host is right even where several slurmd share a host
  // (they write the same content atomically); "%n" is allowed. Default
  // /run/heteroscale/topology.xml.
  std::string topology_cache = "/run/heteroscale/topology.xml";
  // gpu_map=PATH: "INDEX PCI_BUS_ID" lines mapping Slurm's GPU index (the /dev/nvidiaN minor,
  // gres.conf File= order) to the GPU's PCI address. "%n" as above. Default: unset, which
  // reads the NVIDIA driver's /proc/driver/nvidia/gpus/*/information ("Device Minor").
  std::string gpu_map;
  // default_pin=off|all|auto|strict: the pin mode of a task that gives neither --hs-pin nor
  // --hs-role. Default off: such tasks are not touched at all. A task with --hs-role and no
  // --hs-pin is pinned in auto mode.
  PinMode default_pin = PinMode::kOff;
  // nic_env=keep|overwrite: whether a user's own NCCL_IB_HCA / UCX_NET_DEVICES win. Default
  // keep (the user's choice wins; HS_* variables are always heteroscale's).
  NicEnvPolicy nic_env = NicEnvPolicy::kKeep;
  // nic_vars=LIST: which libraries' NIC variables to export: nccl (NCCL_IB_HCA), ucx
  // (UCX_NET_DEVICES), or none. Default nccl,ucx.
  bool export_nccl = true;
  bool export_ucx = true;
};

// Parses plugstack arguments (argv of the slurm_spank_* callbacks). Every bad argument is
// reported, each as "plugstack argument N (key): problem (got \"value\")".
Result<PluginConfig> parse_plugstack_args(const std::vector<std::string>& args);

// Replaces every "%n" in `path` with `node`.
std::string expand_node_name(std::string_view path, std::string_view node);

}  // namespace hs::plugin
