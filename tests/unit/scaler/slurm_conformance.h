// The SimSlurm conformance suite: one set of action sequences, each step with the snapshot it
// must lead to, run against any number of SlurmApi "sides" (SimSlurm in the unit tests; the
// real libslurm API on the loopback cluster and a SimSlurm of the same nodes in
// tests/integration/slurm_conformance_test.sh). Every side must reach every expected
// snapshot; a real side is given time to get there (it is polled, never slept on for a fixed
// time), a simulated one advances its own clock.
//
// Snapshots are normalised so that they do not depend on job ids: per array, its throttle,
// pending, running and ended indices (completing counts as ended) and, where a step asks, the
// pending reason; per node, GPUs in use and the drain flag.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "hs/scaler/slurm_api.h"

namespace hs::scaler::conformance {

// The nodes the suite expects (scripts/cluster.sh --nodes 4 --leaves 2): node1 h100 leaf1,
// node2 l40s leaf1, node3 h100 leaf2, node4 l40s leaf2, four GPUs each.
struct Side {
  std::string name;
  SlurmApi* api = nullptr;
  // An admin's `scontrol update NodeName=N State=DRAIN|RESUME`.
  std::function<Status(const std::string& node, bool drain)> set_drain;
  // Lets `seconds` pass (a real side sleeps, a simulated one advances its clock).
  std::function<void(double seconds)> pass;
  double deadline_s = 60;  // how long a step may take on this side to reach its snapshot
};

struct Outcome {
  std::vector<std::string> passed;
  std::vector<std::string> failed;  // "side: step: got ..., want ..."
};

// Runs every sequence on every side (all sides step together, so a failure names the step).
Outcome run(std::vector<Side>& sides);

}  // namespace hs::scaler::conformance
