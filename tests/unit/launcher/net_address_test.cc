// The advertised address, on real interfaces: each case runs in a child process inside a
// network namespace of its own (unshare(CLONE_NEWNET)), with veth pairs and private addresses
// the test creates there. Nothing leaves the namespace, and the namespace ends with the child.
#include "hs/launcher/net_address.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

#include "hs/launcher/process.h"

namespace hs::launcher {
namespace {

using ::testing::HasSubstr;

// Runs `body` in a fresh network namespace after the `ip` commands `setup`; returns what it
// returned, or "SKIP: ..." when namespaces cannot be made here.
std::string in_netns(const std::vector<std::vector<std::string>>& setup,
                     const std::function<std::string()>& body) {
  int fds[2];
  if (pipe(fds) != 0) return "SKIP: pipe";
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::string out;
    if (unshare(CLONE_NEWNET) != 0) {
      out = "SKIP: unshare(CLONE_NEWNET) failed (not root?)";
    } else {
      for (const auto& cmd : setup) {
        std::vector<std::string> argv = {"ip"};
        argv.insert(argv.end(), cmd.begin(), cmd.end());
        auto r = run_capture(argv, std::chrono::seconds(10));
        if (!r.ok()) {
          out = "SETUP FAILED: " + r.error().to_string();
          break;
        }
      }
      if (out.empty()) out = body();
    }
    (void)!write(fds[1], out.data(), out.size());
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return out;
}

std::string pick(const std::string& explicit_address, const std::string& peer) {
  auto a = pick_advertise_address(explicit_address, peer);
  return a.ok() ? *a : "ERROR " + a.error().to_string();
}

const std::vector<std::vector<std::string>> kOneVeth = {
    {"link", "set", "lo", "up"},
    {"link", "add", "hs0", "type", "veth", "peer", "name", "hs0p"},
    {"addr", "add", "10.77.0.2/24", "dev", "hs0"},
    {"link", "set", "hs0", "up"},
    {"link", "set", "hs0p", "up"}};

#define SKIP_UNLESS_RAN(out) \
  if ((out).rfind("SKIP", 0) == 0) GTEST_SKIP() << (out)

TEST(NetAddress, NeverLoopbackWhenAnotherInterfaceIsUp) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
  std::string out = in_netns(kOneVeth, [] {
    return pick("", "") + "|" + pick("", "127.0.0.1") + "|" + pick("", "10.77.0.9");
  });
  SKIP_UNLESS_RAN(out);
  // No peer, a peer on loopback (daemon on this node), a peer on the fabric: the fabric IP.
  EXPECT_EQ(out, "10.77.0.2|10.77.0.2|10.77.0.2");
}

TEST(NetAddress, TheInterfaceThatRoutesToThePeerWins) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
  auto setup = kOneVeth;
  for (std::vector<std::string> c :
       {std::vector<std::string>{"link", "add", "hs1", "type", "veth", "peer", "name", "hs1p"},
        {"addr", "add", "10.88.0.2/24", "dev", "hs1"},
        {"link", "set", "hs1", "up"},
        {"link", "set", "hs1p", "up"}})
    setup.push_back(c);
  std::string out =
      in_netns(setup, [] { return pick("", "10.88.0.5") + "|" + pick("", "10.77.0.5"); });
  SKIP_UNLESS_RAN(out);
  EXPECT_EQ(out, "10.88.0.2|10.77.0.2");
}

TEST(NetAddress, OnlyLoopbackAndNoPeerIsRefusedNamingTheInterfaces) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
  std::string out = in_netns({{"link", "set", "lo", "up"}}, [] { return pick("", ""); });
  SKIP_UNLESS_RAN(out);
  EXPECT_THAT(out, HasSubstr("ERROR"));
  EXPECT_THAT(out, HasSubstr("lo=127.0.0.1"));
  EXPECT_THAT(out, HasSubstr("--advertise"));
  // A single-host setup with the daemon on loopback may advertise loopback: peers are local.
  std::string local = in_netns({{"link", "set", "lo", "up"}}, [] { return pick("", "127.0.0.1"); });
  EXPECT_EQ(local, "127.0.0.1");
}

TEST(NetAddress, ExplicitAddressMustBeAnIp) {
  EXPECT_EQ(pick("10.1.2.3", "whatever"), "10.1.2.3");
  EXPECT_THAT(pick("node7.cluster", ""), HasSubstr("not a host name"));
  EXPECT_THAT(pick("0.0.0.0", ""), HasSubstr("bind address"));
}

}  // namespace
}  // namespace hs::launcher
