#include "gpu_map.h"

#include <dirent.h>

#include <cstdint>
#include <memory>

#include "hs/common/file.h"
#include "hs/common/text.h"

namespace hs::plugin {

Result<GpuMap> parse_gpu_map(const std::string& text, const std::string& name) {
  GpuMap m;
  ErrorList errors;
  size_t lineno = 0;
  for (std::string_view raw : split(text, '\n')) {
    ++lineno;
    std::string_view l = raw;
    if (auto h = l.find('#'); h != std::string_view::npos) l = l.substr(0, h);
    l = trim(l);
    if (l.empty()) continue;
    std::string where = name + ":" + std::to_string(lineno);
    auto toks = split_whitespace(l);
    if (toks.size() != 2) {
      errors.add(invalid_argument("expected \"INDEX PCI_BUS_ID\", got " + quote(l), where));
      continue;
    }
    auto idx = parse_u64(toks[0]);
    auto pci = topo::PciAddress::parse(toks[1]);
    if (!idx.ok() || *idx > 1023) {
      errors.add(invalid_argument("bad GPU index " + quote(toks[0]), where));
      continue;
    }
    if (!pci.ok()) {
      errors.add(invalid_argument(pci.error().message, where));
      continue;
    }
    if (!m.emplace(static_cast<uint32_t>(*idx), *pci).second)
      errors.add(invalid_argument("GPU index " + std::string(toks[0]) + " mapped twice", where));
  }
  if (!errors.empty())
    return errors.to_error(name + ": " + std::to_string(errors.size()) + " errors");
  return m;
}

Result<GpuMap> load_gpu_map(const std::string& path) {
  auto text = read_file(path, 1 << 20);
  if (!text.ok()) return text.error();
  return parse_gpu_map(*text, path);
}

Result<GpuMap> read_nvidia_proc(const std::string& root) {
  struct DirCloser {
    void operator()(DIR* d) const { closedir(d); }
  };
  std::unique_ptr<DIR, DirCloser> dir(opendir(root.c_str()));
  if (!dir) return not_found("no NVIDIA driver information (cannot open directory)", root);
  GpuMap m;
  while (dirent* e = readdir(dir.get())) {
    std::string bus = e->d_name;
    if (bus == "." || bus == "..") continue;
    auto pci = topo::PciAddress::parse(bus);
    if (!pci.ok()) continue;
    auto info = read_file(root + "/" + bus + "/information", 1 << 16);
    if (!info.ok()) return info.error();
    for (std::string_view line : split(*info, '\n')) {
      if (!starts_with(line, "Device Minor:")) continue;
      auto minor = parse_u64(trim(line.substr(13)));
      if (!minor.ok())
        return invalid_argument("bad Device Minor line " + quote(line),
                                root + "/" + bus + "/information");
      m[static_cast<uint32_t>(*minor)] = *pci;
    }
  }
  return m;
}

}  // namespace hs::plugin
