#include "verbs_probe.h"

#include <infiniband/verbs.h>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>

namespace hs::topo::detail {

std::string port_state_name(int s) {
  switch (s) {
    case IBV_PORT_NOP:
      return "NOP";
    case IBV_PORT_DOWN:
      return "DOWN";
    case IBV_PORT_INIT:
      return "INIT";
    case IBV_PORT_ARMED:
      return "ARMED";
    case IBV_PORT_ACTIVE:
      return "ACTIVE";
    case IBV_PORT_ACTIVE_DEFER:
      return "ACTIVE_DEFER";
    default:
      return "UNKNOWN";
  }
}

std::string link_layer_name(int l) {
  switch (l) {
    case IBV_LINK_LAYER_INFINIBAND:
    case IBV_LINK_LAYER_UNSPECIFIED:  // verbs reports IB ports of old drivers this way
      return "InfiniBand";
    case IBV_LINK_LAYER_ETHERNET:
      return "Ethernet";
    default:
      return "UNKNOWN";
  }
}

// Nominal per-lane data rates (IBTA): SDR 2.5, DDR 5, QDR 10, FDR10 10, FDR 14, EDR 25,
// HDR 50, NDR 100, XDR 200 Gb/s.
double lane_gbps(int speed) {
  switch (speed) {
    case 1:
      return 2.5;
    case 2:
      return 5;
    case 4:
    case 8:
      return 10;
    case 16:
      return 14;
    case 32:
      return 25;
    case 64:
      return 50;
    case 128:
      return 100;
    case 256:
      return 200;
    default:
      return 0;
  }
}

int lanes(int width) {
  switch (width) {
    case 1:
      return 1;
    case 2:
      return 4;
    case 4:
      return 8;
    case 8:
      return 12;
    case 16:
      return 2;
    default:
      return 0;
  }
}

namespace {
struct DeviceListDeleter {
  void operator()(ibv_device** l) const { ibv_free_device_list(l); }
};
struct ContextDeleter {
  void operator()(ibv_context* c) const { ibv_close_device(c); }
};
}  // namespace

VerbsInventory probe_verbs() {
  VerbsInventory inv;
  int count = 0;
  errno = 0;
  std::unique_ptr<ibv_device*, DeviceListDeleter> list(ibv_get_device_list(&count));
  if (!list) {
    int err = errno;
    inv.note = std::string("no RDMA stack (ibv_get_device_list: ") +
               (err ? std::strerror(err) : "failed") + "): 0 NICs";
    return inv;
  }
  if (count == 0) {
    inv.note = "no RDMA devices (ibv_get_device_list lists none): 0 NICs";
    return inv;
  }
  for (int i = 0; i < count; ++i) {
    VerbsDevice d;
    d.name = ibv_get_device_name(list.get()[i]);
    std::unique_ptr<ibv_context, ContextDeleter> ctx(ibv_open_device(list.get()[i]));
    if (!ctx) {
      d.note = std::string("cannot open: ") + std::strerror(errno);
      inv.devices.push_back(std::move(d));
      continue;
    }
    ibv_device_attr attr;
    if (ibv_query_device(ctx.get(), &attr) != 0) {
      d.note = std::string("cannot query: ") + std::strerror(errno);
      inv.devices.push_back(std::move(d));
      continue;
    }
    for (uint8_t p = 1; p <= attr.phys_port_cnt; ++p) {
      ibv_port_attr pa;
      if (ibv_query_port(ctx.get(), p, &pa) != 0) continue;
      NicPort port;
      port.number = p;
      port.state = port_state_name(pa.state);
      port.link_layer = link_layer_name(pa.link_layer);
      port.rate_gbps = lanes(pa.active_width) * lane_gbps(pa.active_speed);
      d.ports.push_back(port);
    }
    inv.devices.push_back(std::move(d));
  }
  return inv;
}

}  // namespace hs::topo::detail
