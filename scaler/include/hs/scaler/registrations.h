// Instances as hs-launch reports them (register, heartbeat, deregister), and the endpoint
// set the routers follow, derived from them and from Slurm. Slurm wins: a registered
// instance whose task is not RUNNING is not served. Registrations live only in memory: after
// a daemon restart hs-launch's next heartbeat is answered 404 and it registers again.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "hs/common/clock.h"
#include "hs/common/endpoint_set.h"
#include "hs/common/error.h"
#include "hs/common/role.h"
#include "hs/scaler/pools.h"

namespace hs::scaler {

struct Registration {
  std::string url, service, group, gpu_type;
  Role role = Role::kDecode;
  std::string job_id, array_task_id;  // Slurm's SLURM_ARRAY_JOB_ID / SLURM_ARRAY_TASK_ID
  bool self_draining = false;         // hs-launch is stopping (SIGTERM)
  TimePoint registered, last_heartbeat;
  std::string id() const { return job_id + "_" + array_task_id; }
};

// A registration from the body hs-launch posted (common/endpoint_set.h, the one contract),
// registered and last heard from at `at`.
Registration registration_from(const endpoint_set::RegistrationBody& b, TimePoint at);

// Thread-safe; HTTP handlers write, the tick reads a copy.
class Registrations {
 public:
  // From the JSON body hs-launch posts; InvalidArgument naming the field.
  Status upsert_json(const std::string& body, TimePoint now);
  Status heartbeat(const std::string& url, TimePoint now);  // NotFound: register again
  Status self_draining(const std::string& url);
  Status remove(const std::string& url);
  std::vector<Registration> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, Registration> by_url_;
};

struct ServedEndpoint {
  std::string url, service, group, gpu_type, id;
  Role role = Role::kDecode;
  bool draining = false;
};

// Per service, per group: the P:D the router's ready-ratio gate holds, as prefill and decode
// instances per unit (the group's variant's ratio, or the ratio band's current prefill per
// unit; hs/scaler/ratio_band.h).
using GroupRatios = std::map<std::string, std::map<std::string, std::pair<double, double>>>;

struct EndpointInputs {
  const std::vector<Registration>* registrations = nullptr;
  const ClusterView* view = nullptr;   // null: Slurm not read yet (then registrations alone)
  GroupRatios ratios;                  // missing: 1:1
  std::set<std::string> draining_ids;  // tasks the daemon is draining
  std::set<std::string> published;     // URLs in the previous set (never removed for ratio)
  TimePoint now;
  Duration heartbeat_timeout = std::chrono::seconds(30);
};

// Ready instances: registered, heartbeat fresh, task RUNNING in Slurm (when known). New
// instances of a group enter only while their role is not more than one ratio unit ahead of
// the other role's; the first of each role always enters; published ones stay.
std::vector<ServedEndpoint> served_endpoints(const EndpointInputs& in);

// The router's endpoints JSON (router/endpoints.h's format), for one service or all ("").
std::string endpoints_json(const std::vector<ServedEndpoint>& eps, const std::string& service);

}  // namespace hs::scaler
