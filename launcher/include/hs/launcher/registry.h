// Registration of a running instance in the endpoints file hs-router reads (until the daemon's
// registration endpoint exists, the file is the registry). Every change is a locked
// read-modify-write (flock on FILE.lock, then an atomic rename), so instances starting and
// stopping together on shared storage do not lose each other's entries.
#pragma once

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
