// hs-slurm-conformance: the conformance sequences against the real libslurm API (the cluster
// $SLURM_CONF names, which must be scripts/cluster.sh --nodes 4 --leaves 2) and, step for
// step, against a SimSlurm of the same nodes. Prints one line per step and side; exits 1 on
// any failure. Run by tests/integration/slurm_conformance_test.sh.
#include <chrono>
#include <cstdio>
#include <thread>

#include "hs/common/subprocess.h"
#include "hs/scaler/sim_slurm.h"
#include "slurm_conformance.h"

namespace {

// scontrol update NodeName=N State=DRAIN|RESUME, argv without a shell.
hs::Status scontrol_drain(const std::string& node, bool drain) {
  std::vector<std::string> args = {"scontrol", "update", "NodeName=" + node,
                                   drain ? "State=DRAIN" : "State=RESUME"};
  if (drain) args.push_back("Reason=conformance");
  auto r = hs::run_command(args, std::chrono::seconds(30));
  if (!r.ok()) return r.error();
  if (r->exit_code != 0)
    return hs::failed_precondition("scontrol update NodeName=" + node + ": " + r->err);
  return {};
}

}  // namespace

// hs-slurm-conformance submit TEMPLATE NAME ARRAY COMMENT GRES CONSTRAINT: one submission
// through the daemon's path (sbatch with the daemon's options); prints the array's id.
int submit_one(char** argv) {
  using namespace hs::scaler;
  auto real = make_libslurm_api("");
  SubmitSpec s;
  s.script_path = argv[2];
  s.name = argv[3];
  s.array = argv[4];
  s.comment = argv[5];
  s.tres_per_node = std::string("gres:") + argv[6];
  s.constraint = argv[7];
  s.work_dir = "/tmp";
  s.std_out = "/dev/null";
  s.environment = {"HS_SERVICE=chat", "HS_NOTE=a,b"};
  auto id = real->submit(s);
  if (!id.ok()) {
    std::fprintf(stderr, "%s\n", id.error().to_string().c_str());
    return 1;
  }
  std::printf("%u\n", *id);
  return 0;
}

int main(int argc, char** argv) {
  using namespace hs::scaler;
  if (argc == 8 && std::string(argv[1]) == "submit") return submit_one(argv);
  auto real = make_libslurm_api("");
  auto nodes = real->load_nodes();
  if (!nodes.ok()) {
    std::fprintf(stderr, "hs-slurm-conformance: %s\n", nodes.error().to_string().c_str());
    return 2;
  }
  auto wall = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  SimSlurm sim(SimSlurm::nodes_like(*nodes), wall());
  std::vector<conformance::Side> sides(2);
  sides[0].name = "slurm";
  sides[0].api = real.get();
  sides[0].set_drain = scontrol_drain;
  sides[0].pass = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
  sides[0].deadline_s = 60;
  sides[1].name = "simslurm";
  sides[1].api = &sim;
  sides[1].set_drain = [&](const std::string& n, bool d) {
    return d ? sim.drain_node(n, "conformance") : sim.resume_node(n);
  };
  // The simulation keeps up with the wall clock (and a second further per poll), so a time
  // limit ends on it no later than on the real side.
  sides[1].pass = [&](double) { sim.advance_to(std::max(wall(), sim.now() + 1)); };
  sides[1].deadline_s = 180;
  auto out = conformance::run(sides);
  for (const auto& p : out.passed) std::printf("ok   - %s\n", p.c_str());
  for (const auto& f : out.failed) std::printf("FAIL - %s\n", f.c_str());
  std::printf("%zu passed, %zu failed\n", out.passed.size(), out.failed.size());
  return out.failed.empty() ? 0 : 1;
}
