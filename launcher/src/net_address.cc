#include "hs/launcher/net_address.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "hs/common/text.h"
#include "hs/launcher/engine_version.h"

namespace hs::launcher {

namespace {

bool is_loopback(const std::string& a) { return starts_with(a, "127."); }

struct AddrInfoFree {
  void operator()(addrinfo* a) const { freeaddrinfo(a); }
};

}  // namespace

Result<std::vector<Interface>> ipv4_interfaces() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0)
    return unavailable(std::string("getifaddrs: ") + std::strerror(errno));
  std::unique_ptr<ifaddrs, decltype(&freeifaddrs)> guard(list, freeifaddrs);
  std::vector<Interface> out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    char buf[INET_ADDRSTRLEN] = {};
    auto* sin = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
    if (!inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf)) continue;
    Interface f;
    f.name = i->ifa_name ? i->ifa_name : "?";
    f.address = buf;
    f.loopback = (i->ifa_flags & IFF_LOOPBACK) != 0 || is_loopback(f.address);
    f.up = (i->ifa_flags & IFF_UP) != 0 && (i->ifa_flags & IFF_RUNNING) != 0;
    out.push_back(std::move(f));
  }
  return out;
}

Result<std::string> route_source(const std::string& peer) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(peer.c_str(), "9", &hints, &res); rc != 0)
    return unavailable(std::string("cannot resolve: ") + gai_strerror(rc), peer);
  std::unique_ptr<addrinfo, AddrInfoFree> guard(res);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return unavailable(std::string("socket: ") + std::strerror(errno));
  // connect() on a UDP socket only picks the route and source address; no packet leaves.
  int rc = connect(fd, res->ai_addr, res->ai_addrlen);
  sockaddr_in local{};
  socklen_t len = sizeof local;
  if (rc == 0) rc = getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  int err = errno;
  close(fd);
  if (rc != 0) return unavailable(std::string("no route: ") + std::strerror(err), peer);
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &local.sin_addr, buf, sizeof buf);
  return std::string(buf);
}

Result<std::string> pick_advertise_address(const std::string& explicit_address,
                                           const std::string& peer) {
  if (!explicit_address.empty()) {
    if (!is_ip_literal(explicit_address))
      return invalid_argument(
          "expected an IP address, not a host name, got " + quote(explicit_address), "--advertise");
    if (explicit_address == "0.0.0.0" || explicit_address == "::")
      return invalid_argument("0.0.0.0 is a bind address, not one peers can reach", "--advertise");
    return explicit_address;
  }
  auto ifs = ipv4_interfaces();
  if (!ifs.ok()) return ifs.error();
  const Interface* first_up = nullptr;
  for (const auto& f : *ifs)
    if (f.up && !f.loopback && !first_up) first_up = &f;
  if (!peer.empty()) {
    auto src = route_source(peer);
    if (src.ok() && (!is_loopback(*src) || !first_up)) return *src;
  }
  if (first_up) return first_up->address;
  std::string names;
  for (const auto& f : *ifs)
    names += (names.empty() ? "" : ", ") + f.name + "=" + f.address + (f.up ? "" : " (down)");
  return failed_precondition("no interface with an address other nodes can reach (found: " +
                                 (names.empty() ? std::string("none") : names) +
                                 "); give --advertise ADDRESS",
                             "--advertise");
}

}  // namespace hs::launcher
