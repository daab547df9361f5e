// Registration of a running instance in the endpoints file hs-router reads (until the daemon's
// registration endpoint exists, the file is the registry). Every change is a locked
// read-modify-write (flock on FILE.lock, then an atomic rename), so instances starting and
// stopping together on shared storage do not lose each other's entries.
#pragma once

#include <memory>
#include <string>

#include "hs/common/error.h"

namespace hs::launcher {

struct Registration {
  std::string url, role, group;
  std::string service, gpu_type, job_id, array_task_id;  // for admins and the daemon
};

Status register_instance(const std::string& file,
                         const Registration& r);  // adds or replaces by url
Status set_draining(const std::string& file, const std::string& url);
Status heartbeat(const std::string& file, const std::string& url, double unix_seconds);
Status deregister_instance(const std::string& file, const std::string& url);

}  // namespace hs::launcher

namespace hs::launcher {

// Where hs-launch registers: the endpoints file above, or heteroscaled's API
// (POST /hs/register, /hs/heartbeat, /hs/draining, /hs/deregister). A heartbeat the daemon
// does not know (it restarted) registers again, so the daemon rebuilds its registrations.
class Registry {
 public:
  virtual ~Registry() = default;
  virtual Status add(const Registration& r) = 0;
  virtual Status heartbeat(const std::string& url, double unix_seconds) = 0;
  virtual Status draining(const std::string& url) = 0;
  virtual Status remove(const std::string& url) = 0;
};
std::unique_ptr<Registry> file_registry(const std::string& path);
// `base_url`: "http://host:port"; `token`: sent as a bearer token when not empty.
std::unique_ptr<Registry> scaler_registry(const std::string& base_url, const std::string& token);

}  // namespace hs::launcher
