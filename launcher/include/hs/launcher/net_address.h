// Which address an instance tells the world. Binding and advertising are different things: an
// engine's HTTP server may bind 0.0.0.0, but the URL it registers and vLLM's NIXL side channel
// (VLLM_NIXL_SIDE_CHANNEL_HOST is both the ZMQ bind address and the remote_host the decode is
// given) must be an address peers on other nodes can reach: an IP, never a host name (libzmq
// 4.3.4 does not resolve names on bind, and /etc/hosts often maps the host name to 127.0.1.1)
// and never loopback while the node has another interface.
#pragma once

#include <string>
#include <vector>

#include "hs/common/error.h"

namespace hs::launcher {

struct Interface {
  std::string name;     // "eth0", "ib0", "lo"
  std::string address;  // IPv4 dotted
  bool loopback = false;
  bool up = false;
};

// The node's IPv4 interface addresses (getifaddrs).
Result<std::vector<Interface>> ipv4_interfaces();

// The source address the kernel would use to reach `peer` (an IP or a resolvable name), from
// a connected UDP socket: nothing is sent. Unavailable when there is no route.
Result<std::string> route_source(const std::string& peer);

// The address to advertise: `explicit_address` when given (it must be an IP literal); else the
// source address of the route to `peer` (the daemon or router host; may be empty) unless that
// is loopback while a non-loopback interface is up; else the first non-loopback interface
// that is up. FailedPrecondition naming every interface when none qualifies.
Result<std::string> pick_advertise_address(const std::string& explicit_address,
                                           const std::string& peer);

}  // namespace hs::launcher
