#include "plugstack_config.h"

#include <algorithm>

#include "hs/common/text.h"

namespace hs::plugin {

std::string_view to_string(PinMode m) {
  switch (m) {
    case PinMode::kOff:
      return "off";
    case PinMode::kAuto:
      return "auto";
    case PinMode::kStrict:
      return "strict";
  }
  return "auto";
}

Result<PinMode> parse_pin_mode(std::string_view s) {
  if (s == "auto") return PinMode::kAuto;
  if (s == "off") return PinMode::kOff;
  if (s == "strict") return PinMode::kStrict;
  return invalid_argument("expected auto, off or strict, got " + quote(s));
}

Result<PinMode> parse_default_pin(std::string_view s) {
  if (s == "all") return PinMode::kAuto;
  auto m = parse_pin_mode(s);
  if (!m.ok()) return invalid_argument("expected off, all, auto or strict");
  return m;
}

Result<PluginConfig> parse_plugstack_args(const std::vector<std::string>& args) {
  PluginConfig c;
  ErrorList errors;
  std::vector<std::string> seen;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string where = "plugstack argument " + std::to_string(i + 1);
    size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      errors.add(invalid_argument("expected key=value, got " + quote(a), where));
      continue;
    }
    std::string key = a.substr(0, eq);
    std::string value = a.substr(eq + 1);
    where += " (" + key + ")";
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      errors.add(invalid_argument("given twice", where));
      continue;
    }
    seen.push_back(key);
    auto bad = [&](const std::string& why) {
      errors.add(invalid_argument(why + " (got " + quote(value) + ")", where));
    };
    if (key == "topology_xml" || key == "topology_cache" || key == "gpu_map") {
      if (value.empty() || value[0] != '/' || value.size() > 4000) {
        bad("must be an absolute path");
        continue;
      }
      (key == "topology_xml"     ? c.topology_xml
       : key == "topology_cache" ? c.topology_cache
                                 : c.gpu_map) = value;
    } else if (key == "default_pin") {
      auto m = parse_default_pin(value);
      if (!m.ok())
        bad(m.error().message);
      else
        c.default_pin = *m;
    } else if (key == "nic_env") {
      if (value == "overwrite")
        c.nic_env = NicEnvPolicy::kOverwrite;
      else if (value == "keep")
        c.nic_env = NicEnvPolicy::kKeep;
      else
        bad("expected overwrite or keep");
    } else if (key == "nic_vars") {
      c.export_nccl = c.export_ucx = false;
      bool ok = !value.empty();
      for (std::string_view v : split(value, ',')) {
        if (v == "nccl")
          c.export_nccl = true;
        else if (v == "ucx")
          c.export_ucx = true;
        else if (v == "none" && value == "none")
          continue;
        else
          ok = false;
      }
      if (!ok) bad("expected a comma list of nccl and ucx, or none");
    } else {
      errors.add(
          invalid_argument("unknown key (known: topology_xml, topology_cache, gpu_map, "
                           "default_pin, nic_env, nic_vars)",
                           where));
    }
  }
  if (!errors.empty())
    return errors.to_error(std::to_string(errors.size()) + " bad plugstack arguments");
  return c;
}

std::string expand_node_name(std::string_view path, std::string_view node) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%' && i + 1 < path.size() && path[i + 1] == 'n') {
      out += node;
      ++i;
    } else {
      out += path[i];
    }
  }
  return out;
}

}  // namespace hs::plugin
