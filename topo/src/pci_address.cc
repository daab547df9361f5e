#include "hs/topo/pci_address.h"

#include <cstdint>
#include <cstdio>

#include "hs/common/text.h"

namespace hs::topo {

std::string PciAddress::to_string() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", domain, bus, device, function);
  return buf;
}

Result<PciAddress> PciAddress::parse(std::string_view text) {
  auto bad = [&](const char* why) {
    return invalid_argument(std::string("bad PCI address ") + quote(text) + ": " + why +
                            " (expected dddd:bb:dd.f)");
  };
  auto parts = split(text, ':');
  if (parts.size() != 2 && parts.size() != 3) return bad("wrong number of ':'");
  std::string_view dom = parts.size() == 3 ? parts[0] : std::string_view("0");
  std::string_view bus = parts[parts.size() - 2];
  std::string_view devfn = parts.back();
  auto dot = devfn.find('.');
  if (dot == std::string_view::npos) return bad("missing '.function'");
  std::string_view dev = devfn.substr(0, dot), fn = devfn.substr(dot + 1);
  if (dom.empty() || dom.size() > 8 || bus.size() != 2 || dev.size() != 2 || fn.size() != 1)
    return bad("wrong field width");
  if (starts_with(dom, "0x") || starts_with(dom, "0X")) return bad("unexpected 0x");
  auto d = parse_hex_u64(dom), b = parse_hex_u64(bus), v = parse_hex_u64(dev),
       f = parse_hex_u64(fn);
  if (!d.ok() || !b.ok() || !v.ok() || !f.ok()) return bad("not hexadecimal");
  if (*d > 0xffff || *v > 0x1f || *f > 7) return bad("field out of range");
  PciAddress a;
  a.domain = static_cast<uint32_t>(*d);
  a.bus = static_cast<uint8_t>(*b);
  a.device = static_cast<uint8_t>(*v);
  a.function = static_cast<uint8_t>(*f);
  return a;
}

}  // namespace hs::topo
