// A PCI function address, "dddd:bb:dd.f" (domain:bus:device.function).
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "hs/common/error.h"

namespace hs::topo {

struct PciAddress {
  uint32_t domain = 0;
  uint8_t bus = 0;
  uint8_t device = 0;
  uint8_t function = 0;

  // Lower-case, zero-padded: "0000:4e:00.0" (the form nvidia-smi and sysfs print, and the
  // form CUDA_DEVICE_ORDER=PCI_BUS_ID orders by).
  std::string to_string() const;
  // Accepts "dddd:bb:dd.f", "bb:dd.f" (domain 0) and NVIDIA's 8-digit domain
  // "00000000:4E:00.0"; hex digits in either case. Strict otherwise.
  static Result<PciAddress> parse(std::string_view text);

  friend auto operator<=>(const PciAddress&, const PciAddress&) = default;
};

}  // namespace hs::topo
