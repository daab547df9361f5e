#include "hs/scaler/daemon_setup.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "hs/common/file.h"
#include "hs/common/text.h"
#include "hs/topo/topology_conf.h"

namespace hs::scaler {

Result<topo::Fabric> load_fabric(const DaemonConfig& c) {
  if (c.daemon.topology_conf.empty()) return topo::Fabric();
  return topo::load_topology_conf(c.daemon.topology_conf);
}

Result<std::string> load_token(const std::string& path) {
  if (path.empty()) return std::string();
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return not_found("cannot stat token file", path);
  if (st.st_mode & 0077)
    return permission_denied("token file must not be readable by group or others (chmod 600)",
                             path);
  auto t = read_file(path, 4096);
  if (!t.ok()) return t.error();
  std::string tok(trim(*t));
  if (tok.size() < 16) return invalid_argument("token must be at least 16 characters", path);
  return tok;
}

void sd_notify_state(const char* state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || (path[0] != '/' && path[0] != '@')) return;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t n = std::min(std::strlen(path), sizeof addr.sun_path - 1);
  std::memcpy(addr.sun_path, path, n);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  (void)sendto(fd, state, std::strlen(state), 0, reinterpret_cast<sockaddr*>(&addr),
               static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n));
  close(fd);
}

}  // namespace hs::scaler
